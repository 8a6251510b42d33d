/**
 * Profiling aid (not a row of `npm run bench`): what the limiter's own queue costs a waiting caller. `N` callers
 * queue at once behind a limiter that binds (100 requests/s, burst 10), each in a scope of its own as the client's
 * attempts are; beside them the same number of fibers in a scope on `Deferred.await` (`scoped`) and bare
 * (`floor`). It prints the heap per waiter after a forced GC and, when `globalThis.__eff` holds counters
 * (`count-ops.sh on`), the run-loop steps per waiter of interrupting them all. Run:
 * `node --expose-gc --import tsx bench/limiter-queue.ts [limiter|scoped|floor] [N]`.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { performance } from "node:perf_hooks"
import { RateLimiter } from "../src/index.js"

const [mode = "limiter", count = "10000"] = process.argv.slice(2)
const n = Number(count)
const counters = globalThis as { __eff?: Record<string, number>; gc?: () => void }

const heapKiB = () => {
  counters.gc?.()
  return process.memoryUsage().heapUsed / 1024
}

const waiterOf = (limiter: RateLimiter.Service, never: Deferred.Deferred<void>) => () =>
  mode === "limiter"
    ? Effect.scoped(limiter.acquire({ priority: "normal", estimatedTokens: 10, model: "grok-4" }))
    : mode === "scoped"
      ? Effect.scoped(Deferred.await(never))
      : Deferred.await(never)

const program = Effect.gen(function* () {
  const limiter = yield* RateLimiter.make({ requestsPerSecond: 100, burst: 10 })
  const never = yield* Deferred.make<void>()
  const before = heapKiB()
  const all = Array.from({ length: n }, (_, i) => i)
  const fiber = yield* Effect.fork(Effect.forEach(all, waiterOf(limiter, never), { concurrency: "unbounded" }))
  yield* Effect.sleep("1 second")
  const waiting = mode === "limiter" ? (yield* limiter.snapshot).queued : n
  const perWaiterKiB = (heapKiB() - before) / waiting
  const opsBefore = counters.__eff?.ops ?? 0
  const started = performance.now()
  yield* Fiber.interrupt(fiber)
  const interruptMillis = performance.now() - started
  const ops = counters.__eff === undefined ? "" : ` ops/waiter=${((counters.__eff.ops! - opsBefore) / n).toFixed(1)}`
  console.log(
    `${mode} waiting=${waiting} heap/waiter=${perWaiterKiB.toFixed(2)} KiB interrupt=${interruptMillis.toFixed(0)} ms${ops}`
  )
})

await Effect.runPromise(Effect.scoped(program).pipe(Logger.withMinimumLogLevel(LogLevel.None)))
