import { HttpClient, HttpClientResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Redacted, Schedule, Scope, TestClock } from "effect"
import * as GrokClient from "../src/GrokClient.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { completion } from "./support/completion.js"
import { hello } from "./support/client.js"

const json = (request: Parameters<typeof HttpClientResponse.fromWeb>[0], status: number, body: unknown) =>
  HttpClientResponse.fromWeb(
    request,
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })
  )

/** A unit double: a prompt that says "hang" is never answered; any other is answered at once, `statuses` first. */
const http = (statuses: Array<number> = []) =>
  Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) => {
      const body = request.body._tag === "Uint8Array" ? new TextDecoder().decode(request.body.body) : ""
      if (body.includes("hang")) return Effect.never
      const status = statuses.shift() ?? 200
      return Effect.succeed(status === 200 ? json(request, 200, completion) : json(request, status, { error: "busy" }))
    })
  )

const options = {
  apiKey: Redacted.make("xai-test-key-000000"),
  baseUrl: "http://127.0.0.1:9/v1",
  retry: RetryPolicy.none
}

describe("admission by the rate limiter", () => {
  it.effect("this library's limiter takes back the permit of an interrupted attempt, sent or still waiting", () =>
    Effect.gen(function* () {
      const layer = GrokClient.layer(options).pipe(
        Layer.provideMerge(Layer.merge(http(), RateLimiter.layer({ requestsPerSecond: 1000, maxConcurrency: 1 })))
      )
      yield* Effect.gen(function* () {
        const grok = yield* GrokClient.GrokClient
        const limiter = yield* RateLimiter.RateLimiter
        const sent = yield* Effect.fork(grok.chat(hello("hang")))
        const waiting = yield* Effect.fork(grok.chat(hello("hang too")))
        yield* TestClock.adjust("10 millis")
        expect(yield* limiter.snapshot).toMatchObject({ inFlight: 1, queued: 1 })
        yield* Fiber.interrupt(waiting)
        expect(yield* limiter.snapshot).toMatchObject({ inFlight: 1, queued: 0 })
        yield* Fiber.interrupt(sent)
        expect(yield* limiter.snapshot).toMatchObject({ inFlight: 0, queued: 0 })
        // With one call at a time, the next call is admitted only because the interrupted one gave its permit back.
        const next = yield* Effect.fork(grok.chat(hello()))
        yield* TestClock.adjust("10 millis")
        expect((yield* Fiber.join(next)).content).toBe("ok")
      }).pipe(Effect.provide(layer))
    })
  )

  it.effect("a limiter of the caller's own: each attempt's permit lives in a scope the attempt closes", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const own: RateLimiter.Service = {
        acquire: () =>
          Effect.flatMap(Effect.scope, (scope) =>
            Effect.as(
              Scope.addFinalizer(
                scope,
                Effect.sync(() => events.push("released"))
              ),
              {
                report: (feedback: RateLimiter.Feedback) => Effect.sync(() => events.push(`report ${feedback.status}`))
              }
            )
          ).pipe(Effect.tap(() => events.push("acquired"))),
        snapshot: Effect.succeed({ queued: 0, inFlight: 0, holdUntilMillis: 0 })
      }
      const layer = GrokClient.layer({ ...options, retry: Schedule.recurs(1) }).pipe(
        Layer.provide(Layer.merge(http([503]), Layer.succeed(RateLimiter.RateLimiter, own)))
      )
      const call = yield* Effect.fork(
        Effect.flatMap(GrokClient.GrokClient, (grok) => grok.chat(hello())).pipe(Effect.provide(layer))
      )
      yield* TestClock.adjust("10 seconds")
      expect((yield* Fiber.join(call)).attempts).toBe(2)
      expect(events).toEqual(["acquired", "report 503", "released", "acquired", "report 200", "released"])
    })
  )
})
