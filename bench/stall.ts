/**
 * The event loop with 10,000 library calls queued in the limiter: all calls start at once through one GrokClient
 * and a `RateLimiter` of 100 requests/s over real HTTP to the fake server, a 500 ms timer is set beside them, and
 * after `holdSeconds` every call is interrupted. It reports how late that timer ran, when the first call finished,
 * the longest event-loop stall, and the heap before, at the peak, and after the interruption (after a forced GC
 * when node runs with `--expose-gc`).
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import { GrokClient, RateLimiter } from "../src/index.js"
import { FakeGrok } from "../src/testing/index.js"

export interface StallResult {
  readonly calls: number
  /** How late a timer set for 500 ms ran. */
  readonly timerLateMillis: number
  /** When the first call finished; `null` (in JSON) when none did before the interruption. */
  readonly firstCallMillis: number
  readonly maxStallMillis: number
  readonly heapBeforeMiB: number
  readonly heapPeakMiB: number
  readonly heapAfterMiB: number
}

const heapMiB = () => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) gc()
  return process.memoryUsage().heapUsed / 2 ** 20
}

export const runStall = async (calls = 10_000, holdSeconds = 3): Promise<StallResult> => {
  const server = await FakeGrok.start({})
  const stalls = monitorEventLoopDelay({ resolution: 10 })
  try {
    const live = GrokClient.layer({ apiKey: Redacted.make(server.apiKey), baseUrl: server.url }).pipe(
      Layer.provide(Layer.merge(FetchHttpClient.layer, RateLimiter.layer({ requestsPerSecond: 100, burst: 10 })))
    )
    const heapBeforeMiB = heapMiB()
    let heapPeakMiB = heapBeforeMiB
    let firstCallMillis = Number.NaN
    const started = performance.now()
    const timer = new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - started), 500))
    const sampler = setInterval(() => {
      heapPeakMiB = Math.max(heapPeakMiB, process.memoryUsage().heapUsed / 2 ** 20)
    }, 50)
    stalls.enable()
    const program = Effect.gen(function* () {
      const grok = yield* GrokClient.GrokClient
      const call = (i: number) =>
        Effect.tap(grok.chat({ model: "grok-4", messages: [{ role: "user", content: `queued ${i}` }] }), () =>
          Effect.sync(() => {
            if (Number.isNaN(firstCallMillis)) firstCallMillis = performance.now() - started
          })
        )
      const fiber = yield* Effect.fork(
        Effect.forEach(
          Array.from({ length: calls }, (_, i) => i),
          call,
          { concurrency: "unbounded", discard: true }
        )
      )
      yield* Effect.sleep(`${holdSeconds} seconds`)
      yield* Fiber.interrupt(fiber)
    })
    await Effect.runPromise(program.pipe(Effect.provide(live), Logger.withMinimumLogLevel(LogLevel.None)))
    stalls.disable()
    clearInterval(sampler)
    const timerAt = await timer
    await new Promise((resolve) => setTimeout(resolve, 200))
    return {
      calls,
      timerLateMillis: timerAt - 500,
      firstCallMillis,
      maxStallMillis: stalls.max / 1e6,
      heapBeforeMiB,
      heapPeakMiB,
      heapAfterMiB: heapMiB()
    }
  } finally {
    await server.close()
  }
}

if (process.argv[1]?.endsWith("stall.ts")) {
  runStall(Number(process.argv[2] ?? 10_000)).then(
    (result) => console.log(JSON.stringify(result)),
    (error) => {
      console.error(error)
      process.exitCode = 1
    }
  )
}
