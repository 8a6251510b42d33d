/**
 * Harness of the CLI process tests: the CLI compiled once per test file (esbuild, a bundle of the CLI's and the
 * library's sources, which the tsconfig paths map `grok-resilience` to; `node --import tsx` when esbuild is
 * missing), spawned as a real process, and helpers to read its results file.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { FakeGrok } from "grok-resilience/testing"

/** The repository root (the working directory of the CLI processes). */
const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")

let built: Promise<ReadonlyArray<string>> | undefined
let bundle: string | undefined

/** The node arguments that start the CLI: a bundle of `cli/src/bin.ts`, loading packages from node_modules. */
export const cliCommand = (): Promise<ReadonlyArray<string>> => {
  built ??= (async () => {
    try {
      const esbuild = await import("esbuild")
      const dir = Path.join(root, "node_modules", ".cache", "grok-resilience-cli-test")
      Fs.mkdirSync(dir, { recursive: true })
      const outfile = Path.join(dir, `cli-${process.pid}-${Date.now()}.mjs`)
      await esbuild.build({
        entryPoints: [Path.join(root, "cli/src/bin.ts")],
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        packages: "external",
        outfile,
        logLevel: "error"
      })
      bundle = outfile
      return [outfile]
    } catch {
      return ["--import", "tsx", Path.join(root, "cli/src/bin.ts")]
    }
  })()
  return built
}

/** Deletes the bundle built by `cliCommand`. */
export const disposeCli = (): void => {
  if (bundle !== undefined) Fs.rmSync(bundle, { force: true })
  bundle = undefined
  built = undefined
}

/** An environment without the caller's xAI settings, so that a developer's real key never reaches a test. */
const cleanEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" }
  delete env.XAI_API_KEY
  delete env.XAI_BASE_URL
  return env
}

export interface Finished {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface Running {
  readonly child: ChildProcess
  readonly done: Promise<Finished>
}

/**
 * The node arguments that run the CLI from its sources in one process, with tsx as a loader. (The `tsx` command
 * itself is a wrapper process; it does not reliably relay SIGTERM to its child.)
 */
export const tsxLoaderCommand: ReadonlyArray<string> = ["--import", "tsx", Path.join(root, "cli/src/bin.ts")]

export interface StartOptions {
  /** A variable set to `undefined` here is unset. */
  readonly env?: NodeJS.ProcessEnv
  readonly timeoutMillis?: number
  /** Node arguments before the CLI's own; default `cliCommand()`. */
  readonly command?: ReadonlyArray<string>
}

/** Starts the CLI with these arguments (after `grok-resilience`). */
export const startCli = async (args: ReadonlyArray<string>, options: StartOptions = {}): Promise<Running> => {
  const command = options.command ?? (await cliCommand())
  const env = { ...cleanEnv(), ...options.env }
  for (const name of Object.keys(env)) if (env[name] === undefined) delete env[name]
  const child = spawn(process.execPath, [...command, ...args], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMillis ?? 20_000)
  const done = new Promise<Finished>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
  return { child, done }
}

/** Runs the CLI to the end. */
export const runCli = async (args: ReadonlyArray<string>, options: StartOptions = {}): Promise<Finished> =>
  (await startCli(args, options)).done

/** A fresh temporary directory. */
export const tempDir = (): string => Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "grok-cli-")))

/** Writes input lines: objects are serialised, strings written as they are. */
export const writeInput = (path: string, lines: ReadonlyArray<unknown>): string => {
  Fs.writeFileSync(
    path,
    lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n") + "\n"
  )
  return path
}

/** `n` prompts with ids `p0`… and prompts `prompt p0`…. */
export const prompts = (n: number, prefix = "p"): Array<{ id: string; prompt: string }> =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, prompt: `prompt ${prefix}${i}` }))

export interface ResultLine {
  readonly id: string | number | null
  readonly line?: number
  readonly ok: boolean
  readonly content?: string | null
  readonly attempts: number
  readonly fallbackModel?: string
  readonly error?: { readonly _tag: string; readonly message: string; readonly reason?: string }
  readonly [key: string]: unknown
}

/** The results file's lines; throws on a torn or unparsable line unless `allowTornLast`. */
export const readResults = (path: string, options: { readonly allowTornLast?: boolean } = {}): Array<ResultLine> => {
  if (!Fs.existsSync(path)) return []
  const text = Fs.readFileSync(path, "utf8")
  const lines = text.split("\n")
  const last = lines.pop()
  if (last !== "" && last !== undefined && !options.allowTornLast) throw new Error(`torn last line: ${last}`)
  return lines.map((line) => JSON.parse(line) as ResultLine)
}

/** Complete lines in a file, tolerating a torn last line. */
export const completeLines = (path: string): number =>
  Fs.existsSync(path) ? readResults(path, { allowTornLast: true }).length : 0

/** Polls (real time, test harness only) until `ready` holds. */
export const waitUntil = async (what: string, ready: () => boolean, timeoutMillis = 10_000): Promise<void> => {
  const until = Date.now() + timeoutMillis
  while (!ready()) {
    if (Date.now() > until) throw new Error(`${what}: not within ${timeoutMillis} ms`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Polls (real time, test harness only) until the file holds at least `n` complete lines. */
export const waitForLines = (path: string, n: number, timeoutMillis = 10_000): Promise<void> =>
  waitUntil(`${path} reaching ${n} lines`, () => completeLines(path) >= n, timeoutMillis)

/** How many times each id occurs. */
export const idCounts = (results: ReadonlyArray<ResultLine>): Map<unknown, number> => {
  const counts = new Map<unknown, number>()
  for (const result of results) counts.set(result.id, (counts.get(result.id) ?? 0) + 1)
  return counts
}

/** The last line of stdout parsed as JSON (the `--json-summary` line). */
export const jsonSummary = (stdout: string): Record<string, any> => {
  const lines = stdout.trim().split("\n")
  return JSON.parse(lines[lines.length - 1]!) as Record<string, any>
}

/** The fake servers a test file starts, closed together in its `afterAll`. */
export const fakeServers = () => {
  const started: Array<FakeGrok.Started> = []
  return {
    serve: async (scenario: FakeGrok.Scenario = {}): Promise<FakeGrok.Started> => {
      const server = await FakeGrok.start(scenario)
      started.push(server)
      return server
    },
    closeAll: async (): Promise<void> => {
      await Promise.all(started.map((server) => server.close()))
    }
  }
}
