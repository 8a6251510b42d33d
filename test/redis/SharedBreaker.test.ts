/**
 * The circuit breaker shared through Redis, as two "processes" would use it: two breakers built apart, each with
 * its own connections, on one real redis-server and one prefix.
 */
import { afterAll, beforeAll, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Deferred from "effect/Deferred"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { Redis } from "ioredis"
import { FetchHttpClient } from "@effect/platform"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as CircuitBreaker from "../../src/CircuitBreaker.js"
import * as GrokClient from "../../src/GrokClient.js"
import * as RetryPolicy from "../../src/RetryPolicy.js"
import * as FakeGrok from "../../src/testing/FakeGrok.js"
import * as RedisStore from "../../src/redis/RedisStore.js"
import { acquireServer, type RedisServer, startRedis } from "./server.js"
import { describeRedis, freshPrefix } from "./support.js"

const KEY = "http://127.0.0.1:1/v1|grok-4"

/** Every call fails at once while open (so that state changes show), trips after two failures. */
const breakerOptions = (breakMillis: number): CircuitBreaker.Options => ({
  consecutiveFailures: 2,
  breakSchedule: Schedule.exponential(`${breakMillis} millis`),
  probeTimeout: "10 seconds"
})

const call = (breaker: CircuitBreaker.Service, outcome: CircuitBreaker.Outcome, maxWaitMillis = 0) =>
  Effect.scoped(Effect.flatMap(breaker.admit(KEY, { maxWaitMillis }), (pass) => pass.report(outcome)))

const trip = (breaker: CircuitBreaker.Service) => Effect.repeatN(call(breaker, "failure"), 1)

/** Polls `check` every 10 ms until it holds, for at most `millis`. */
const eventually = (check: Effect.Effect<boolean>, millis = 3_000) =>
  check.pipe(
    Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("10 millis") }),
    Effect.timeoutFail({ duration: millis, onTimeout: () => new Error(`not within ${millis} ms`) })
  )

const refusal = (breaker: CircuitBreaker.Service) =>
  Effect.flatMap(Effect.exit(call(breaker, "ignored")), (exit) =>
    Exit.isFailure(exit) && exit.cause._tag === "Fail" ? Effect.succeed(exit.cause.error) : Effect.die("admitted")
  )

const redisClient = (url: string) =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(url)),
    (client) => Effect.promise(() => client.quit())
  )

/** Two processes' breakers on one prefix. */
const pair = (url: string, breaker: CircuitBreaker.Options, extra: RedisStore.CircuitBreakerOptions = {}) =>
  Effect.gen(function* () {
    const prefix = freshPrefix()
    const options = { url, prefix, ...extra }
    const a = yield* RedisStore.circuitBreaker(breaker, options)
    const b = yield* RedisStore.circuitBreaker(breaker, options)
    return { a, b, prefix }
  })

describeRedis("RedisStore.circuitBreaker across processes", "any", () => {
  let server: { readonly url: string; close(): Promise<void> }

  beforeAll(async () => {
    server = await acquireServer()
  })

  afterAll(async () => {
    await server?.close()
  })

  it.scopedLive("one process opens a key: the other sees it Open, with the same break end, and its transition", () =>
    Effect.gen(function* () {
      const { a, b, prefix } = yield* pair(server.url, breakerOptions(5_000))
      const seen: Array<CircuitBreaker.Transition> = []
      yield* Effect.forkScoped(Stream.runForEach(b.transitions, (t) => Effect.sync(() => seen.push(t))))
      yield* trip(a)
      expect(yield* a.state(KEY)).toBe("Open")
      yield* eventually(Effect.map(b.state(KEY), (status) => status === "Open"))
      const [fromA, fromB] = [yield* refusal(a), yield* refusal(b)]
      expect(Math.abs(fromA.retryAfterMillis - fromB.retryAfterMillis)).toBeLessThan(100)
      expect(fromB.retryAfterMillis).toBeGreaterThan(4_000)
      expect(seen.map((t) => `${t.from}>${t.to}`)).toEqual(["Closed>Open"])
      const redis = yield* redisClient(server.url)
      const record = yield* Effect.promise(() => redis.hgetall(`${prefix}:breaker:${KEY}`))
      expect(record).toMatchObject({ st: "Open", step: "0", brk: "5000" })
      const ttl = yield* Effect.promise(() => redis.pttl(`${prefix}:breaker:${KEY}`))
      expect(ttl).toBeGreaterThan(60_000)
      expect(ttl).toBeLessThanOrEqual(65_000)
    })
  )

  it.scopedLive("one probe for the fleet; its success releases the waiters of both processes", () =>
    Effect.gen(function* () {
      // A long poll interval: the release must come from the announcement, not from polling.
      const { a, b } = yield* pair(server.url, breakerOptions(300), { pollInterval: "20 seconds" })
      yield* trip(a)
      yield* eventually(Effect.map(b.state(KEY), (status) => status === "Open"))
      const log: Array<{ readonly probe: boolean; readonly at: number }> = []
      let closedAt = 0
      const waiter = (breaker: CircuitBreaker.Service) =>
        Effect.scoped(
          Effect.gen(function* () {
            const pass = yield* breaker.admit(KEY, { maxWaitMillis: 8_000 })
            log.push({ probe: pass.probe, at: yield* Clock.currentTimeMillis })
            if (pass.probe) {
              yield* Effect.sleep("400 millis")
              closedAt = yield* Clock.currentTimeMillis
            }
            yield* pass.report("success")
          })
        )
      yield* Effect.all(
        [...Array.from({ length: 4 }, () => waiter(a)), ...Array.from({ length: 4 }, () => waiter(b))],
        {
          concurrency: "unbounded"
        }
      )
      expect(log.filter((entry) => entry.probe)).toHaveLength(1)
      expect(log).toHaveLength(8)
      const lastRelease = Math.max(...log.map((entry) => entry.at))
      expect(lastRelease - closedAt).toBeLessThan(1_000)
      expect(yield* a.state(KEY)).toBe("Closed")
      expect(yield* b.state(KEY)).toBe("Closed")
    })
  )

  it.scopedLive("a failed probe reopens the key for the fleet with the schedule's next break", () =>
    Effect.gen(function* () {
      const { a, b, prefix } = yield* pair(server.url, breakerOptions(200))
      yield* trip(a)
      yield* eventually(Effect.map(b.state(KEY), (status) => status === "Open"))
      // B probes once the break is over, and fails.
      yield* call(b, "failure", 2_000)
      const redis = yield* redisClient(server.url)
      const record = yield* Effect.promise(() => redis.hgetall(`${prefix}:breaker:${KEY}`))
      expect(record).toMatchObject({ st: "Open", step: "1", brk: "400" })
      yield* eventually(
        Effect.map(Effect.exit(call(a, "ignored")), (exit) => {
          if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") return false
          return exit.cause.error.retryAfterMillis > 250
        })
      )
      expect(yield* a.state(KEY)).toBe("Open")
    })
  )

  it.scopedLive("a probe that ends without a verdict gives the lease back: the waiting process probes at once", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair(server.url, breakerOptions(200), { pollInterval: "20 seconds" })
      yield* trip(a)
      yield* eventually(Effect.map(b.state(KEY), (status) => status === "Open"))
      yield* Effect.sleep("250 millis")
      const admitted = yield* Deferred.make<boolean>()
      const end = yield* Deferred.make<void>()
      const probeA = yield* Effect.fork(
        Effect.scoped(
          Effect.flatMap(a.admit(KEY, { maxWaitMillis: 0 }), (pass) =>
            Effect.zipRight(Deferred.succeed(admitted, pass.probe), Deferred.await(end))
          )
        )
      )
      expect(yield* Deferred.await(admitted)).toBe(true)
      const waiterB = yield* Effect.fork(
        Effect.scoped(
          Effect.flatMap(b.admit(KEY, { maxWaitMillis: 10_000 }), (pass) =>
            Effect.map(Clock.currentTimeMillis, (at) => ({ probe: pass.probe, at }))
          )
        )
      )
      yield* Effect.sleep("300 millis")
      expect(yield* b.state(KEY)).toBe("HalfOpen")
      // A's probe ends without a report: its scope closes, which gives the lease back.
      const released = yield* Clock.currentTimeMillis
      yield* Deferred.succeed(end, undefined)
      yield* Fiber.join(probeA)
      const fromB = yield* Fiber.join(waiterB)
      expect(fromB.probe).toBe(true)
      expect(fromB.at - released).toBeLessThan(1_000)
    })
  )

  it.scopedLive(
    "two GrokClients: one worker's failures open the model for both; the other sends nothing meanwhile",
    () =>
      Effect.gen(function* () {
        const fake = yield* FakeGrok.make({ script: Array.from({ length: 5 }, () => "503" as const) })
        const { a, b } = yield* pair(server.url, { breakSchedule: Schedule.spaced("500 millis") })
        const worker = (breaker: CircuitBreaker.Service) =>
          GrokClient.make({ apiKey: Redacted.make(fake.apiKey), baseUrl: fake.url, retry: RetryPolicy.none }).pipe(
            Effect.provide(FetchHttpClient.layer),
            Effect.provideService(CircuitBreaker.CircuitBreaker, breaker)
          )
        const [first, second] = [yield* worker(a), yield* worker(b)]
        const hello = { model: "grok-4", messages: [{ role: "user" as const, content: "hello" }] }
        for (let i = 0; i < 5; i++) yield* Effect.either(first.chat(hello))
        const modelKey = `${fake.url.replace(/\/+$/, "")}|grok-4`
        yield* eventually(Effect.map(b.state(modelKey), (status) => status === "Open"))
        const refused = yield* Effect.either(second.chat(hello, { maxQueueWait: "50 millis" }))
        expect(Either.isLeft(refused) && refused.left._tag === "Rejected" && refused.left.reason).toBe("CircuitOpen")
        expect((yield* fake.arrivals).length).toBe(5)
        // After the break one probe, from either worker, finds the model back and closes it for both.
        const results = yield* Effect.all(
          [first, second, first, second].map((grok) => Effect.either(grok.chat(hello))),
          { concurrency: "unbounded" }
        )
        expect(results.filter(Either.isLeft)).toEqual([])
        expect((yield* fake.arrivals).length).toBe(9)
        expect([yield* a.state(modelKey), yield* b.state(modelKey)]).toEqual(["Closed", "Closed"])
      })
  )
})

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describeRedis("RedisStore.circuitBreaker when Redis fails", "own", () => {
  let server: RedisServer

  beforeAll(async () => {
    server = await startRedis()
  })

  afterAll(async () => {
    await server?.stop()
  })

  it.scopedLive("Redis stopped mid-way: each process keeps a local breaker, no call fails because of Redis", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const { a, b } = yield* pair(server.url, breakerOptions(200), {
        commandTimeout: "200 millis",
        retryInterval: "5 seconds"
      })
      yield* Effect.promise(() => server.kill())
      const started = yield* Clock.currentTimeMillis
      yield* trip(a)
      expect(yield* a.state(KEY)).toBe("Open")
      // B never heard of it: it is still closed and lets calls through.
      yield* call(b, "success")
      expect(yield* b.state(KEY)).toBe("Closed")
      // A's break ends locally; its probe runs without a lease and closes A.
      const probe = yield* Effect.scoped(
        Effect.flatMap(a.admit(KEY, { maxWaitMillis: 2_000 }), (pass) => Effect.as(pass.report("success"), pass.probe))
      )
      expect(probe).toBe(true)
      expect(yield* a.state(KEY)).toBe("Closed")
      // One Redis timeout at most per process, then no wait for Redis during the retry interval.
      expect((yield* Clock.currentTimeMillis) - started).toBeLessThan(1_500)
      const warnings = logs.lines.filter((line) => line.includes("shared state unavailable"))
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toMatch(/^WARN CircuitBreaker: shared state unavailable \(.+\): each process keeps/)
      yield* Effect.promise(() => server.restart())
    }).pipe(Effect.provide(logs.layer))
  })
})
