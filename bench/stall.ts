/**
 * The event loop with 10,000 library calls queued in the limiter: all calls start at once through one GrokClient
 * and a `RateLimiter` of 100 requests/s over real HTTP to the fake server, a 500 ms timer is set beside them, and
 * after `holdSeconds` every call is interrupted. It reports how late that timer ran, when the first call finished,
 * the longest event-loop stall (wall clock, and the process CPU spent in it, which a loaded machine blurs less),
 * and the heap before, at the peak, with every call queued and after the interruption (after a forced GC when node
 * runs with `--expose-gc`).
 *
 * `runFloor` measures what is not the library's: the same number of bare fibers forked at once the same way, each
 * waiting on a Deferred, so that the stall of forking alone can be told from the calls' own. Run as a script, the
 * probe measures the calls, then the floor in the same process (warmed up as the calls were); `floor` alone
 * measures only the floor. The library is the built one (`support/builtLibrary.ts`).
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import { builtLibrary, builtTesting } from "./support/builtLibrary.js"

export interface StallResult {
  readonly calls: number
  /** How late a timer set for 500 ms ran. */
  readonly timerLateMillis: number
  /** When the calls began to be forked (the client's layer built), from the timer's start. */
  readonly forkedAtMillis: number
  /** When the first call finished; `null` (in JSON) when none did before the interruption. */
  readonly firstCallMillis: number
  readonly maxStallMillis: number
  /** The longest time between two turns of a 10 ms interval, and the process CPU spent in it. */
  readonly maxGapMillis: number
  readonly maxGapCpuMillis: number
  /** The same from the interruption of the calls on (included in the two above), and how long it took. */
  readonly interruptGapMillis: number
  readonly interruptGapCpuMillis: number
  readonly interruptMillis: number
  readonly heapBeforeMiB: number
  readonly heapPeakMiB: number
  /** Just before the interruption, after a GC: the calls still queued and what each holds. */
  readonly queuedAtInterrupt: number
  /** Per call not yet finished at the interruption (queued in the limiter or still being prepared). */
  readonly heapPerQueuedCallKiB: number
  readonly heapAfterMiB: number
}

export interface FloorResult {
  readonly fibers: number
  readonly maxGapMillis: number
  readonly maxGapCpuMillis: number
  /** The longest gap from the interruption of the fibers on, and the CPU spent in it. */
  readonly interruptGapMillis: number
  readonly interruptGapCpuMillis: number
  readonly heapPerFiberKiB: number
}

const heapMiB = () => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) gc()
  return process.memoryUsage().heapUsed / 2 ** 20
}

const cpuMillis = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1000
}

/** The longest gap between two turns of a 10 ms interval, in wall clock and process CPU. */
const gapProbe = () => {
  let last = performance.now()
  let lastCpu = process.cpuUsage()
  const gaps = { wall: 0, cpu: 0 }
  const interval = setInterval(() => {
    const now = performance.now()
    gaps.wall = Math.max(gaps.wall, now - last)
    gaps.cpu = Math.max(gaps.cpu, cpuMillis(lastCpu))
    last = now
    lastCpu = process.cpuUsage()
  }, 10)
  return { gaps, stop: () => clearInterval(interval) }
}

export const runStall = async (calls = 10_000, holdSeconds = 3): Promise<StallResult> => {
  const { GrokClient, RateLimiter } = await builtLibrary()
  const { FakeGrok } = await builtTesting()
  const server = await FakeGrok.start({})
  const stalls = monitorEventLoopDelay({ resolution: 10 })
  try {
    const live = GrokClient.layer({ apiKey: Redacted.make(server.apiKey), baseUrl: server.url }).pipe(
      Layer.provideMerge(Layer.merge(FetchHttpClient.layer, RateLimiter.layer({ requestsPerSecond: 100, burst: 10 })))
    )
    const heapBeforeMiB = heapMiB()
    let heapPeakMiB = heapBeforeMiB
    let firstCallMillis = Number.NaN
    let finished = 0
    const started = performance.now()
    const timer = new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - started), 500))
    const sampler = setInterval(() => {
      heapPeakMiB = Math.max(heapPeakMiB, process.memoryUsage().heapUsed / 2 ** 20)
    }, 50)
    const gaps = gapProbe()
    stalls.enable()
    let forkedAtMillis = Number.NaN
    const program = Effect.gen(function* () {
      const grok = yield* GrokClient.GrokClient
      forkedAtMillis = performance.now() - started
      const call = (i: number) =>
        Effect.tap(grok.chat({ model: "grok-4", messages: [{ role: "user", content: `queued ${i}` }] }), () =>
          Effect.sync(() => {
            if (finished++ === 0) firstCallMillis = performance.now() - started
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
      const queued = (yield* Effect.flatMap(RateLimiter.RateLimiter, (limiter) => limiter.snapshot)).queued
      // The forced GC is the bench's own pause: not measured as a stall.
      gaps.stop()
      const heapQueuedMiB = heapMiB()
      const outstanding = calls - finished
      const afterGc = gapProbe()
      const interruptAt = performance.now()
      yield* Fiber.interrupt(fiber)
      const interruptMillis = performance.now() - interruptAt
      // One more turn, so that the probe sees the gap the interruption made.
      yield* Effect.sleep("20 millis")
      return { queued, outstanding, heapQueuedMiB, afterGc, interruptMillis }
    })
    const { queued, outstanding, heapQueuedMiB, afterGc, interruptMillis } = await Effect.runPromise(
      program.pipe(Effect.provide(live), Logger.withMinimumLogLevel(LogLevel.None))
    )
    stalls.disable()
    afterGc.stop()
    clearInterval(sampler)
    const timerAt = await timer
    await new Promise((resolve) => setTimeout(resolve, 200))
    return {
      calls,
      timerLateMillis: timerAt - 500,
      forkedAtMillis,
      firstCallMillis,
      maxStallMillis: stalls.max / 1e6,
      maxGapMillis: Math.max(gaps.gaps.wall, afterGc.gaps.wall),
      maxGapCpuMillis: Math.max(gaps.gaps.cpu, afterGc.gaps.cpu),
      interruptGapMillis: afterGc.gaps.wall,
      interruptGapCpuMillis: afterGc.gaps.cpu,
      interruptMillis,
      heapBeforeMiB,
      heapPeakMiB,
      queuedAtInterrupt: queued,
      heapPerQueuedCallKiB: outstanding > 0 ? ((heapQueuedMiB - heapBeforeMiB) * 1024) / outstanding : 0,
      heapAfterMiB: heapMiB()
    }
  } finally {
    await server.close()
  }
}

/** `fibers` bare fibers forked at once as the calls are, each waiting on one Deferred, then interrupted. */
export const runFloor = async (fibers = 10_000): Promise<FloorResult> => {
  const heapBeforeMiB = heapMiB()
  const gaps = gapProbe()
  const { heapWaitingMiB, afterGc } = await Effect.runPromise(
    Effect.gen(function* () {
      const never = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        Effect.forEach(
          Array.from({ length: fibers }, (_, i) => i),
          () => Deferred.await(never),
          { concurrency: "unbounded", discard: true }
        )
      )
      yield* Effect.sleep("500 millis")
      gaps.stop()
      const heap = heapMiB()
      const probe = gapProbe()
      yield* Fiber.interrupt(fiber)
      // One more turn, so that the probe sees the gap the interruption made.
      yield* Effect.sleep("20 millis")
      probe.stop()
      return { heapWaitingMiB: heap, afterGc: probe }
    })
  )
  return {
    fibers,
    maxGapMillis: gaps.gaps.wall,
    maxGapCpuMillis: gaps.gaps.cpu,
    interruptGapMillis: afterGc.gaps.wall,
    interruptGapCpuMillis: afterGc.gaps.cpu,
    heapPerFiberKiB: ((heapWaitingMiB - heapBeforeMiB) * 1024) / fibers
  }
}

/** The calls' stall and, after it in the same process, the floor of as many bare fibers. */
export interface StallWithFloor extends StallResult {
  readonly floor: FloorResult
}

const stallThenFloor = async (calls: number): Promise<StallWithFloor> => {
  const stall = await runStall(calls)
  return { ...stall, floor: await runFloor(calls) }
}

if (process.argv[1]?.endsWith("stall.ts")) {
  const calls = Number(process.argv[2] ?? 10_000)
  const run = process.argv[3] === "floor" ? runFloor(calls) : stallThenFloor(calls)
  run.then(
    (result) => console.log(JSON.stringify(result)),
    (error) => {
      console.error(error)
      process.exitCode = 1
    }
  )
}
