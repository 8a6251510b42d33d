import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Redacted } from "effect"
import { gzipSync } from "node:zlib"
import * as GrokClient from "../src/GrokClient.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { hello } from "./support/client.js"
import { completionBody, hostileServer } from "./support/hostileServer.js"

const KEY = "xai-hostile-test-key-0123456789"

const clientFor = (url: string, options: Partial<GrokClient.Options> = {}) =>
  GrokClient.make({ apiKey: Redacted.make(KEY), baseUrl: url, retry: RetryPolicy.none, ...options }).pipe(
    Effect.provide(FetchHttpClient.layer)
  )

const json = { "content-type": "application/json" }

describe("a hostile or broken server", () => {
  it.scopedLive("an absurd Retry-After fails the call that got it and holds no other call", () =>
    Effect.gen(function* () {
      const server = yield* hostileServer((_, response, index) => {
        if (index === 0) response.writeHead(429, { ...json, "retry-after": "999999999" }).end('{"error":"slow down"}')
        else response.writeHead(200, json).end(completionBody())
      })
      const limiter = yield* RateLimiter.make({})
      const grok = yield* clientFor(server.url, { retry: RetryPolicy.standard }).pipe(
        Effect.provide(Layer.succeed(RateLimiter.RateLimiter, limiter))
      )
      const first = yield* Effect.either(grok.chat(hello("first")))
      expect(Either.isLeft(first) && first.left._tag).toBe("RateLimited")
      const rest = yield* Effect.forEach([1, 2, 3, 4, 5], (i) => grok.chat(hello(`next ${i}`)), {
        concurrency: 5
      }).pipe(Effect.timeout("5 seconds"))
      expect(rest.map((r) => r.content)).toEqual(["ok", "ok", "ok", "ok", "ok"])
      expect((yield* limiter.snapshot).holdUntilMillis).toBe(0)
    })
  )

  it.scopedLive("a success saying remaining 0 with a reset years away does not freeze the next calls", () =>
    Effect.gen(function* () {
      const server = yield* hostileServer((_, response) =>
        response
          .writeHead(200, { ...json, "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "87600h" })
          .end(completionBody())
      )
      const limiter = yield* RateLimiter.make({})
      const grok = yield* clientFor(server.url).pipe(Effect.provide(Layer.succeed(RateLimiter.RateLimiter, limiter)))
      const results = yield* Effect.forEach([1, 2, 3], (i) => grok.chat(hello(`call ${i}`))).pipe(
        Effect.timeout("5 seconds")
      )
      expect(results.length).toBe(3)
    })
  )

  it.scopedLive("a key echoed in x-request-id is scrubbed from the result and from errors", () =>
    Effect.gen(function* () {
      const server = yield* hostileServer((seen, response, index) => {
        const echoed = seen.authorization ?? ""
        if (index === 0) response.writeHead(200, { ...json, "x-request-id": echoed }).end(completionBody())
        else response.writeHead(500, { ...json, "x-request-id": `id ${echoed}` }).end(`{"error":"boom ${echoed}"}`)
      })
      const grok = yield* clientFor(server.url)
      const ok = yield* grok.chat(hello())
      const failed = yield* Effect.flip(grok.chat(hello()))
      expect(server.seen[0]!.authorization).toContain(KEY)
      expect(ok.requestId).toBeDefined()
      expect(ok.requestId).not.toContain(KEY)
      expect(`${failed.message} ${JSON.stringify(failed)} ${failed.requestId}`).not.toContain(KEY)
    })
  )

  it.scopedLive("a redirect to another origin is never followed and names the location", () =>
    Effect.gen(function* () {
      const elsewhere = yield* hostileServer((_, response) =>
        response.writeHead(200, json).end(completionBody("stolen"))
      )
      const server = yield* hostileServer((_, response) =>
        response.writeHead(302, { location: `${elsewhere.url}/chat/completions` }).end()
      )
      const grok = yield* clientFor(server.url, { retry: RetryPolicy.standard })
      const error = yield* Effect.flip(grok.chat(hello()))
      expect(error).toMatchObject({ _tag: "Validation", reason: "Redirected", status: 302 })
      expect(error.message).toContain(elsewhere.url)
      expect(elsewhere.seen.length).toBe(0)
      expect(server.seen.length).toBe(1)
    })
  )

  it.scopedLive("an answer past maxResponseBytes fails typed, plain or as a gzip bomb", () =>
    Effect.gen(function* () {
      const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20))
      const server = yield* hostileServer((_, response, index) => {
        if (index === 0) {
          response.writeHead(200, json)
          const chunk = Buffer.alloc(64 * 1024, 0x20)
          // 8 MiB of spaces, written in chunks: the client must stop reading at its cap.
          for (let i = 0; i < 128; i++) response.write(chunk)
          response.end()
        } else response.writeHead(200, { ...json, "content-encoding": "gzip" }).end(bomb)
      })
      const grok = yield* clientFor(server.url, { maxResponseBytes: 1024 * 1024, retry: RetryPolicy.standard })
      const plain = yield* Effect.flip(grok.chat(hello()))
      const inflated = yield* Effect.flip(grok.chat(hello()))
      expect(bomb.length).toBeLessThan(100 * 1024)
      for (const error of [plain, inflated]) {
        expect(error).toMatchObject({ _tag: "Validation", reason: "ResponseTooLarge" })
        expect(GrokClient.attemptsOf(error)).toBe(1)
      }
    })
  )
})
