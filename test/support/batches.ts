import { HttpClient, HttpClientError, HttpClientResponse } from "@effect/platform"
import { Duration, Effect, Fiber, Layer, Option, Random, Redacted, Schedule, TestClock } from "effect"
import * as GrokBatches from "../../src/GrokBatches.js"
import * as GrokClient from "../../src/GrokClient.js"
import type { RetryPolicy } from "../../src/RetryPolicy.js"
import * as FakeGrok from "../../src/testing/FakeGrok.js"

/** Retries at once, a few times: for tests about what is retried, not when. */
export const quickRetry: RetryPolicy = Schedule.recurs(4)

/** GrokBatches and GrokClient over the in-process fake (its HttpClient, maybe wrapped), on Effect's clock. */
export const clients = (
  scenario: FakeGrok.Scenario = {},
  options: {
    readonly retry?: RetryPolicy
    readonly wrap?: (http: HttpClient.HttpClient) => HttpClient.HttpClient
  } = {}
) => {
  const built = Layer.unwrapEffect(
    Effect.gen(function* () {
      const fake = yield* FakeGrok.FakeGrok
      const http = yield* HttpClient.HttpClient
      const settings = {
        apiKey: Redacted.make(fake.apiKey),
        baseUrl: fake.url,
        ...(options.retry !== undefined ? { retry: options.retry } : {})
      }
      return Layer.merge(GrokBatches.layer(settings), GrokClient.layer(settings)).pipe(
        Layer.provide(Layer.succeed(HttpClient.HttpClient, options.wrap ? options.wrap(http) : http))
      )
    })
  )
  return built.pipe(Layer.provideMerge(FakeGrok.layerClient(scenario)))
}

/** Runs `effect` in a fiber while the TestClock moves on in `step`s, until it is done. */
export const onTestClock = <A, E, R>(effect: Effect.Effect<A, E, R>, step: Duration.DurationInput = "100 millis") =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(effect)
    while (Option.isNone(yield* Fiber.poll(fiber))) yield* TestClock.adjust(step)
    return yield* Fiber.join(fiber)
  })

/** Seeded `Random`, so that jittered schedules replay. */
export const seeded = <A, E, R>(effect: Effect.Effect<A, E, R>, seed = 42) =>
  Effect.withRandom(effect, Random.make(seed))

/** An HttpClient that answers every request with `answer` (a hostile or broken server, for units). */
export const scripted = (answer: (url: URL, n: number) => { status: number; body: string }) => {
  let n = 0
  return HttpClient.make((request, url) =>
    Effect.sync(() => {
      const { status, body } = answer(url, ++n)
      return HttpClientResponse.fromWeb(
        request,
        new Response(status === 204 ? null : body, { status, headers: { "content-type": "application/json" } })
      )
    })
  )
}

/** Wraps an HttpClient so that the `n`-th request whose path matches reaches the server but its answer is lost. */
export const losingAnswer = (matches: (url: URL, method: string) => boolean, nth = 1) => {
  let seen = 0
  return (http: HttpClient.HttpClient): HttpClient.HttpClient =>
    HttpClient.make((request, url) =>
      Effect.flatMap(http.execute(request), (response) =>
        matches(url, request.method) && ++seen === nth
          ? Effect.flatMap(response.text, () =>
              Effect.fail(
                new HttpClientError.RequestError({ request, reason: "Transport", cause: new Error("connection reset") })
              )
            )
          : Effect.succeed(response)
      )
    )
}
