/**
 * The GrokClient of a worker, built from the call options as `batch` builds it (its own circuit breaker and retry
 * budget, `--fallback-model`), with the quota always shared through the job's Redis (`--limiter-key` names it),
 * and the sender of `--api` and `--stream`.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { GrokClient, RetryPolicy } from "grok-resilience"
import * as Endpoint from "../endpoint.js"
import type { UsageError } from "../errors.js"
import * as Limiter from "../limiter.js"
import { defaults } from "../options.js"
import * as Send from "../send.js"
import type { WorkConfig } from "./options.js"

export const make = (
  config: WorkConfig,
  notice: (text: string) => void
): Effect.Effect<Send.Send, UsageError, Scope.Scope> =>
  Effect.gen(function* () {
    const target = yield* Endpoint.planFromFlags(config, defaults.baseUrl)
    const limiter = yield* Layer.build(
      Limiter.layer({
        rpm: config.rpm,
        tpm: config.tpm,
        concurrency: config.concurrency,
        redis: Option.some(config.redis),
        limiterKey: config.limiterKey
      })
    )
    const endpoint = yield* Endpoint.start(target, notice)
    const services = yield* Layer.build(
      GrokClient.layer({
        apiKey: endpoint.apiKey,
        baseUrl: endpoint.baseUrl,
        retry: RetryPolicy.make({ maxAttempts: config.maxAttempts, maxWait: config.maxWait }),
        attemptTimeout: config.timeout,
        idleTimeout: config.idleTimeout,
        fallbackModels: config.fallbackModels
      }).pipe(
        Layer.provide(FetchHttpClient.layer),
        Layer.provide(Layer.succeedContext(limiter)),
        // The breaker's and the budget's options are their defaults here, which are valid.
        Layer.orDie
      )
    )
    return Send.make(Context.get(services, GrokClient.GrokClient), { stream: config.stream })
  })
