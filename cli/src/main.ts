/**
 * The `grok-resilience` command line: `batch` runs a file of prompts against Grok, resumably and within quota.
 *
 * @since 0.1.0
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Batch from "./batch.js"
import { ExitCode } from "./errors.js"
import * as Help from "./help.js"
import * as Logging from "./logging.js"
import { type BatchConfig, batchOptions, input } from "./options.js"
import * as Queue from "./queue/command.js"
import { takesEscapes } from "./terminal.js"
import { readVersion } from "./version.js"

const executable = "grok-resilience"

// The built-in options are described once, in our words, at the end of every help page.
const config = CliConfig.make({ showBuiltIns: false })

/** `--via batch-api` loads its modules (and the library's batch client) only when it runs. */
const viaBatchApi = (config: BatchConfig) =>
  Effect.flatMap(
    Effect.promise(() => import("./batchApi.js")),
    (BatchApi) => BatchApi.run(config)
  )

/** What @effect/cli needs of the platform: no command executor, no workers. */
const platform = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)

const make = (setExitCode: (code: number) => void) => {
  const batch = Command.make("batch", { input, ...batchOptions }, (config) =>
    (config.via === "batch-api" ? viaBatchApi(config) : Batch.run(config)).pipe(
      Effect.catchTag("UsageError", (error) =>
        Effect.as(Console.error(`grok-resilience batch: ${error.message}`), ExitCode.usage)
      ),
      Effect.tap((code) => Effect.sync(() => setExitCode(code))),
      Logging.withLogging({
        verbose: config.verbose,
        write: Batch.processIo.stderr,
        tty: Batch.processIo.stderrTakesEscapes
      })
    )
  ).pipe(
    Command.withDescription(
      "Run every prompt of a JSON-lines file through Grok once: rate-limited, retried, resumable. " +
        "Results are appended to --output as they arrive; run the same command again to resume."
    )
  )
  return Command.make(executable).pipe(
    Command.withDescription("Reliable calls to the xAI Grok API. See `grok-resilience batch --help`."),
    Command.withSubcommands([batch, Queue.make(setExitCode)])
  )
}

/**
 * Answers `--help` (or no command at all), `--version` and a command line that does not parse here (the page on
 * stdout, the error on stderr, each plain unless that stream takes colour); `undefined` leaves the command line to
 * @effect/cli's runner.
 */
const answer = (command: ReturnType<typeof make>, args: ReadonlyArray<string>, version: string) =>
  // No command at all asks for the overview.
  Descriptor.parse(command.descriptor, [executable, ...(args.length === 0 ? ["--help"] : args)], config).pipe(
    Effect.flatMap((directive) => {
      if (directive._tag === "UserDefined") return Effect.succeed(undefined)
      switch (directive.option._tag) {
        case "ShowHelp": {
          // A nested subcommand's usage starts with its own name: name the commands above it too.
          const parents = args[0] === "queue" && args[1] !== undefined && !args[1].startsWith("-") ? " queue" : ""
          const page = Help.page(directive.option, { executable: `${executable}${parents}`, version }, config)
          return Effect.as(Console.log(Help.render(page, takesEscapes(process.stdout))), ExitCode.ok)
        }
        case "ShowVersion":
          return Effect.as(Console.log(version), ExitCode.ok)
        default:
          return Effect.succeed(undefined)
      }
    }),
    Effect.catchIf(ValidationError.isValidationError, (error) =>
      Effect.as(Console.error(Help.render(error.error, takesEscapes(process.stderr))), ExitCode.usage)
    )
  )

/**
 * Runs the command line (`argv` as in `process.argv`, node and script first) and resolves to the exit code:
 * 0 all ok, 1 some failed, 2 usage or configuration error. Interruption is left to the caller (exit code 130 after
 * SIGINT, 143 after SIGTERM).
 *
 * @since 0.1.0
 * @category running
 */
export const run = (argv: ReadonlyArray<string>): Effect.Effect<number> => {
  let exitCode: number = ExitCode.ok
  const command = make((code) => (exitCode = code))
  return Effect.sync(readVersion).pipe(
    Effect.flatMap((version) =>
      Effect.flatMap(answer(command, argv.slice(2), version), (answered) =>
        answered !== undefined
          ? Effect.succeed(answered)
          : Command.run(command, { name: executable, version })(argv).pipe(
              Effect.map(() => exitCode),
              Effect.catchIf(ValidationError.isValidationError, () => Effect.succeed(ExitCode.usage))
            )
      )
    ),
    Effect.catchAllCause((cause) =>
      Effect.as(Console.error(`grok-resilience: unexpected failure\n${String(cause)}`), ExitCode.failed)
    ),
    Effect.provide(platform),
    Effect.provideService(CliConfig.CliConfig, config)
  )
}
