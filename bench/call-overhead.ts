/**
 * Profiling aid (not a row of `npm run bench`): the library's own CPU per call over Effect's fetch client and a
 * fetch that answers from memory, no socket, beside the raw client making the same request. Free of the transport's noise, it shows what a change to
 * the call path buys. Run: `npx tsx bench/call-overhead.ts [raw|grok|limited] [concurrency] [calls]`; with
 * `NOBREAKER=1` the client has no breaker. When `globalThis.__eff` holds counters (an instrumented copy of Effect's
 * run loop), they are printed per call. The library is the built one (`support/builtLibrary.ts`; `BENCH_FROM_SOURCES=1`
 * for the sources).
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { builtLibrary } from "./support/builtLibrary.js"

// The fake server's answer (bench/support/fake-server.ts), so that the decode costs what it costs over the socket.
const answer = JSON.stringify({
  id: "bed57a38-fe25-4a87-90db-9f0ba990c522",
  object: "chat.completion",
  created: 1796210047,
  model: "grok-4",
  choices: [
    {
      index: 0,
      message: { role: "assistant", content: "echo: cpu call 1", reasoning_content: null, refusal: null },
      finish_reason: "stop"
    }
  ],
  usage: {
    prompt_tokens: 4,
    completion_tokens: 4,
    total_tokens: 8,
    prompt_tokens_details: { text_tokens: 4, audio_tokens: 0, image_tokens: 0, cached_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0
    },
    num_sources_used: 0,
    cost_in_usd_ticks: 720000
  },
  system_fingerprint: "fp_fakegrok01"
})
const headers = {
  "content-type": "application/json",
  "x-request-id": "2a1a88a0-81b4-4144-947c-49a654553d56",
  "content-length": String(Buffer.byteLength(answer))
}
// Effect's fetch client over a fetch that answers from memory: the request and answer objects are the real ones
// (and the library's attempt goes through the context's fetch as it does over a socket), without the socket.
const memoryFetch: typeof globalThis.fetch = () => Promise.resolve(new Response(answer, { status: 200, headers }))
const layer = Layer.merge(FetchHttpClient.layer, Layer.succeed(FetchHttpClient.Fetch, memoryFetch))
const { GrokClient, RateLimiter } = await builtLibrary()
const body = (i: number) => ({ model: "grok-4", messages: [{ role: "user" as const, content: `cpu call ${i}` }] })
const [side = "grok", conc = "1", calls = "20000"] = process.argv.slice(2)
const counters = globalThis as { __eff?: Record<string, number> }
const raw = (n: number) =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    yield* Effect.forEach(
      Array.from({ length: n }, (_, i) => i),
      (i) =>
        HttpClientRequest.post(`http://x/v1/chat/completions`).pipe(
          HttpClientRequest.bearerToken("k"),
          HttpClientRequest.bodyUnsafeJson(body(i)),
          client.execute,
          Effect.flatMap((r) => r.json),
          Effect.scoped
        ),
      { concurrency: Number(conc), discard: true }
    )
  }).pipe(Effect.provide(layer), Effect.orDie)
const grok = (n: number) =>
  Effect.gen(function* () {
    const g = yield* GrokClient.GrokClient
    yield* Effect.forEach(
      Array.from({ length: n }, (_, i) => i),
      (i) => g.chat(body(i)),
      { concurrency: Number(conc), discard: true }
    )
  }).pipe(
    Effect.provide(
      GrokClient.layer({
        apiKey: Redacted.make("k"),
        baseUrl: "http://x/v1",
        ...(process.env.NOBREAKER ? { breaker: false } : {})
      }).pipe(
        Layer.provide(
          Layer.merge(
            layer,
            side === "limited" ? RateLimiter.layer({ requestsPerSecond: 1e6, burst: 1e6 }) : RateLimiter.layerUnlimited
          )
        )
      )
    ),
    Logger.withMinimumLogLevel(LogLevel.None),
    // In the calls' own context, as the raw side has it: a fetch given only to the HttpClient's layer would keep
    // the library's attempts on the raced timeout (src/internal/pipeline/fetchTimer.ts).
    Effect.provideService(FetchHttpClient.Fetch, memoryFetch),
    Effect.orDie
  )
const program = side === "raw" ? raw : grok
await Effect.runPromise(program(5000))
if (counters.__eff !== undefined) counters.__eff = {}
const before = process.cpuUsage()
await Effect.runPromise(program(Number(calls)))
const used = process.cpuUsage(before)
if (counters.__eff !== undefined)
  console.log(
    Object.entries(counters.__eff)
      .map(([k, v]) => `${k}=${(v / Number(calls)).toFixed(1)}`)
      .join(" ")
  )
console.log(side, conc, (((used.user + used.system) / 1000 / Number(calls)) * 1000).toFixed(1), "µs/call")
