/**
 * Profiling aid (not a row of `npm run bench`): the batch CLI's own CPU per call, no socket and no rate limit. A
 * whole `batch` run (journal, tally, progress rules, the call handler, the input stream) over a fetch answered in
 * memory, beside the library alone making the same calls with the same client options. The difference is what the
 * CLI adds to each call. Run: `npx tsx bench/cli-overhead.ts [batch|lib] [calls]`. When `globalThis.__eff` holds
 * counters (an instrumented copy of Effect's run loop), they are printed per call.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { GrokClient, RateLimiter, RetryPolicy } from "grok-resilience"
import * as Batch from "../cli/src/batch.js"
import { defaults, type BatchConfig } from "../cli/src/options.js"

let served = 0
/** An answer in memory, shaped as the fake server's: an echo of the prompt with usage and a request id. */
const memoryFetch: typeof globalThis.fetch = async (_url, init) => {
  const body = JSON.parse(new TextDecoder().decode(init?.body as Uint8Array)) as {
    readonly model: string
    readonly messages: ReadonlyArray<{ readonly content: string }>
  }
  const text = JSON.stringify({
    id: `c${served}`,
    object: "chat.completion",
    created: 1,
    model: body.model,
    choices: [{ index: 0, message: { role: "assistant", content: `echo: ${body.messages[0]?.content}` } }],
    usage: { prompt_tokens: 12, completion_tokens: 12, total_tokens: 24 }
  })
  const requestId = `00000000-0000-4000-8000-${String(served++).padStart(12, "0")}`
  // With its length, as the fake server (node:http) sends it: the library reads such a body whole.
  const headers = {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
    "x-request-id": requestId
  }
  return new Response(text, { headers })
}

const prompt = (i: number) => `Prompt number ${i}: tell me a fact.`
const CONCURRENCY = 64
const RPM = 60_000_000

const config = (input: string, output: string): BatchConfig => ({
  input,
  output,
  baseUrl: Option.some("http://memory.invalid/v1"),
  apiKey: Option.some(Redacted.make("xai-memory")),
  fake: false,
  fakeScenario: Option.none(),
  model: defaults.model,
  fallbackModels: [],
  concurrency: CONCURRENCY,
  rpm: Option.some(RPM),
  tpm: Option.none(),
  maxAttempts: defaults.maxAttempts,
  maxWait: Duration.seconds(60),
  timeout: Duration.seconds(120),
  grace: Duration.seconds(5),
  giveUpAfter: Duration.minutes(10),
  api: "chat",
  stream: false,
  idleTimeout: Duration.seconds(120),
  redis: Option.none(),
  limiterKey: defaults.limiterKey,
  jsonSummary: false,
  retryFailed: false,
  fresh: true,
  quiet: true,
  verbose: false,
  via: "sync",
  cancel: false,
  chunkSize: 1
})

/** A whole batch run of `calls` prompts, as `grok-resilience batch --quiet` makes it. */
const batch = (calls: number) =>
  Effect.suspend(() => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "grok-bench-overhead-"))
    const input = Path.join(dir, "in.jsonl")
    Fs.writeFileSync(
      input,
      Array.from({ length: calls }, (_, i) => `${JSON.stringify({ id: `id-${i}`, prompt: prompt(i) })}\n`).join("")
    )
    const silent = { stdout: () => undefined, stderr: () => undefined, stderrTakesEscapes: false }
    return Batch.run(config(input, Path.join(dir, "out.jsonl")), silent).pipe(
      Effect.ensuring(Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
    )
  })

/** The library alone: the same client options and limiter as the batch run's, the same calls. */
const lib = (calls: number) =>
  Effect.gen(function* () {
    const grok = yield* GrokClient.GrokClient
    yield* Effect.forEach(
      Array.from({ length: calls }, (_, i) => i),
      (i) => grok.chat({ model: defaults.model, messages: [{ role: "user", content: prompt(i) }] }),
      { concurrency: CONCURRENCY, discard: true }
    )
  }).pipe(
    Effect.provide(
      GrokClient.layer({
        apiKey: Redacted.make("xai-memory"),
        baseUrl: "http://memory.invalid/v1",
        retry: RetryPolicy.make({ maxAttempts: defaults.maxAttempts, maxWait: Duration.seconds(60) }),
        attemptTimeout: Duration.seconds(120),
        idleTimeout: Duration.seconds(120),
        fallbackModels: []
      }).pipe(
        Layer.provide(FetchHttpClient.layer),
        Layer.provide(RateLimiter.layer({ requestsPerMinute: RPM, maxConcurrency: CONCURRENCY, key: "grok" })),
        Layer.orDie
      )
    )
  )

const [side = "batch", count = "3000"] = process.argv.slice(2)
const calls = Number(count)
const program = (n: number) =>
  (side === "lib" ? Effect.orDie(lib(n)) : Effect.orDie(batch(n))).pipe(
    Effect.provideService(FetchHttpClient.Fetch, memoryFetch),
    Logger.withMinimumLogLevel(LogLevel.Warning)
  )
const counters = globalThis as { __eff?: Record<string, number> }
await Effect.runPromise(program(500))
if (counters.__eff !== undefined) counters.__eff = {}
const before = process.cpuUsage()
await Effect.runPromise(program(calls))
const used = process.cpuUsage(before)
if (counters.__eff !== undefined)
  console.log(
    Object.entries(counters.__eff)
      .map(([k, v]) => `${k}=${(v / calls).toFixed(1)}`)
      .join(" ")
  )
console.log(side, calls, (((used.user + used.system) / 1000 / calls) * 1000).toFixed(1), "µs/call")
