import { FetchHttpClient } from "@effect/platform"
import { afterAll, beforeAll, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as GrokClient from "../../src/GrokClient.js"
import type * as RateLimiterStore from "../../src/RateLimiterStore.js"
import * as RetryPolicy from "../../src/RetryPolicy.js"
import * as RedisStore from "../../src/redis/RedisStore.js"
import * as FakeGrok from "../../src/testing/FakeGrok.js"
import { acquireServer } from "./server.js"
import { describeRedis, freshPrefix } from "./support.js"
import { hammer } from "./worker.js"
import { spawnWorker, type Worker } from "./workers.js"

/** The most admissions in any closed window `[t, t + windowMillis]`. */
const maxInWindow = (times: ReadonlyArray<number>, windowMillis: number): number => {
  const sorted = [...times].sort((a, b) => a - b)
  let most = 0
  let start = 0
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! > windowMillis) start++
    most = Math.max(most, end - start + 1)
  }
  return most
}

describeRedis("RedisStore across fibers and processes", "any", () => {
  let server: Awaited<ReturnType<typeof acquireServer>>
  const prefix = freshPrefix()
  let workers: ReadonlyArray<Worker> = []

  beforeAll(async () => {
    server = await acquireServer()
    workers = await Promise.all([1, 2, 3].map(() => spawnWorker({ url: server.url, prefix })))
  }, 60_000)

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.close()))
    await server?.close()
  })

  it.live(
    "never admits more than the limit plus the burst in any window, with 3 processes × 16 fibers and 32 local fibers",
    () =>
      Effect.gen(function* () {
        const store = yield* RedisStore.makeDirect({ url: server.url, prefix })
        // 100 requests per second, burst 10.
        const limits: RateLimiterStore.Limits = { requests: { intervalMillis: 10, burst: 10 } }
        const run = { key: "atomic", limits, durationMillis: 2_000 }
        const [local, ...remote] = yield* Effect.all(
          [
            hammer(store, { ...run, fibers: 32 }),
            ...workers.map((worker) =>
              Effect.promise(() => worker.send<{ admitted: Array<number> }>({ op: "hammer", ...run, fibers: 16 })).pipe(
                Effect.map((answer) => answer.admitted)
              )
            )
          ],
          { concurrency: "unbounded" }
        )
        const all = [local!, ...remote].flat()
        // Every process got a share: the limit was really contended across processes.
        for (const admitted of [local!, ...remote]) expect(admitted.length).toBeGreaterThan(5)
        for (const windowMillis of [10, 100, 250, 1_000]) {
          expect(maxInWindow(all, windowMillis)).toBeLessThanOrEqual(10 + windowMillis / 10)
        }
        // And the budget was used, not just respected (loosely: a loaded machine may leave moments when nobody asks).
        const span = Math.max(...all) - Math.min(...all)
        expect(all.length).toBeGreaterThanOrEqual(0.5 * (span / 10))
        expect(all.length).toBeLessThanOrEqual(10 + span / 10)
      }).pipe(Effect.scoped),
    30_000
  )

  it.live("sees a token settle made in another process: a charge delays, a refund frees", () =>
    Effect.gen(function* () {
      const store = yield* RedisStore.makeDirect({ url: server.url, prefix })
      const limits: RateLimiterStore.Limits = { tokens: { intervalMillis: 1, burst: 1_000 } }
      const worker = workers[0]!
      const remoteReserve = (tokens: number) =>
        Effect.promise(() =>
          worker.send<{ result: RateLimiterStore.Reservation }>({
            op: "reserve",
            request: { key: "tokens", requests: 0, tokens, limits }
          })
        ).pipe(Effect.map((answer) => answer.result))

      // The estimate was 1,000 tokens; the call used 4,000: the other process must wait about 3 s for one token.
      expect(yield* store.reserve({ key: "tokens", requests: 0, tokens: 1_000, limits })).toEqual({ ok: true })
      yield* store.settle({ key: "tokens", requests: 0, tokens: 3_000, limits })
      const charged = yield* remoteReserve(1)
      expect(charged.ok).toBe(false)
      expect(charged.ok ? 0 : charged.retryAfterMillis).toBeGreaterThan(2_500)

      // The worker's estimate was 1,000 and it used none: after its refund this process gets a full bucket.
      yield* store.settle({ key: "tokens", requests: 0, tokens: -10_000, limits })
      expect(yield* remoteReserve(1_000)).toEqual({ ok: true })
      yield* Effect.promise(() =>
        worker.send({ op: "settle", request: { key: "tokens", requests: 0, tokens: -1_000, limits } })
      )
      expect(yield* store.reserve({ key: "tokens", requests: 0, tokens: 1_000, limits })).toEqual({ ok: true })
    }).pipe(Effect.scoped)
  )

  it.live("pauses every process after one process's 429: the cooldown is shared", () =>
    Effect.gen(function* () {
      // The first request gets a 429 with Retry-After: 1 (second); later ones succeed.
      const fake = yield* FakeGrok.make({ script: [429] })
      const limiter = { requestsPerSecond: 50, burst: 5, key: "cooldown" }
      const grok = yield* Layer.build(
        GrokClient.layer({ apiKey: Redacted.make(fake.apiKey), baseUrl: fake.url, retry: RetryPolicy.none }).pipe(
          Layer.provide(FetchHttpClient.layer),
          Layer.provide(RedisStore.layerRateLimiter(limiter, { url: server.url, prefix }))
        )
      ).pipe(Effect.map((context) => Context.get(context, GrokClient.GrokClient)))
      const first = yield* Effect.either(
        grok.chat({ model: "grok-4", messages: [{ role: "user", content: "from the test process" }] })
      )
      expect(first._tag === "Left" && first.left._tag).toBe("RateLimited")
      const answer = yield* Effect.promise(() =>
        workers[1]!.send<{ ok: boolean; startedAt: number; endedAt: number }>({
          op: "chat",
          baseUrl: fake.url,
          apiKey: fake.apiKey,
          limiter
        })
      )
      expect(answer.ok).toBe(true)
      const arrivals = yield* fake.arrivals
      expect(arrivals.map((arrival) => arrival.status)).toEqual([429, 200])
      // The other process's request reached the server only once the 1 s cooldown had passed.
      expect(arrivals[1]!.atMillis - arrivals[0]!.atMillis).toBeGreaterThanOrEqual(990)
    }).pipe(Effect.scoped)
  )
})
