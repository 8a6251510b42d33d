/**
 * This project: `GrokClient` over `FetchHttpClient` with a `RateLimiter` layer, the default retry policy, the calls
 * run by `Effect.forEach` at the scenario's concurrency. A fresh limiter per run.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { GrokClient, RateLimiter } from "../../src/index.js"
import type { Contender } from "./contender.js"

export const grokResilience: Contender<RateLimiter.Options> = {
  id: "grok",
  label: "grok-resilience",
  run: (target, plan, limiter) => {
    const program = Effect.gen(function* () {
      const grok = yield* GrokClient.GrokClient
      const results = yield* Effect.forEach(
        Array.from({ length: plan.calls }, (_, index) => index),
        (index) => Effect.either(grok.chat(plan.request(index))),
        { concurrency: plan.concurrency }
      )
      const failures: Record<string, number> = {}
      let ok = 0
      for (const result of results) {
        if (Either.isRight(result)) ok++
        else {
          const kind = "reason" in result.left ? `${result.left._tag}(${result.left.reason})` : result.left._tag
          failures[kind] = (failures[kind] ?? 0) + 1
        }
      }
      return { ok, failed: plan.calls - ok, failures }
    })
    const live = GrokClient.layer({ apiKey: Redacted.make(target.apiKey), baseUrl: target.url }).pipe(
      Layer.provide(Layer.merge(FetchHttpClient.layer, RateLimiter.layer(limiter)))
    )
    // The client logs every retry as a warning; the benchmark counts them from the server instead.
    return Effect.runPromise(
      program.pipe(Effect.provide(live), Logger.withMinimumLogLevel(LogLevel.None), Effect.orDie)
    )
  }
}
