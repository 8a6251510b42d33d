/**
 * A worker process for the multi-process Redis tests: `node --import tsx test/redis/worker.ts '<config JSON>'`.
 *
 * It connects a Redis store (`{ url, prefix }`), prints `{"ready":true}`, then answers one JSON command per stdin
 * line with one JSON line on stdout, until stdin closes:
 *
 * - `{ op: "reserve" | "settle" | "hold", request }` → `{ result, nowMillis? }` through the store
 * - `{ op: "hammer", key, limits, fibers, durationMillis }` → `{ admitted: [redis millis…] }`: every fiber reserves
 *   in a loop, sleeping for the wait each refusal names
 * - `{ op: "chat", baseUrl, apiKey, limiter }` → `{ ok, tag?, startedAt, endedAt }`: one GrokClient call through a
 *   `RateLimiter` over the Redis store
 */
import { FetchHttpClient } from "@effect/platform"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { createInterface } from "node:readline"
import * as GrokClient from "../../src/GrokClient.js"
import type * as RateLimiter from "../../src/RateLimiter.js"
import type * as RateLimiterStore from "../../src/RateLimiterStore.js"
import * as RetryPolicy from "../../src/RetryPolicy.js"
import * as RedisStore from "../../src/redis/RedisStore.js"

interface Config {
  readonly url: string
  readonly prefix: string
}

type Command =
  | { readonly op: "reserve"; readonly request: RateLimiterStore.ReserveRequest }
  | { readonly op: "settle"; readonly request: RateLimiterStore.SettleRequest }
  | { readonly op: "hold"; readonly request: RateLimiterStore.HoldRequest }
  | {
      readonly op: "hammer"
      readonly key: string
      readonly limits: RateLimiterStore.Limits
      readonly fibers: number
      readonly durationMillis: number
    }
  | {
      readonly op: "chat"
      readonly baseUrl: string
      readonly apiKey: string
      readonly limiter: Omit<RateLimiter.Options, "store" | "onStoreError">
    }

/** Reserves in a loop from several fibers until the time is up; the Redis time of every admission. */
export const hammer = (
  store: RedisStore.Direct,
  options: { key: string; limits: RateLimiterStore.Limits; fibers: number; durationMillis: number }
) =>
  Effect.gen(function* () {
    const admitted: Array<number> = []
    const end = (yield* Clock.currentTimeMillis) + options.durationMillis
    const loop = Effect.gen(function* () {
      while ((yield* Clock.currentTimeMillis) < end) {
        const { reservation, nowMillis } = yield* store.reserveAt({
          key: options.key,
          requests: 1,
          tokens: 0,
          limits: options.limits
        })
        if (reservation.ok) admitted.push(nowMillis)
        else yield* Effect.sleep(Math.max(1, Math.ceil(reservation.retryAfterMillis)))
      }
    })
    yield* Effect.all(
      Array.from({ length: options.fibers }, () => loop),
      { concurrency: "unbounded" }
    )
    return admitted
  })

const chat = (config: Config, command: Extract<Command, { op: "chat" }>) =>
  Effect.gen(function* () {
    const grok = yield* GrokClient.GrokClient
    const startedAt = Date.now()
    const result = yield* Effect.either(
      grok.chat({ model: "grok-4", messages: [{ role: "user", content: "from the worker" }] })
    )
    return {
      ok: result._tag === "Right",
      ...(result._tag === "Left" ? { tag: result.left._tag } : {}),
      startedAt,
      endedAt: Date.now()
    }
  }).pipe(
    Effect.provide(
      GrokClient.layer({
        apiKey: Redacted.make(command.apiKey),
        baseUrl: command.baseUrl,
        retry: RetryPolicy.none
      }).pipe(
        Layer.provide(FetchHttpClient.layer),
        Layer.provide(RedisStore.layerRateLimiter(command.limiter, { url: config.url, prefix: config.prefix }))
      )
    ),
    Effect.orDie
  )

const main = (config: Config) =>
  Effect.gen(function* () {
    const store = yield* RedisStore.makeDirect({ url: config.url, prefix: config.prefix })
    const answer = (command: Command): Effect.Effect<unknown, unknown> => {
      switch (command.op) {
        case "reserve":
          return Effect.map(store.reserveAt(command.request), ({ reservation, nowMillis }) => ({
            result: reservation,
            nowMillis
          }))
        case "settle":
          return Effect.map(store.settle(command.request), () => ({ result: null }))
        case "hold":
          return Effect.map(store.hold(command.request), (result) => ({ result }))
        case "hammer":
          return Effect.map(hammer(store, command), (admitted) => ({ admitted }))
        case "chat":
          return chat(config, command)
      }
    }
    process.stdout.write(JSON.stringify({ ready: true }) + "\n")
    const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
    while (true) {
      const next = yield* Effect.promise(() => lines.next())
      if (next.done === true) return
      const line = String(next.value)
      if (line.trim() === "") continue
      const reply = yield* Effect.either(answer(JSON.parse(line) as Command))
      process.stdout.write(JSON.stringify(reply._tag === "Right" ? reply.right : { error: String(reply.left) }) + "\n")
    }
  })

if (process.argv[1] !== undefined && /worker\.ts$/.test(process.argv[1])) {
  Effect.runPromise(Effect.scoped(main(JSON.parse(process.argv[2] ?? "{}") as Config))).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    }
  )
}
