/**
 * The help page and the version line of `grok-resilience`, in the CLI's own manner: usage lines that start with
 * the executable's name, one line of ours for each option (its meaning and default), and plain text unless the
 * stream is a terminal that takes colour.
 *
 * @since 0.1.0
 */
import type * as BuiltInOptions from "@effect/cli/BuiltInOptions"
import type * as CliConfig from "@effect/cli/CliConfig"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Span from "@effect/cli/HelpDoc/Span"
import * as Usage from "@effect/cli/Usage"
import * as Doc from "@effect/printer/Doc"
import * as Arr from "effect/Array"
import * as Option from "effect/Option"

/**
 * Renders a document: styled for a terminal that takes colour, plain text otherwise.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (doc: HelpDoc.HelpDoc, styled: boolean): string =>
  styled ? HelpDoc.toAnsiText(doc) : Doc.render(Doc.unAnnotate(HelpDoc.toAnsiDoc(doc)), { style: "pretty" })

const blocksOf = (doc: HelpDoc.HelpDoc): Array<HelpDoc.HelpDoc> =>
  HelpDoc.isSequence(doc) ? [...blocksOf(doc.left), ...blocksOf(doc.right)] : HelpDoc.isEmpty(doc) ? [] : [doc]

/** @effect/cli's closing notes of an optional or a repeatable option: our own line says both. */
const isOptionalNote = (doc: HelpDoc.HelpDoc): boolean =>
  HelpDoc.isParagraph(doc) &&
  Span.isText(doc.value) &&
  (doc.value.value.startsWith("This setting is optional") || doc.value.value.startsWith("This option may be repeated"))

/**
 * Puts the command's help in our manner. @effect/cli opens every option's and argument's entry with the type of the
 * value ("A user-defined piece of text.") and closes an optional one with "This setting is optional." (a repeatable
 * one with "This option may be repeated zero or more times."): our own line already says what the value is, its
 * default and that it repeats, so only it stays. Its list of subcommands (the one enumeration) names them without
 * the executable: each line gets it in front.
 */
const inOurManner = (doc: HelpDoc.HelpDoc, executable: string): HelpDoc.HelpDoc => {
  if (HelpDoc.isSequence(doc)) {
    return HelpDoc.sequence(inOurManner(doc.left, executable), inOurManner(doc.right, executable))
  }
  if (HelpDoc.isEnumeration(doc)) {
    return HelpDoc.enumeration(
      Arr.map(doc.elements, (element) =>
        HelpDoc.isParagraph(element) ? HelpDoc.p(Span.concat(Span.text(`${executable} `), element.value)) : element
      )
    )
  }
  if (!HelpDoc.isDescriptionList(doc)) return doc
  return HelpDoc.descriptionList(
    Arr.map(doc.definitions, ([span, block]): [Span.Span, HelpDoc.HelpDoc] => [
      span,
      HelpDoc.blocks(
        blocksOf(block)
          .slice(1)
          .filter((b) => !isOptionalNote(b))
      )
    ])
  )
}

/** The options @effect/cli adds to every command, described once at the end of the page. */
const builtIns = HelpDoc.sequence(
  HelpDoc.h1("BUILT-IN OPTIONS"),
  HelpDoc.descriptionList([
    [Span.text("-h, --help"), HelpDoc.p("Show this help and exit")],
    [Span.text("--version"), HelpDoc.p("Print the version of grok-resilience-cli and exit")],
    [
      Span.text("--log-level LEVEL"),
      HelpDoc.p(
        "Log from LEVEL up (all, trace, debug, info, warning, error, fatal, none), logfmt on stderr " +
          "(default: only run-wide warnings)"
      )
    ],
    [Span.text("--completions SHELL"), HelpDoc.p("Print a completion script for sh, bash, fish or zsh and exit")],
    [Span.text("--wizard"), HelpDoc.p("Build the command line by answering questions (on a terminal)")]
  ])
)

const plainText = (span: Span.Span): string => render(HelpDoc.p(span), false).trim()

/** The usage lines, each starting with the executable: @effect/cli starts a subcommand's with its own name. */
const usageLines = (usage: Usage.Usage, executable: string, config: CliConfig.CliConfig): Array<HelpDoc.HelpDoc> => {
  const lines = Usage.enumerate(usage, config)
  const named = lines.every((line) => plainText(line) === executable || plainText(line).startsWith(`${executable} `))
  const full = named ? lines : Usage.enumerate(Usage.concat(Usage.named([executable], Option.none()), usage), config)
  return full.map((line) => HelpDoc.p(line))
}

/**
 * The page for `--help`: name and version, usage, the command's description, arguments and options, and the
 * built-in options.
 *
 * @since 0.1.0
 * @category rendering
 */
export const page = (
  help: BuiltInOptions.ShowHelp,
  app: { readonly executable: string; readonly version: string },
  config: CliConfig.CliConfig
): HelpDoc.HelpDoc =>
  HelpDoc.blocks([
    HelpDoc.p(`${app.executable} ${app.version}`),
    HelpDoc.h1("USAGE"),
    ...usageLines(help.usage, app.executable, config),
    inOurManner(help.helpDoc, app.executable),
    builtIns
  ])
