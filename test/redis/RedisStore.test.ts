import { afterAll, beforeAll, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Redis } from "ioredis"
import * as MemoryStore from "../../src/MemoryStore.js"
import * as RateLimiterStore from "../../src/RateLimiterStore.js"
import { evalScript } from "../../src/internal/redis/connection.js"
import * as RedisStore from "../../src/redis/RedisStore.js"
import * as Scripts from "../../src/internal/redis/scripts.js"
import { acquireServer } from "./server.js"
import { describeRedis, freshPrefix } from "./support.js"

type Op =
  | { readonly op: "reserve"; readonly at: number; readonly request: RateLimiterStore.ReserveRequest }
  | { readonly op: "settle"; readonly at: number; readonly request: RateLimiterStore.SettleRequest }
  | { readonly op: "hold"; readonly at: number; readonly request: RateLimiterStore.HoldRequest }

const MARGIN = 60_000

/** Replays a sequence on the memory core and on the Redis scripts with the same clock; both lists of answers. */
const replay = async (client: Redis, prefix: string, ops: ReadonlyArray<Op>) => {
  const core = MemoryStore.makeCore()
  const memory: Array<unknown> = []
  const redis: Array<unknown> = []
  for (const op of ops) {
    const key = [`${prefix}:budget:${op.request.key}`]
    switch (op.op) {
      case "reserve":
        memory.push(core.reserve(op.request, op.at))
        redis.push(
          Scripts.parseReserve(
            await evalScript(client, Scripts.reserve, key, Scripts.reserveArgs(op.request, MARGIN, op.at))
          )?.reservation
        )
        break
      case "settle":
        memory.push(core.settle(op.request, op.at))
        await evalScript(client, Scripts.settle, key, Scripts.settleArgs(op.request, MARGIN, op.at))
        redis.push(undefined)
        break
      case "hold":
        memory.push(core.hold(op.request, op.at))
        redis.push(
          Scripts.parseHold(await evalScript(client, Scripts.hold, key, Scripts.holdArgs(op.request, MARGIN, op.at)))
        )
    }
  }
  return { memory, redis }
}

/** A small seeded PRNG (mulberry32), so a failing sequence can be replayed. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const randomOps = (seed: number, count: number): Array<Op> => {
  const random = prng(seed)
  const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)]!
  const limitsChoices: ReadonlyArray<RateLimiterStore.Limits> = [
    {},
    { requests: { intervalMillis: 1000 / 9.5, burst: 1 } },
    { requests: { intervalMillis: 50, burst: 5 }, tokens: { intervalMillis: 60_000 / 95_000, burst: 95_000 / 60 } },
    { tokens: { intervalMillis: 0.37, burst: 333.3 } },
    { requests: { intervalMillis: 1000 / 7.5, burst: 2.5 }, tokens: { intervalMillis: 3, burst: 1 } }
  ]
  let now = 1_764_000_000_000 + Math.floor(random() * 1e6) + 0.125
  const ops: Array<Op> = []
  for (let i = 0; i < count; i++) {
    now += pick([0, 0, 1e-7, 0.3, 1, 17.25, 105.26315789473684, 250, 2000])
    const key = pick(["a", "b", "c"])
    const limits = pick(limitsChoices)
    const kind = random()
    if (kind < 0.6) {
      ops.push({
        op: "reserve",
        at: now,
        request: { key, limits, requests: pick([0, 1, 1, 1]), tokens: pick([0, 1, 250, 900, 5000]) }
      })
    } else if (kind < 0.9) {
      ops.push({
        op: "settle",
        at: now,
        request: { key, limits, requests: pick([-1, 0, 0, 1]), tokens: pick([-900, -3, 0, 12, 4000]) }
      })
    } else {
      ops.push({ op: "hold", at: now, request: { key, millis: pick([-5, 0, 30, 1000, 2500.5]) } })
    }
  }
  return ops
}

describeRedis("RedisStore", "any", () => {
  let server: Awaited<ReturnType<typeof acquireServer>>
  let client: Redis

  beforeAll(async () => {
    server = await acquireServer()
    client = new Redis(server.url)
  })

  afterAll(async () => {
    await client?.quit()
    await server?.close()
  })

  it("gives the memory store's answers, bit for bit, on the store table", async () => {
    const t0 = 1_764_000_000_000
    const requests = { requests: { intervalMillis: 100, burst: 2 } }
    const both = { requests: { intervalMillis: 100, burst: 1 }, tokens: { intervalMillis: 1, burst: 1000 } }
    const ops: Array<Op> = [
      { op: "reserve", at: t0, request: { key: "k", requests: 1, tokens: 0, limits: requests } },
      { op: "reserve", at: t0, request: { key: "k", requests: 1, tokens: 0, limits: requests } },
      { op: "reserve", at: t0, request: { key: "k", requests: 1, tokens: 0, limits: requests } },
      { op: "reserve", at: t0 + 60, request: { key: "k", requests: 1, tokens: 0, limits: requests } },
      { op: "reserve", at: t0 + 100, request: { key: "k", requests: 1, tokens: 0, limits: requests } },
      { op: "reserve", at: t0, request: { key: "t", requests: 1, tokens: 900, limits: both } },
      { op: "reserve", at: t0 + 100, request: { key: "t", requests: 1, tokens: 900, limits: both } },
      { op: "reserve", at: t0 + 100, request: { key: "t", requests: 1, tokens: 100, limits: both } },
      { op: "reserve", at: t0, request: { key: "s", requests: 0, tokens: 1000, limits: both } },
      { op: "settle", at: t0, request: { key: "s", requests: 0, tokens: -5000, limits: both } },
      { op: "reserve", at: t0, request: { key: "s", requests: 0, tokens: 1000, limits: both } },
      { op: "settle", at: t0, request: { key: "s", requests: 0, tokens: 500, limits: both } },
      { op: "reserve", at: t0, request: { key: "s", requests: 0, tokens: 1, limits: both } },
      { op: "hold", at: t0, request: { key: "h", millis: 2000 } },
      { op: "hold", at: t0, request: { key: "h", millis: 500 } },
      { op: "reserve", at: t0, request: { key: "h", requests: 1, tokens: 0, limits: {} } },
      { op: "reserve", at: t0 + 2000, request: { key: "h", requests: 1, tokens: 0, limits: {} } },
      { op: "reserve", at: t0, request: { key: "d", requests: 0, tokens: 10, limits: both } },
      { op: "reserve", at: t0, request: { key: "d", requests: 0, tokens: 5000, limits: both } },
      { op: "reserve", at: t0 + 10, request: { key: "d", requests: 0, tokens: 5000, limits: both } },
      { op: "reserve", at: t0 + 10, request: { key: "d", requests: 0, tokens: 1, limits: both } },
      {
        op: "reserve",
        at: t0,
        request: { key: "f", requests: 1, tokens: 0, limits: { requests: { intervalMillis: 1000 / 9.5, burst: 1 } } }
      },
      {
        op: "reserve",
        at: t0 + 106,
        request: { key: "f", requests: 1, tokens: 0, limits: { requests: { intervalMillis: 1000 / 9.5, burst: 1 } } }
      }
    ]
    const { memory, redis } = await replay(client, freshPrefix(), ops)
    expect(redis).toEqual(memory)
    expect(memory.slice(0, 5)).toEqual([
      { ok: true },
      { ok: true },
      { ok: false, retryAfterMillis: 100 },
      { ok: false, retryAfterMillis: 40 },
      { ok: true }
    ])
  })

  it("gives the memory store's answers, bit for bit, on 600 random operations", async () => {
    for (const seed of [1, 2, 3]) {
      const { memory, redis } = await replay(client, freshPrefix(), randomOps(seed, 200))
      expect(redis).toEqual(memory)
      expect(memory.filter((answer) => (answer as { ok?: boolean } | undefined)?.ok === false).length).toBeGreaterThan(
        10
      )
    }
  })

  it.live("decides on Redis TIME: a burst, then the wait it names", () =>
    Effect.gen(function* () {
      const store = yield* RedisStore.makeDirect({ url: server.url, prefix: freshPrefix() })
      const request = { key: "k", requests: 1, tokens: 0, limits: { requests: { intervalMillis: 200, burst: 2 } } }
      const first = yield* store.reserveAt(request)
      expect(first.reservation).toEqual({ ok: true })
      expect(Math.abs(first.nowMillis - Date.now())).toBeLessThan(5_000)
      expect((yield* store.reserveAt(request)).reservation).toEqual({ ok: true })
      const refused = yield* store.reserveAt(request)
      expect(refused.reservation.ok).toBe(false)
      const wait = refused.reservation.ok ? 0 : refused.reservation.retryAfterMillis
      expect(wait).toBeGreaterThan(0)
      expect(wait).toBeLessThanOrEqual(200)
      expect(wait).toBeCloseTo(200 - (refused.nowMillis - first.nowMillis), 6)
      yield* Effect.sleep(Math.ceil(wait) + 2)
      expect((yield* store.reserveAt(request)).reservation).toEqual({ ok: true })
    }).pipe(Effect.scoped)
  )

  it.live("keeps its keys under the prefix, and lets them expire once their state is spent", () =>
    Effect.gen(function* () {
      const prefix = freshPrefix()
      const store = yield* RedisStore.makeDirect({ url: server.url, prefix, keyTtl: "100 millis" })
      const limits = { requests: { intervalMillis: 300, burst: 1 } }
      yield* store.reserve({ key: "team-a:grok-4", requests: 1, tokens: 0, limits })
      yield* store.hold({ key: "team-b:grok-4", millis: 50 })
      const keys = yield* Effect.promise(() => client.keys(`${prefix}:*`))
      expect(keys.sort()).toEqual([
        `${prefix}:budget:team-a:grok-4`,
        `${prefix}:budget:team-b:grok-4`,
        `${prefix}:workers`
      ])
      expect(store.keyOf("team-a:grok-4")).toBe(`${prefix}:budget:team-a:grok-4`)
      // TAT 300 ms ahead + 100 ms margin.
      const ttl = yield* Effect.promise(() => client.pttl(`${prefix}:budget:team-a:grok-4`))
      expect(ttl).toBeGreaterThan(300)
      expect(ttl).toBeLessThanOrEqual(401)
      yield* Effect.sleep(500)
      expect(
        yield* Effect.promise(() => client.exists(`${prefix}:budget:team-a:grok-4`, `${prefix}:budget:team-b:grok-4`))
      ).toBe(0)
    }).pipe(Effect.scoped)
  )

  it.live("keeps prefixes apart", () =>
    Effect.gen(function* () {
      const a = yield* RedisStore.makeDirect({ url: server.url, prefix: freshPrefix() })
      const b = yield* RedisStore.makeDirect({ url: server.url, prefix: freshPrefix() })
      const request = { key: "k", requests: 1, tokens: 0, limits: { requests: { intervalMillis: 10_000, burst: 1 } } }
      expect(yield* a.reserve(request)).toEqual({ ok: true })
      expect(yield* b.reserve(request)).toEqual({ ok: true })
      expect((yield* a.reserve(request)).ok).toBe(false)
    }).pipe(Effect.scoped)
  )

  it.live("loads its scripts again after SCRIPT FLUSH", () =>
    Effect.gen(function* () {
      const store = yield* RedisStore.makeDirect({ url: server.url, prefix: freshPrefix() })
      const request = { key: "k", requests: 1, tokens: 0, limits: { requests: { intervalMillis: 10_000, burst: 2 } } }
      expect(yield* store.reserve(request)).toEqual({ ok: true })
      yield* Effect.promise(() => client.script("FLUSH"))
      expect(yield* Effect.promise(() => client.script("EXISTS", Scripts.reserve.sha))).toEqual([0])
      expect(yield* store.reserve(request)).toEqual({ ok: true })
      expect((yield* store.reserve(request)).ok).toBe(false)
      expect(yield* Effect.promise(() => client.script("EXISTS", Scripts.reserve.sha))).toEqual([1])
      expect(yield* store.hold({ key: "k", millis: 0 })).toBeGreaterThan(0)
    }).pipe(Effect.scoped)
  )

  it.live("counts the workers on a prefix by their heartbeats, and forgets one that closed", () =>
    Effect.gen(function* () {
      const prefix = freshPrefix()
      const options = { url: server.url, prefix, heartbeatInterval: "50 millis" } as const
      const first = yield* RedisStore.makeDirect(options)
      const second = yield* Effect.forkScoped(
        Effect.scoped(Effect.zipRight(RedisStore.makeDirect(options), Effect.sleep(300)))
      )
      yield* Effect.sleep(150)
      expect(yield* first.workers).toBe(2)
      yield* second.await
      yield* Effect.sleep(150)
      expect(yield* first.workers).toBe(1)
    }).pipe(Effect.scoped)
  )

  it.live("uses a client of your own and leaves it open", () =>
    Effect.gen(function* () {
      const own = new Redis(server.url)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const store = yield* RedisStore.make({ client: own, prefix: freshPrefix() })
          expect(yield* store.reserve({ key: "k", requests: 1, tokens: 0, limits: {} })).toEqual({ ok: true })
        })
      )
      expect(yield* Effect.promise(() => own.ping())).toBe("PONG")
      yield* Effect.promise(() => own.quit())
    })
  )

  it.live("layerConfig reads REDIS_URL", () =>
    Effect.gen(function* () {
      const prefix = freshPrefix()
      const context = yield* Layer.build(RedisStore.layerConfig({ prefix, onUnavailable: "failClosed" }))
      const store = Context.get(context, RateLimiterStore.RateLimiterStore)
      expect(yield* store.hold({ key: "k", millis: 1_000 })).toBeGreaterThan(Date.now())
      expect(yield* Effect.promise(() => client.exists(`${prefix}:budget:k`))).toBe(1)
    }).pipe(Effect.scoped, Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_URL", server.url]]))))
  )

  it.live("refuses a localShare outside (0, 1] as a defect", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Effect.scoped(RedisStore.make({ url: server.url, localShare: 0 })))
      expect(exit._tag === "Failure" && Cause.isDie(exit.cause)).toBe(true)
    })
  )
})
