/**
 * The batch CLI at scale (issue 17), a real CLI process against the fake server in this process: N prompts at
 * 100 requests/s with a burst of 10 and 20 ms latency, `--rpm 6000 --concurrency 64` (told the quota) or
 * `--rpm 5700` (95% of it): CPU per call of the CLI process (journal, progress and summary included), its peak
 * RSS, the span over the ideal `(N − 10) / 100 s`, and the 429s. And the memory of resuming (issue 14): a
 * 400,000-line input whose first 390,000 ids the results file already holds, against a server with no limit.
 * Both run the compiled CLI (`./support/builtCli.ts`), as installed, not the sources through a TypeScript loader.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Effect from "effect/Effect"
import { FakeGrok } from "../src/testing/index.js"
import { builtCliBin } from "./support/builtCli.js"
import { runMeasured } from "./support/child.js"

export interface CliRun {
  readonly calls: number
  readonly rpm: number
  readonly exitCode: number | null
  readonly cpuMillisPerCall: number
  readonly peakRssMiB: number
  readonly spanOverIdeal: number
  readonly answers429: number
}

export interface ResumeRun {
  readonly lines: number
  readonly done: number
  readonly exitCode: number | null
  readonly peakRssMiB: number
  readonly seconds: number
}

const promptLine = (i: number) => JSON.stringify({ id: `id-${i}`, prompt: `Prompt number ${i}: tell me a fact.` })

const writeLines = async (file: string, count: number, line: (i: number) => string) => {
  const stream = Fs.createWriteStream(file)
  for (let i = 0; i < count; i++) {
    if (!stream.write(line(i) + "\n")) await new Promise<void>((resolve) => stream.once("drain", () => resolve()))
  }
  await new Promise((resolve) => stream.end(resolve))
}

/** `CLI_CPU_PROF=DIR` writes a CPU profile of the CLI process to DIR (node's `--cpu-prof`), for the profile of a case. */
const profileArgs = () => (process.env.CLI_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.CLI_CPU_PROF}`] : [])

const cliArgs = (bin: string, input: string, output: string, url: string, rpm: number) => [
  ...profileArgs(),
  ...[bin, "batch", input, "--output", output, "--base-url", url],
  ...["--rpm", String(rpm), "--concurrency", "64", "--quiet"]
]

const BURST = 10
const RATE = 100

export const runCliScale = async (calls: number, rpm: number): Promise<CliRun> => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "grok-bench-cli-"))
  const server = await FakeGrok.start({ requestsPerSecond: RATE, burst: BURST, latencyMillis: 20 })
  try {
    const input = Path.join(dir, "in.jsonl")
    await writeLines(input, calls, promptLine)
    const bin = await builtCliBin()
    const usage = await runMeasured(
      cliArgs(bin, input, Path.join(dir, "out.jsonl"), server.url, rpm),
      { XAI_API_KEY: server.apiKey, NO_COLOR: "1" },
      { compiled: true }
    )
    const arrivals = (await Effect.runPromise(server.arrivals)).filter((a) => a.path === "/v1/chat/completions")
    const accepted = arrivals.filter((a) => a.status === 200)
    const span = (accepted[accepted.length - 1]?.atMillis ?? 0) - (arrivals[0]?.atMillis ?? 0)
    return {
      calls,
      rpm,
      exitCode: usage.code,
      cpuMillisPerCall: usage.cpuMillis / calls,
      peakRssMiB: usage.peakRssMiB,
      spanOverIdeal: span / 1000 / ((calls - BURST) / RATE),
      answers429: arrivals.filter((a) => a.status === 429).length
    }
  } finally {
    await server.close()
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** A results line of the CLI's journal for an id that finished. */
const doneLine = (i: number) =>
  JSON.stringify({
    id: `id-${i}`,
    ok: true,
    content: `echo: Prompt number ${i}: tell me a fact.`,
    usage: { prompt_tokens: 12, completion_tokens: 12, total_tokens: 24 },
    attempts: 1,
    requestId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`
  })

export const runCliResume = async (lines = 400_000, done = 390_000): Promise<ResumeRun> => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "grok-bench-resume-"))
  const server = await FakeGrok.start({})
  try {
    const input = Path.join(dir, "in.jsonl")
    const output = Path.join(dir, "out.jsonl")
    await writeLines(input, lines, promptLine)
    await writeLines(output, done, doneLine)
    const bin = await builtCliBin()
    const usage = await runMeasured(
      cliArgs(bin, input, output, server.url, 6_000_000),
      { XAI_API_KEY: server.apiKey, NO_COLOR: "1" },
      { compiled: true }
    )
    return { lines, done, exitCode: usage.code, peakRssMiB: usage.peakRssMiB, seconds: usage.wallSeconds }
  } finally {
    await server.close()
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1]?.endsWith("cli-scale.ts")) {
  const [what, a, b] = process.argv.slice(2)
  const job =
    what === "resume"
      ? runCliResume(Number(a ?? 400_000), Number(b ?? 390_000))
      : runCliScale(Number(a ?? 3000), Number(b ?? 6000))
  job.then((result) => console.log(JSON.stringify(result)))
}
