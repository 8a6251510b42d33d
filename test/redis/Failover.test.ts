import { FetchHttpClient } from "@effect/platform"
import { afterAll, beforeAll, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { Redis } from "ioredis"
import * as GrokClient from "../../src/GrokClient.js"
import * as RetryPolicy from "../../src/RetryPolicy.js"
import { guarded } from "../../src/internal/admission/storeGateway.js"
import * as RedisStore from "../../src/redis/RedisStore.js"
import * as FakeGrok from "../../src/testing/FakeGrok.js"
import { freePort, type RedisServer, startRedis } from "./server.js"
import { describeRedis, freshPrefix } from "./support.js"

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

const hello = { model: "grok-4", messages: [{ role: "user" as const, content: "hello" }] }

/** A GrokClient over the fake server, admitted by a limiter on the Redis store, built in the current scope. */
const client = (fake: FakeGrok.Service, limiter: { key: string }, options: RedisStore.Options) =>
  Layer.build(
    GrokClient.layer({ apiKey: Redacted.make(fake.apiKey), baseUrl: fake.url, retry: RetryPolicy.none }).pipe(
      Layer.provide(FetchHttpClient.layer),
      Layer.provide(RedisStore.layerRateLimiter({ requestsPerSecond: 20, burst: 2, ...limiter }, options))
    )
  ).pipe(Effect.map((context) => Context.get(context, GrokClient.GrokClient)))

/**
 * The limiter is back on the shared budget: its admissions move the TAT in Redis, and a hold set by another store
 * on the same key (another worker's 429) delays its next call.
 */
const sharedLimitHolds = (grok: GrokClient.Service, url: string, prefix: string, key: string) =>
  Effect.gen(function* () {
    const other = yield* RedisStore.makeDirect({ url, prefix })
    const redis = yield* Effect.acquireRelease(
      Effect.sync(() => new Redis(url)),
      (redis) => Effect.promise(() => redis.quit())
    )
    const tat = Effect.promise(() => redis.hget(other.keyOf(`${key}:grok-4`), "r")).pipe(Effect.map(Number))
    const before = yield* tat
    yield* grok.chat(hello)
    expect(yield* tat).toBeGreaterThan(before)
    yield* other.hold({ key: `${key}:grok-4`, millis: 1_000 })
    const { millis } = yield* timed(grok.chat(hello))
    expect(millis).toBeGreaterThanOrEqual(500)
  })

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration, value]) => ({ millis: Duration.toMillis(duration), value }))

describeRedis("RedisStore when Redis fails", "own", () => {
  let server: RedisServer

  beforeAll(async () => {
    server = await startRedis()
  })

  afterAll(async () => {
    await server?.stop()
  })

  it.live(
    "failOpen: every call completes while Redis is killed and restarted, then the shared limit holds again",
    () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const prefix = freshPrefix()
        const fake = yield* FakeGrok.make({})
        const grok = yield* client(
          fake,
          { key: "open" },
          {
            url: server.url,
            prefix,
            onUnavailable: "failOpen",
            localShare: 0.5,
            probeInterval: "100 millis",
            commandTimeout: "200 millis"
          }
        )
        const outage = Effect.gen(function* () {
          yield* Effect.sleep(300)
          yield* Effect.promise(() => server.kill())
          yield* Effect.sleep(500)
          yield* Effect.promise(() => server.restart())
        })
        const [results] = yield* Effect.all(
          [
            Effect.all(
              Array.from({ length: 30 }, () => Effect.either(grok.chat(hello))),
              { concurrency: 4 }
            ),
            outage
          ],
          { concurrency: "unbounded" }
        )
        expect(results.filter(Either.isLeft).map((result) => result.left._tag)).toEqual([])
        expect((yield* fake.arrivals).length).toBe(30)
        // Back on Redis within a few probes.
        yield* Effect.sync(() => logs.lines.some((line) => line.includes("answers again"))).pipe(
          Effect.repeat({ until: (back) => back, schedule: Schedule.spaced("50 millis") }),
          Effect.timeout("5 seconds")
        )
        yield* Effect.sleep(100)
        yield* sharedLimitHolds(grok, server.url, prefix, "open")
        const lines = logs.lines.filter((line) => line.includes("Redis"))
        expect(lines).toHaveLength(2)
        expect(lines[0]).toMatch(
          /^WARN Redis unavailable \(Redis (reserve|settle|hold) script: .+\): limiting locally at 50% of the quota$/
        )
        expect(lines[1]).toBe("INFO Redis answers again: back to the shared quota")
      }).pipe(Effect.provide(logs.layer), Effect.scoped)
    }
  )

  it.live(
    "failClosed: calls fail at once with Rejected(LimiterUnavailable), and work on the shared limit after a restart",
    () =>
      Effect.gen(function* () {
        const prefix = freshPrefix()
        const fake = yield* FakeGrok.make({})
        const grok = yield* client(
          fake,
          { key: "closed" },
          { url: server.url, prefix, onUnavailable: "failClosed", commandTimeout: "200 millis" }
        )
        expect((yield* grok.chat(hello)).content).toBeTypeOf("string")
        yield* Effect.promise(() => server.kill())
        for (let i = 0; i < 3; i++) {
          const { millis, value } = yield* timed(Effect.either(grok.chat(hello)))
          expect(Either.isLeft(value) && value.left._tag === "Rejected" && value.left.reason).toBe("LimiterUnavailable")
          expect(millis).toBeLessThan(500)
        }
        yield* Effect.promise(() => server.restart())
        // The client reconnects on its own (backoff of at most 1 s).
        yield* Effect.either(grok.chat(hello)).pipe(
          Effect.repeat({ until: Either.isRight, schedule: Schedule.spaced("100 millis") }),
          Effect.timeout("5 seconds")
        )
        yield* Effect.sleep(100)
        yield* sharedLimitHolds(grok, server.url, prefix, "closed")
        expect((yield* fake.arrivals).every((arrival) => arrival.status === 200)).toBe(true)
      }).pipe(Effect.scoped)
  )

  it.live("a paused (slow) Redis costs one command timeout: failClosed fails, failOpen answers locally", () =>
    Effect.gen(function* () {
      const prefix = freshPrefix()
      const options = { url: server.url, prefix, commandTimeout: "200 millis", probeInterval: "100 millis" } as const
      const closed = yield* RedisStore.make({ ...options, onUnavailable: "failClosed" })
      // As the limiter uses it: the store gateway fails over a failOpen store.
      const open = yield* guarded(
        "fallback",
        yield* RedisStore.make({ ...options, onUnavailable: "failOpen", localShare: 1 })
      )
      const request = { key: "k", requests: 1, tokens: 0, limits: { requests: { intervalMillis: 10, burst: 5 } } }
      expect(yield* closed.reserve(request)).toEqual({ ok: true })
      server.pause()
      try {
        const failed = yield* timed(Effect.either(closed.reserve(request)))
        expect(Either.isLeft(failed.value) && failed.value.left._tag).toBe("RateLimiterStoreError")
        expect(failed.millis).toBeGreaterThanOrEqual(150)
        expect(failed.millis).toBeLessThan(600)
        const first = yield* timed(open.reserve(request))
        expect(first.value).toEqual({ ok: true })
        expect(first.millis).toBeLessThan(600)
        // Later calls do not wait for Redis any more.
        const second = yield* timed(open.reserve(request))
        expect(second.value).toEqual({ ok: true })
        expect(second.millis).toBeLessThan(150)
      } finally {
        server.resume()
      }
    }).pipe(Effect.scoped)
  )

  it.live("keeps 1 / expectedWorkers of the quota when Redis was down from the start (2 by default)", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(() => freePort())
      const url = `redis://127.0.0.1:${port}`
      const quick = { url, prefix: freshPrefix(), connectTimeout: "200 millis" } as const
      const byDefault = yield* RedisStore.make(quick)
      const fleet = yield* RedisStore.make({ ...quick, expectedWorkers: 4 })
      const fixed = yield* RedisStore.make({ ...quick, localShare: 0.1 })
      expect(yield* byDefault.failover!.localShare).toBe(0.5)
      expect(yield* fleet.failover!.localShare).toBe(0.25)
      expect(yield* fixed.failover!.localShare).toBe(0.1)
      expect((yield* RedisStore.make({ ...quick, onUnavailable: "failClosed" })).failover).toBeUndefined()
    }).pipe(Effect.scoped)
  )

  it.live("starts while Redis is down without failing or hanging, and uses Redis once it is up", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(() => freePort())
      const url = `redis://127.0.0.1:${port}`
      const prefix = freshPrefix()
      const { millis, value: store } = yield* timed(
        Effect.flatMap(
          RedisStore.make({ url, prefix, connectTimeout: "300 millis", probeInterval: "100 millis", localShare: 1 }),
          (redis) => guarded("fallback", redis)
        )
      )
      expect(millis).toBeLessThan(1_000)
      const request = {
        key: "late",
        requests: 1,
        tokens: 0,
        limits: { requests: { intervalMillis: 10_000, burst: 1 } }
      }
      expect(yield* store.reserve(request)).toEqual({ ok: true })
      const late = yield* Effect.acquireRelease(
        Effect.promise(() => startRedis({ port })),
        (started) => Effect.promise(() => started.stop())
      )
      const direct = yield* RedisStore.makeDirect({ url: late.url, prefix })
      // Once the store is back on Redis its reservation is seen by others.
      yield* Effect.gen(function* () {
        yield* Effect.sleep(100)
        yield* store.reserve(request)
        return yield* direct.reserve(request)
      }).pipe(Effect.repeat({ until: (answer) => !answer.ok }), Effect.timeout("5 seconds"))
    }).pipe(Effect.scoped)
  )
})
