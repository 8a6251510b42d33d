/**
 * CPU per call against a zero-latency fake server in another process: this library's `chat` beside the anchor,
 * raw `@effect/platform` `HttpClient` (the same request and a JSON decode of the answer), sequentially, at
 * concurrency 32, and at concurrency 32 with a `RateLimiter` that never binds. The library is the built package
 * (`dist`, as installed; see `support/builtLibrary.ts`), not the sources through tsx. Each side is a long-lived client (its
 * layer built once, as an application builds it), and each of the two runs alternates the sides in slices, so that
 * a slow moment of the machine, or the garbage one side leaves for the other to collect, falls on both. The spread
 * of the anchor between the two runs states the noise that is left.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { builtLibrary, type Library } from "./support/builtLibrary.js"
import { startRemoteServer } from "./support/child.js"

export interface CpuRun {
  readonly mode: "sequential" | "concurrency 32" | "concurrency 32, RateLimiter"
  /** CPU milliseconds per call of the anchor and of this library, one entry per run. */
  readonly rawMillis: ReadonlyArray<number>
  readonly grokMillis: ReadonlyArray<number>
}

const body = (i: number) => ({ model: "grok-4", messages: [{ role: "user" as const, content: `cpu call ${i}` }] })

/** CPU milliseconds `program` takes, run by `runtime`. */
const cpuOf = async <R>(
  runtime: ManagedRuntime.ManagedRuntime<R, never>,
  program: Effect.Effect<unknown, never, R>
) => {
  const before = process.cpuUsage()
  await runtime.runPromise(program)
  const used = process.cpuUsage(before)
  return (used.user + used.system) / 1000
}

const rawCalls = (target: { url: string; apiKey: string }, calls: number, concurrency: number) =>
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
  }).pipe(Effect.orDie)

const grokCalls = ({ GrokClient }: Library, calls: number, concurrency: number) =>
  Effect.gen(function* () {
    const grok = yield* GrokClient.GrokClient
    yield* Effect.forEach(
      Array.from({ length: calls }, (_, i) => i),
      (i) => grok.chat(body(i)),
      { concurrency, discard: true }
    )
  }).pipe(Logger.withMinimumLogLevel(LogLevel.None), Effect.orDie)

const grokLayer = ({ GrokClient, RateLimiter }: Library, target: { url: string; apiKey: string }, limited: boolean) =>
  GrokClient.layer({ apiKey: Redacted.make(target.apiKey), baseUrl: target.url }).pipe(
    Layer.provide(
      Layer.merge(
        FetchHttpClient.layer,
        limited ? RateLimiter.layer({ requestsPerSecond: 1_000_000, burst: 1_000_000 }) : RateLimiter.layerUnlimited
      )
    )
  )

/** The two sides as long-lived clients, each a function of (calls, concurrency) giving the CPU milliseconds taken. */
export const sidesFor = (library: Library, target: { url: string; apiKey: string }, limited: boolean) => {
  const raw = ManagedRuntime.make(FetchHttpClient.layer)
  const grok = ManagedRuntime.make(Layer.orDie(grokLayer(library, target, limited)))
  return {
    raw: (calls: number, concurrency: number) => cpuOf(raw, rawCalls(target, calls, concurrency)),
    grok: (calls: number, concurrency: number) => cpuOf(grok, grokCalls(library, calls, concurrency)),
    dispose: () => Promise.all([raw.dispose(), grok.dispose()])
  }
}

/** Calls of each kind run before measuring. */
const WARM_UP_CALLS = 1_500

/** Slices of each side in one run, alternating. */
const SLICES = 5

export const runCpu = async (calls = 2000): Promise<ReadonlyArray<CpuRun>> => {
  const library = await builtLibrary()
  const server = await startRemoteServer({})
  const plain = sidesFor(library, server, false)
  const limited = sidesFor(library, server, true)
  try {
    const modes = [
      { mode: "sequential", concurrency: 1, sides: plain, calls: Math.round(calls / 2) },
      { mode: "concurrency 32", concurrency: 32, sides: plain, calls },
      { mode: "concurrency 32, RateLimiter", concurrency: 32, sides: limited, calls }
    ] as const
    // Warm-up, the same for both sides: the first calls load the HTTP stack and leave the JIT compiler to optimise
    // it. 300 calls were not enough for the larger call path (one process fell from 4.8 to 2.1 ms a call over its
    // first 4,500 calls), so the rows measured compilation rather than the steady state of a long-lived client.
    for (const concurrency of [1, 32]) {
      for (const sides of [plain, limited]) {
        await sides.raw(WARM_UP_CALLS, concurrency)
        await sides.grok(WARM_UP_CALLS, concurrency)
      }
    }
    const runs: Array<CpuRun> = []
    for (const { mode, concurrency, sides, calls: n } of modes) {
      const rawMillis: Array<number> = []
      const grokMillis: Array<number> = []
      const slice = Math.max(1, Math.round(n / SLICES))
      for (let round = 0; round < 2; round++) {
        let raw = 0
        let grok = 0
        for (let i = 0; i < SLICES; i++) {
          raw += await sides.raw(slice, concurrency)
          grok += await sides.grok(slice, concurrency)
        }
        rawMillis.push(raw / (slice * SLICES))
        grokMillis.push(grok / (slice * SLICES))
      }
      runs.push({ mode, rawMillis, grokMillis })
    }
    return runs
  } finally {
    await Promise.all([plain.dispose(), limited.dispose()])
    await server.close()
  }
}

if (process.argv[1]?.endsWith("cpu.ts")) {
  runCpu(Number(process.argv[2] ?? 2000)).then((runs) => console.log(JSON.stringify(runs, null, 1)))
}
