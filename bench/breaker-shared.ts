/**
 * The circuit breaker shared through Redis (`RedisStore.circuitBreaker`), on its own redis-server over loopback:
 * `npx tsx bench/breaker-shared.ts`.
 *
 * - the cost of a call on a closed key: admit + report("success"), the local breaker against the shared one, and
 *   the Redis commands the shared one sent meanwhile (`INFO stats`);
 * - how long after one breaker opens a key the other sees it open (the announcement);
 * - how long after a probe's success in one breaker a caller waiting in the other is let through.
 */
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Schedule from "effect/Schedule"
import { Redis } from "ioredis"
import { performance } from "node:perf_hooks"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as RedisStore from "../src/redis/RedisStore.js"
import { startRedis } from "../test/redis/server.js"

const CALLS = 20_000
const ROUNDS = 50

const options: CircuitBreaker.Options = {
  consecutiveFailures: 2,
  breakSchedule: Schedule.spaced("50 millis"),
  probeTimeout: "10 seconds"
}

const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

const closedCalls = (breaker: CircuitBreaker.Service) =>
  Effect.gen(function* () {
    const started = performance.now()
    for (let i = 0; i < CALLS; i++) {
      yield* Effect.scoped(Effect.flatMap(breaker.admit("bench|closed"), (pass) => pass.report("success")))
    }
    return ((performance.now() - started) * 1000) / CALLS
  })

const trip = (breaker: CircuitBreaker.Service, key: string) =>
  Effect.repeatN(
    Effect.scoped(Effect.flatMap(breaker.admit(key, { maxWaitMillis: 0 }), (pass) => pass.report("failure"))),
    1
  )

/** Until `check` holds, yielding to the event loop between tries; the time it took, in ms. */
const until = (check: Effect.Effect<boolean>, from: number) =>
  Effect.map(
    check.pipe(Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("1 millis") })),
    () => performance.now() - from
  )

const main = Effect.gen(function* () {
  const server = yield* Effect.acquireRelease(
    Effect.promise(() => startRedis()),
    (started) => Effect.promise(() => started.stop())
  )
  const redis = { url: server.url, prefix: "bench" }
  const local = yield* CircuitBreaker.make(options)
  const a = yield* RedisStore.circuitBreaker(options, redis)
  const b = yield* RedisStore.circuitBreaker(options, redis)
  const probe = new Redis(server.url)
  const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await probe.info("stats"))?.[1])

  yield* closedCalls(local)
  const localMicros = yield* closedCalls(local)
  yield* closedCalls(a)
  const before = yield* Effect.promise(commands)
  const sharedMicros = yield* closedCalls(a)
  const sent = (yield* Effect.promise(commands)) - before - 1

  const seen: Array<number> = []
  const released: Array<number> = []
  for (let round = 0; round < ROUNDS; round++) {
    const key = `bench|round-${round}`
    const tripped = performance.now()
    yield* trip(a, key)
    seen.push(
      yield* until(
        Effect.map(b.state(key), (status) => status === "Open"),
        tripped
      )
    )
    yield* Effect.sleep("60 millis")
    const { waiter, closedAt } = yield* Effect.scoped(
      Effect.gen(function* () {
        const pass = yield* a.admit(key, { maxWaitMillis: 5_000 })
        if (!pass.probe) return yield* Effect.dieMessage("the first caller after the break is not the probe")
        const waiter = yield* Effect.fork(
          Effect.scoped(
            Effect.flatMap(b.admit(key, { maxWaitMillis: 5_000 }), () => Effect.sync(() => performance.now()))
          )
        )
        yield* Effect.sleep("20 millis")
        const closedAt = performance.now()
        yield* pass.report("success")
        return { waiter, closedAt }
      })
    )
    released.push((yield* waiter.await.pipe(Effect.flatten)) - closedAt)
  }
  yield* Effect.promise(() => probe.quit())
  const ms = (value: number) => `${value.toFixed(2)} ms`
  console.log(`closed key, admit + report: local ${localMicros.toFixed(2)} µs, shared ${sharedMicros.toFixed(2)} µs`)
  console.log(`Redis commands during ${CALLS} shared calls on a closed key: ${sent}`)
  console.log(`open seen by the other breaker: p50 ${ms(percentile(seen, 50))}, p99 ${ms(percentile(seen, 99))}`)
  console.log(
    `waiter in the other breaker let through after the probe's success: p50 ${ms(percentile(released, 50))}, ` +
      `p99 ${ms(percentile(released, 99))}`
  )
})

Effect.runPromise(Effect.scoped(main).pipe(Effect.provide(Logger.remove(Logger.defaultLogger)))).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
