/**
 * Builds the `Pipeline.Client` every public client (GrokClient, GrokBatches) runs its calls with, from the same
 * options: key, base URL, retry policy, timeouts, answer size cap, and the limiter, alert monitor, breaker and
 * retry budget found when the client is built. GrokClient's adds its containment: its own breaker and budget
 * unless told not to, fallback models, and the key refresh.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Alerts from "../../Alerts.js"
import * as CircuitBreaker from "../../CircuitBreaker.js"
import * as RateLimiter from "../../RateLimiter.js"
import * as RetryBudget from "../../RetryBudget.js"
import * as RetryPolicy from "../../RetryPolicy.js"
import * as Credentials from "./credentials.js"
import { type Client, foundOrMade } from "./pipeline.js"

/** The options a client is built from (`GrokClient.Options` has this shape). */
export interface ClientOptions {
  readonly apiKey: Redacted.Redacted<string>
  readonly baseUrl?: string
  readonly retry?: RetryPolicy.RetryPolicy
  readonly attemptTimeout?: Duration.DurationInput
  readonly deadline?: Duration.DurationInput
  readonly maxQueueWait?: Duration.DurationInput
  readonly maxResponseBytes?: number
}

/** The default base URL of the xAI API. */
export const DEFAULT_BASE_URL = "https://api.x.ai/v1"

/** The default cap on the bytes of one answer, after decompression: 16 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024

/**
 * The attempt timeout decoded once, as every attempt reads it: a string such as the default "120 seconds" would be
 * parsed again at each one. A value that does not decode is kept as given, to fail where it always has.
 */
const decodedOnce = (timeout: Duration.DurationInput): Duration.DurationInput =>
  Option.getOrElse(Duration.decodeUnknown(timeout), () => timeout)

/** The base URL without trailing slashes. */
export const baseUrlOf = (options: ClientOptions): string => (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "")

/** GrokClient's options beyond the shared ones. */
export interface ContainmentOptions {
  readonly breaker?: CircuitBreaker.Options | false
  readonly retryBudget?: RetryBudget.Options | false
  readonly fallbackModels?: ReadonlyArray<string>
  readonly refreshApiKey?: Effect.Effect<Redacted.Redacted<string>, unknown>
}

const assemble = (
  options: ClientOptions,
  credentials: Credentials.Credentials,
  contained: Pick<Client["built"], "breaker" | "budget"> & { readonly fallbackModels?: ReadonlyArray<string> }
): Effect.Effect<Client, never, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    return {
      baseUrl: baseUrlOf(options),
      credentials,
      transport: {
        http: yield* HttpClient.HttpClient,
        key: credentials.current,
        maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
        secrets: credentials.secrets
      },
      defaults: {
        retry: options.retry ?? RetryPolicy.standard,
        attemptTimeout: decodedOnce(options.attemptTimeout ?? "120 seconds"),
        deadline: options.deadline,
        maxQueueWait: options.maxQueueWait,
        fallbackModels: contained.fallbackModels
      },
      built: {
        limiter: yield* Effect.serviceOption(RateLimiter.RateLimiter),
        alerts: yield* Effect.serviceOption(Alerts.AlertMonitor),
        breaker: contained.breaker,
        budget: contained.budget
      }
    } satisfies Client
  })

/** A client with a fixed key that uses a breaker or a budget only when the context has one (GrokBatches). */
export const makeClient = (options: ClientOptions): Effect.Effect<Client, never, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const breaker = yield* Effect.serviceOption(CircuitBreaker.CircuitBreaker)
    const budget = yield* Effect.serviceOption(RetryBudget.RetryBudget)
    return yield* assemble(options, Credentials.fixed(options.apiKey), { breaker, budget })
  })

/** GrokClient's client: its own breaker and budget unless the context has one or the option is false. */
export const makeContainedClient = (
  options: ClientOptions & ContainmentOptions
): Effect.Effect<
  Client,
  CircuitBreaker.InvalidCircuitBreakerOptions | RetryBudget.InvalidRetryBudgetOptions,
  HttpClient.HttpClient | Scope.Scope
> =>
  Effect.gen(function* () {
    const credentials = yield* Credentials.make(options.apiKey, options.refreshApiKey)
    const breaker = yield* foundOrMade(CircuitBreaker.CircuitBreaker, options.breaker, CircuitBreaker.make)
    const budget = yield* foundOrMade(RetryBudget.RetryBudget, options.retryBudget, RetryBudget.make)
    const fallbackModels = options.fallbackModels
    return yield* assemble(options, credentials, {
      breaker,
      budget,
      ...(fallbackModels !== undefined ? { fallbackModels } : {})
    })
  })
