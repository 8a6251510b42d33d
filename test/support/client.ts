import { FetchHttpClient } from "@effect/platform"
import { Effect, Layer, Redacted, Schedule, TestServices } from "effect"
import * as GrokClient from "../../src/GrokClient.js"
import * as RetryPolicy from "../../src/RetryPolicy.js"
import * as FakeGrok from "../../src/testing/FakeGrok.js"

/** A fake server and a client pointed at it over real loopback HTTP. */
export const withFake = (scenario: FakeGrok.Scenario = {}, options: Partial<GrokClient.Options> = {}) =>
  Effect.gen(function* () {
    const fake = yield* FakeGrok.make(scenario)
    const grok = yield* GrokClient.make({
      apiKey: Redacted.make(fake.apiKey),
      baseUrl: fake.url,
      retry: RetryPolicy.none,
      ...options
    }).pipe(Effect.provide(FetchHttpClient.layer))
    return { fake, grok }
  })

/** A client layer for a given base URL, for tests that provide the client through the context. */
export const clientLayer = (options: GrokClient.Options) =>
  GrokClient.layer(options).pipe(Layer.provide(FetchHttpClient.layer))

export const hello = (text = "hello") => ({
  model: "grok-4",
  messages: [{ role: "user" as const, content: text }]
})

/** Waits in real time until the fake server has seen `n` requests (for tests that then move a TestClock). */
export const untilArrivals = (fake: FakeGrok.Service, n: number) =>
  fake.arrivals.pipe(
    Effect.repeat({ until: (arrivals) => arrivals.length >= n, schedule: Schedule.spaced("5 millis") }),
    Effect.timeout("10 seconds"),
    Effect.orDie,
    TestServices.provideLive
  )
