/**
 * CPU per call against a zero-latency fake server in another process: this library's `chat` beside the anchor,
 * raw `@effect/platform` `HttpClient` (the same request and a JSON decode of the answer), sequentially, at
 * concurrency 32, and at concurrency 32 with a `RateLimiter` that never binds. Each side runs alternately, twice, so
 * that the spread of the anchor between its two runs states the machine's noise.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { GrokClient, RateLimiter } from "../src/index.js"
import { startRemoteServer } from "./support/child.js"

export interface CpuRun {
  readonly mode: "sequential" | "concurrency 32" | "concurrency 32, RateLimiter"
  /** CPU milliseconds per call of the anchor and of this library, one entry per run. */
  readonly rawMillis: ReadonlyArray<number>
  readonly grokMillis: ReadonlyArray<number>
}

const body = (i: number) => ({ model: "grok-4", messages: [{ role: "user" as const, content: `cpu call ${i}` }] })

const cpuPerCall = async (calls: number, program: Effect.Effect<unknown>): Promise<number> => {
  const before = process.cpuUsage()
  await Effect.runPromise(program)
  const used = process.cpuUsage(before)
  return (used.user + used.system) / 1000 / calls
}

export const rawCallsFor = (target: { url: string; apiKey: string }, calls: number, concurrency: number) =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const one = (i: number) =>
      HttpClientRequest.post(`${target.url}/chat/completions`).pipe(
        HttpClientRequest.bearerToken(target.apiKey),
        HttpClientRequest.bodyUnsafeJson(body(i)),
        client.execute,
        Effect.flatMap((response) => response.json),
        Effect.scoped
      )
    yield* Effect.forEach(
      Array.from({ length: calls }, (_, i) => i),
      one,
      { concurrency, discard: true }
    )
  }).pipe(Effect.provide(FetchHttpClient.layer), Effect.orDie)

export const grokCallsFor = (
  target: { url: string; apiKey: string },
  calls: number,
  concurrency: number,
  limited: boolean
) =>
  Effect.gen(function* () {
    const grok = yield* GrokClient.GrokClient
    yield* Effect.forEach(
      Array.from({ length: calls }, (_, i) => i),
      (i) => grok.chat(body(i)),
      {
        concurrency,
        discard: true
      }
    )
  }).pipe(
    Effect.provide(
      GrokClient.layer({ apiKey: Redacted.make(target.apiKey), baseUrl: target.url }).pipe(
        Layer.provide(
          Layer.merge(
            FetchHttpClient.layer,
            limited ? RateLimiter.layer({ requestsPerSecond: 1_000_000, burst: 1_000_000 }) : RateLimiter.layerUnlimited
          )
        )
      )
    ),
    Logger.withMinimumLogLevel(LogLevel.None),
    Effect.orDie
  )

/** Calls of each kind run before measuring. */
const WARM_UP_CALLS = 1_500

export const runCpu = async (calls = 2000): Promise<ReadonlyArray<CpuRun>> => {
  const server = await startRemoteServer({})
  try {
    const modes = [
      { mode: "sequential", concurrency: 1, limited: false, calls: Math.round(calls / 2) },
      { mode: "concurrency 32", concurrency: 32, limited: false, calls },
      { mode: "concurrency 32, RateLimiter", concurrency: 32, limited: true, calls }
    ] as const
    // Warm-up, the same for both sides: the first calls load the HTTP stack and leave the JIT compiler to optimise
    // it. 300 calls were not enough for the larger call path (one process fell from 4.8 to 2.1 ms a call over its
    // first 4,500 calls), so the rows measured compilation rather than the steady state of a long-lived client.
    for (const concurrency of [1, 32]) {
      await Effect.runPromise(rawCallsFor(server, WARM_UP_CALLS, concurrency))
      await Effect.runPromise(grokCallsFor(server, WARM_UP_CALLS, concurrency, false))
      await Effect.runPromise(grokCallsFor(server, WARM_UP_CALLS, concurrency, true))
    }
    const runs: Array<CpuRun> = []
    for (const { mode, concurrency, limited, calls: n } of modes) {
      const rawMillis: Array<number> = []
      const grokMillis: Array<number> = []
      for (let round = 0; round < 2; round++) {
        rawMillis.push(await cpuPerCall(n, rawCallsFor(server, n, concurrency)))
        grokMillis.push(await cpuPerCall(n, grokCallsFor(server, n, concurrency, limited)))
      }
      runs.push({ mode, rawMillis, grokMillis })
    }
    return runs
  } finally {
    await server.close()
  }
}

if (process.argv[1]?.endsWith("cpu.ts")) {
  runCpu(Number(process.argv[2] ?? 2000)).then((runs) => console.log(JSON.stringify(runs, null, 1)))
}
