import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Redacted, TestClock } from "effect"
import * as net from "node:net"
import * as GrokClient from "../src/GrokClient.js"
import type * as GrokError from "../src/GrokError.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import type * as FakeGrok from "../src/testing/FakeGrok.js"
import { hello, untilArrivals, withFake } from "./support/client.js"
import { FetchHttpClient } from "@effect/platform"

/** Sends one call after the fake server was scripted with `step`, and returns the typed error. */
const failWith = (step: FakeGrok.ScriptStep) =>
  Effect.gen(function* () {
    const { grok } = yield* withFake({ script: [step] })
    return yield* Effect.flip(grok.chat(hello()))
  })

const expectError = (error: GrokError.GrokError, tag: GrokError.GrokErrorTag, status?: number) => {
  expect(error._tag).toBe(tag)
  if (status !== undefined) expect(error.status).toBe(status)
  expect(error.message.length).toBeGreaterThan(10)
}

describe("classification over real HTTP", () => {
  it.scopedLive("maps a 400 that names the API key to AuthError", () =>
    Effect.gen(function* () {
      const error = yield* failWith("wrong-key-400")
      expectError(error, "AuthError", 400)
      expect(error._tag === "AuthError" && error.reason).toBe("InvalidKey")
      expect(error.isRetryable).toBe(false)
    })
  )

  it.scopedLive("maps a wrong bearer token to AuthError without retrying", () =>
    Effect.gen(function* () {
      const { fake } = yield* withFake()
      const grok = yield* GrokClient.make({ apiKey: Redacted.make("xai-wrongwrongwrong"), baseUrl: fake.url }).pipe(
        Effect.provide(FetchHttpClient.layer)
      )
      const error = yield* Effect.flip(grok.chat(hello()))
      expectError(error, "AuthError", 400)
      expect((yield* fake.arrivals).length).toBe(1)
      expect(error.message).not.toContain("xai-wrongwrongwrong")
    })
  )

  it.scopedLive("maps a 401 to AuthError", () =>
    Effect.gen(function* () {
      expectError(yield* failWith(401), "AuthError", 401)
    })
  )

  it.scopedLive("maps a 403 without credit wording to AuthError(PermissionDenied)", () =>
    Effect.gen(function* () {
      const error = yield* failWith(403)
      expectError(error, "AuthError", 403)
      expect(error._tag === "AuthError" && error.reason).toBe("PermissionDenied")
    })
  )

  it.scopedLive("maps an xAI error object sent with HTTP 200 to Transient", () =>
    Effect.gen(function* () {
      const error = yield* failWith("error-200")
      expectError(error, "Transient", 200)
      expect(error._tag === "Transient" && error.reason).toBe("ErrorInBody")
      expect(error.isRetryable).toBe(true)
    })
  )

  it.scopedLive("maps a 429 about spent credits to QuotaExhausted", () =>
    Effect.gen(function* () {
      const error = yield* failWith("quota-exhausted-429")
      expectError(error, "QuotaExhausted", 429)
      expect(error.isRetryable).toBe(false)
    })
  )

  it.scopedLive("maps a 403 about the spending limit to QuotaExhausted", () =>
    Effect.gen(function* () {
      expectError(yield* failWith("quota-exhausted-403"), "QuotaExhausted", 403)
    })
  )

  it.scopedLive("maps any other 429 to RateLimited with the wait the server asked for", () =>
    Effect.gen(function* () {
      const error = yield* failWith(429)
      expectError(error, "RateLimited", 429)
      expect(error._tag === "RateLimited" && error.retryAfterMillis).toBe(1000)
      expect(error.isRetryable).toBe(true)
    })
  )

  for (const status of [408, 409, 500, 502, 503, 529] as const) {
    it.scopedLive(`maps HTTP ${status} to a retryable Transient`, () =>
      Effect.gen(function* () {
        const error = yield* failWith(
          status === 500 || status === 502 || status === 503 || status === 529 ? `${status}` : status
        )
        expectError(error, "Transient", status)
        expect(error.isRetryable).toBe(true)
      })
    )
  }

  it.scopedLive("maps a connection reset to Transient(ConnectionFailed)", () =>
    Effect.gen(function* () {
      const error = yield* failWith("reset")
      expectError(error, "Transient")
      expect(error._tag === "Transient" && error.reason).toBe("ConnectionFailed")
    })
  )

  it.scopedLive("maps a refused connection to Transient(ConnectionFailed)", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(
        () =>
          new Promise<number>((resolve) => {
            const server = net.createServer().listen(0, "127.0.0.1", () => {
              const address = server.address() as net.AddressInfo
              server.close(() => resolve(address.port))
            })
          })
      )
      const grok = yield* GrokClient.make({
        apiKey: Redacted.make("test-key"),
        baseUrl: `http://127.0.0.1:${port}/v1`,
        retry: RetryPolicy.none
      }).pipe(Effect.provide(FetchHttpClient.layer))
      const error = yield* Effect.flip(grok.chat(hello()))
      expect(error._tag === "Transient" && error.reason).toBe("ConnectionFailed")
    })
  )

  it.scoped("maps an attempt that outlives its timeout to Transient(Timeout), in virtual time", () =>
    Effect.gen(function* () {
      const { fake, grok } = yield* withFake({ script: ["slow"], slowMillis: 60_000 }, { attemptTimeout: "5 seconds" })
      const fiber = yield* Effect.fork(Effect.flip(grok.chat(hello())))
      yield* untilArrivals(fake, 1)
      yield* TestClock.adjust("4999 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      expect(error._tag === "Transient" && error.reason).toBe("Timeout")
    })
  )

  it.scopedLive("maps a truncated JSON body to Transient(MalformedBody)", () =>
    Effect.gen(function* () {
      const error = yield* failWith("truncated")
      expectError(error, "Transient", 200)
      expect(error._tag === "Transient" && error.reason).toBe("MalformedBody")
    })
  )

  it.scopedLive("maps an HTML error page to Transient", () =>
    Effect.gen(function* () {
      const error = yield* failWith("html")
      expectError(error, "Transient", 502)
      expect(error.body).toContain("<html")
    })
  )

  for (const status of [400, 404, 405, 413, 415, 422] as const) {
    it.scopedLive(`maps HTTP ${status} to a non-retryable Validation`, () =>
      Effect.gen(function* () {
        const error = yield* failWith(status)
        expectError(error, "Validation", status)
        expect(error.isRetryable).toBe(false)
      })
    )
  }

  it.scopedLive("rejects a request that fails our schema before sending it", () =>
    Effect.gen(function* () {
      const { fake, grok } = yield* withFake()
      const error = yield* Effect.flip(grok.chat({ model: "grok-4", messages: [], temperature: 7 }))
      expect(error._tag === "Validation" && error.reason).toBe("InvalidRequest")
      expect((yield* fake.arrivals).length).toBe(0)
    })
  )

  it.scopedLive("keeps the x-request-id on results and on errors", () =>
    Effect.gen(function* () {
      const { fake, grok } = yield* withFake({ script: ["503", "ok"] })
      const error = yield* Effect.flip(grok.chat(hello()))
      const result = yield* grok.chat(hello("second"))
      const arrivals = yield* fake.arrivals
      expect(error.requestId).toBe(arrivals[0]?.requestId)
      expect(result.requestId).toBe(arrivals[1]?.requestId)
      expect(result.content).toBe("echo: second")
    })
  )
})
