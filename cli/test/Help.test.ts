import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Span from "@effect/cli/HelpDoc/Span"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Help from "../src/help.js"
import { batchOptions } from "../src/options.js"
import { takesEscapes } from "../src/terminal.js"
import { disposeCli, runCli, tempDir } from "./support.js"

afterAll(() => disposeCli())

const ESC = "\x1b"

/** The entries of a section of a help page: each heading line and the description lines under it. */
const entries = (page: string, section: string): Array<{ readonly heading: string; readonly lines: Array<string> }> => {
  const start = page.indexOf(`\n${section}\n`)
  expect(start).toBeGreaterThanOrEqual(0)
  const body = page.slice(start + section.length + 2)
  const end = body.search(/\n[A-Z][A-Z -]+\n/)
  const result: Array<{ heading: string; lines: Array<string> }> = []
  for (const line of (end < 0 ? body : body.slice(0, end)).split("\n")) {
    if (line.trim() === "") continue
    if (line.startsWith("  ")) result[result.length - 1]!.lines.push(line.trim())
    else result.push({ heading: line, lines: [] })
  }
  return result
}

const cliVersion = (): string =>
  (JSON.parse(Fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version

describe("grok-resilience help through the real CLI process", () => {
  it.each([
    ["NO_COLOR set", { NO_COLOR: "1" }],
    ["NO_COLOR unset", { NO_COLOR: undefined }]
  ])("prints batch --help to a pipe as plain text, with %s", async (_, env) => {
    const result = await runCli(["batch", "--help"], { env })
    expect(result.code).toBe(0)
    expect(result.stdout).not.toContain(ESC)
    expect(result.stdout).toMatch(/^grok-resilience batch \(-o, --output FILE\) .* <input\.jsonl>$/m)
    expect(result.stdout).not.toContain("$ ")
    expect(result.stdout).not.toContain("A user-defined piece of text")
    expect(result.stdout).not.toContain("This setting is optional")
  })

  it("describes every option and the argument of batch in one line that gives its default", async () => {
    const { stdout } = await runCli(["batch", "--help"])
    const documented = [...entries(stdout, "ARGUMENTS"), ...entries(stdout, "OPTIONS")]
    expect(documented).toHaveLength(Object.keys(batchOptions).length + 1)
    for (const entry of documented) {
      expect(entry.lines, entry.heading).toHaveLength(1)
      expect(entry.lines[0], entry.heading).toMatch(/\((default|required)\b/)
    }
    const builtIn = entries(stdout, "BUILT-IN OPTIONS").map((entry) => entry.heading)
    expect(builtIn).toEqual(["-h, --help", "--version", "--log-level LEVEL", "--completions SHELL", "--wizard"])
  })

  it("shows the overview for --help and for no command at all, naming the executable in every usage line", async () => {
    const bare = await runCli([])
    const help = await runCli(["--help"], { env: { NO_COLOR: undefined } })
    expect(bare.code).toBe(0)
    expect(help.stdout).toBe(bare.stdout)
    expect(help.stdout).not.toContain(ESC)
    expect(help.stdout).toMatch(/^grok-resilience$/m)
    expect(help.stdout).toMatch(/^ {2}- grok-resilience batch \(-o, --output FILE\)/m)
  })

  it("prints the version of the CLI package for --version", async () => {
    const result = await runCli(["--version"], { env: { NO_COLOR: undefined } })
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(`${cliVersion()}\n`)
  })

  it("reports a command line that does not parse on stderr, plain, with exit code 2", async () => {
    const dir = tempDir()
    const output = Path.join(dir, "out.jsonl")
    const result = await runCli(["batch", "in.jsonl", "--output", output, "--timeout", "5q"], {
      env: { NO_COLOR: undefined }
    })
    expect(result.code).toBe(2)
    expect(result.stdout).toBe("")
    expect(result.stderr).toContain('--timeout: expected a duration like 500ms, 30s, 2m or 1h, got "5q"')
    expect(result.stderr).not.toContain(ESC)
    expect(Fs.existsSync(output)).toBe(false)
    Fs.rmSync(dir, { recursive: true, force: true })
  })
})

describe("grok-resilience output styling", () => {
  it("takes escapes only on a terminal with NO_COLOR unset or empty", () => {
    expect(takesEscapes({ isTTY: true }, {})).toBe(true)
    expect(takesEscapes({ isTTY: true }, { NO_COLOR: "" })).toBe(true)
    expect(takesEscapes({ isTTY: true }, { NO_COLOR: "1" })).toBe(false)
    expect(takesEscapes({ isTTY: false }, {})).toBe(false)
    expect(takesEscapes({}, {})).toBe(false)
  })

  it("renders a help page styled for a terminal and as the same text without escapes otherwise", () => {
    const doc = HelpDoc.sequence(HelpDoc.h1("USAGE"), HelpDoc.p(Span.code("grok-resilience batch")))
    const styled = Help.render(doc, true)
    const plain = Help.render(doc, false)
    expect(styled).toContain(ESC)
    expect(plain).toBe("USAGE\n\ngrok-resilience batch\n")
    expect(styled.replace(/\x1b\[[0-9;]*m/g, "")).toBe(plain)
  })
})
