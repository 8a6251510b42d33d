/**
 * The Grok client service: every call is an Effect with a typed error channel, retried by a `Schedule` policy
 * within a client-wide `RetryBudget`, guarded by a `CircuitBreaker` per model, admitted by the shared
 * `RateLimiter`, moved to fallback models when its own keeps failing, measured and traced.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as CircuitBreaker from "./CircuitBreaker.js"
import * as GrokApi from "./GrokApi.js"
import * as GrokError from "./GrokError.js"
import * as Calls from "./internal/client/calls.js"
import * as Deferred from "./internal/deferred/deferred.js"
import type { DeferredOptions, DeferredResult, Submitted as DeferredSubmission } from "./internal/deferred/deferred.js"
import { baseUrlOf, makeContainedClient } from "./internal/pipeline/client.js"
import * as RateLimiter from "./RateLimiter.js"
import type * as RetryBudget from "./RetryBudget.js"
import * as RetryPolicy from "./RetryPolicy.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly apiKey: Redacted.Redacted<string>
  /** Default `https://api.x.ai/v1`. */
  readonly baseUrl?: string
  /** The policy for calls that set none. Default `RetryPolicy.standard`. */
  readonly retry?: RetryPolicy.RetryPolicy
  /** Limit on one attempt, admission excluded. Default 120 s (reasoning models think for a while). */
  readonly attemptTimeout?: Duration.DurationInput
  /** Time budget of a whole call, retries and queueing included. Default none. */
  readonly deadline?: Duration.DurationInput
  /** Longest wait for admission per attempt. Default none (the limiter's own default applies). */
  readonly maxQueueWait?: Duration.DurationInput
  /** Largest answer read, in bytes after decompression; past it the call fails with `Validation`. Default 16 MiB. */
  readonly maxResponseBytes?: number
  /**
   * Streamed calls: the longest silence (no byte at all) before `Transient(StreamStalled)`. Default 120 s: a
   * reasoning model may think silently for a while, and the server sends no keep-alive meanwhile.
   */
  readonly idleTimeout?: Duration.DurationInput
  /**
   * The client's own circuit breakers (one per model), used when no `CircuitBreaker` is in the context; `false`
   * for none. Default on, with the defaults of `CircuitBreaker.make`.
   */
  readonly breaker?: CircuitBreaker.Options | false
  /**
   * The client's own retry budget, used when no `RetryBudget` is in the context; `false` for none. Default on,
   * with the defaults of `RetryBudget.make`.
   */
  readonly retryBudget?: RetryBudget.Options | false
  /**
   * Models to try, in order, when a call's own model fails with a retryable error after its retries or its breaker
   * is open (streams: before their first item). A call's `fallbackModels` replaces this list. Default none.
   */
  readonly fallbackModels?: ReadonlyArray<string>
  /**
   * A new key after the API refused the current one (`AuthError`): run once for concurrent failures, the call
   * retried once with the new key, a second `AuthError` final. Default none.
   */
  readonly refreshApiKey?: Effect.Effect<Redacted.Redacted<string>, unknown>
}

/**
 * Per-call settings; each overrides the client's and the enclosing `withPolicy` / `withPriority`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  readonly retry?: RetryPolicy.RetryPolicy
  readonly priority?: RateLimiter.Priority
  readonly deadline?: Duration.DurationInput
  readonly attemptTimeout?: Duration.DurationInput
  readonly maxQueueWait?: Duration.DurationInput
  /** Replaces the client's `fallbackModels` for this call (`[]` for none). */
  readonly fallbackModels?: ReadonlyArray<string>
}

/**
 * Options of streamed calls (`chatStream`, `responses.stream`, and `chat`/`responses.create` with `stream: true`).
 *
 * @since 0.2.0
 * @category models
 */
export interface StreamOptions extends CallOptions {
  /** Overrides the client's `idleTimeout`. */
  readonly idleTimeout?: Duration.DurationInput
}

/**
 * Options of `chat` and `responses.create`.
 *
 * @since 0.2.0
 * @category models
 */
export interface ChatOptions extends StreamOptions {
  /**
   * Stream under the hood and collect the result. Nothing reaches the caller before the end, so a failure
   * mid-stream is retried whole; the idle timeout replaces one long attempt timeout. Default false.
   */
  readonly stream?: boolean
}

/**
 * A successful Responses API call.
 *
 * @since 0.2.0
 * @category models
 */
export type ResponseResult = Calls.ResponseResult

/**
 * The Responses API (`/v1/responses`), xAI's preferred API.
 *
 * @since 0.2.0
 * @category models
 */
export interface ResponsesService {
  readonly create: (
    request: GrokApi.ResponseRequest,
    options?: ChatOptions
  ) => Effect.Effect<ResponseResult, GrokError.GrokError>
  /** The events as xAI sends them; retried until the first event, then a failure ends the stream typed. */
  readonly stream: (
    request: GrokApi.ResponseRequest,
    options?: StreamOptions
  ) => Stream.Stream<GrokApi.ResponseEvent, GrokError.GrokError>
  readonly get: (id: string, options?: CallOptions) => Effect.Effect<ResponseResult, GrokError.GrokError>
  readonly delete: (
    id: string,
    options?: CallOptions
  ) => Effect.Effect<{ readonly id: string; readonly deleted: boolean }, GrokError.GrokError>
}

/**
 * A successful chat call.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChatResult {
  readonly completion: GrokApi.ChatCompletion
  /** The first choice's text, or null for a tool call or refusal. */
  readonly content: string | null
  readonly usage: GrokApi.Usage | undefined
  /** `x-request-id` of the answer. */
  readonly requestId: string | undefined
  /** Attempts made, the successful one included. */
  readonly attempts: number
  /** The model that answered: the request's, or one of the fallback models. */
  readonly model: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly chat: (request: GrokApi.ChatRequest, options?: ChatOptions) => Effect.Effect<ChatResult, GrokError.GrokError>
  /**
   * The chunks as they arrive. Admission, retries and Retry-After apply until the first chunk; after it nothing is
   * replayed, and a failure (cut, stall, error event) ends the stream with a typed error carrying what was received.
   * Interrupting the consumer closes the connection.
   */
  readonly chatStream: (
    request: GrokApi.ChatRequest,
    options?: StreamOptions
  ) => Stream.Stream<GrokApi.ChatCompletionChunk, GrokError.GrokError>
  readonly models: (options?: CallOptions) => Effect.Effect<GrokApi.ModelList, GrokError.GrokError>
  readonly responses: ResponsesService
  /** Submits with `deferred: true`; collect the completion with `awaitDeferred` (xAI keeps it 24 h). @since 0.2.0 */
  readonly submitDeferred: (
    request: GrokApi.ChatRequest,
    options?: CallOptions
  ) => Effect.Effect<DeferredSubmission, GrokError.GrokError>
  /** Polls for a deferred completion; a 404 (unknown, expired, collected) is `Validation` `NotFound`. @since 0.2.0 */
  readonly awaitDeferred: (
    requestId: string,
    options?: DeferredOptions
  ) => Effect.Effect<DeferredResult, GrokError.GrokError>
  /** `submitDeferred`, then `awaitDeferred`. @since 0.2.0 */
  readonly chatDeferred: (
    request: GrokApi.ChatRequest,
    options?: DeferredOptions
  ) => Effect.Effect<DeferredResult, GrokError.GrokError>
}

/** Deferred completions: per-call options (polling `schedule`, `maxWait`), results. @since 0.2.0 @category models */
export type { DeferredOptions, DeferredResult, Submitted as DeferredSubmission } from "./internal/deferred/deferred.js"
/** Default polls of deferred completions: 0.5 s ×1.5 up to 10 s, jittered. @since 0.2.0 @category constants */
export { DEFAULT_SCHEDULE as deferredPolling } from "./internal/deferred/deferred.js"

/**
 * @since 0.1.0
 * @category tags
 */
export class GrokClient extends Context.Tag("grok-resilience/GrokClient")<GrokClient, Service>() {}

/**
 * The default base URL of the xAI API.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_BASE_URL = "https://api.x.ai/v1"

/**
 * Attempts made by the call that failed with this error, when it came out of a GrokClient call.
 *
 * @since 0.1.0
 * @category accessors
 */
export const attemptsOf = (error: GrokError.GrokError): number | undefined =>
  "attempts" in error && typeof error.attempts === "number" ? error.attempts : undefined

/** Streamed calls fail as stalled after this long without a byte (see `Options.idleTimeout`). */
const DEFAULT_IDLE_TIMEOUT = "120 seconds"

/**
 * Builds the service over an `HttpClient` (use `FetchHttpClient.layer`). The `RateLimiter`, `CircuitBreaker`,
 * `RetryBudget` and `AlertMonitor` are looked up on every call, in the call's context first and then in the
 * context the client was built in, so a service provided to the client layer, merged beside it or provided to the
 * program is always the one used. When neither has a breaker or a budget, the client uses its own (see
 * `Options.breaker` and `Options.retryBudget`), which live as long as the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<
  Service,
  CircuitBreaker.InvalidCircuitBreakerOptions | RetryBudget.InvalidRetryBudgetOptions,
  HttpClient.HttpClient | Scope.Scope
> =>
  Effect.gen(function* () {
    const client = yield* makeContainedClient(options)
    const baseUrl = baseUrlOf(options)
    return GrokClient.of({
      ...Calls.make(client, baseUrl, options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT),
      submitDeferred: (request, options) => Deferred.submit(client, baseUrl, request, options),
      awaitDeferred: (requestId, options) => Deferred.awaitCompletion(client, baseUrl, requestId, options),
      chatDeferred: (request, options) => Deferred.chat(client, baseUrl, request, options)
    })
  })

/**
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import { Layer, Redacted } from "effect"
 * import { GrokClient } from "grok-resilience"
 *
 * const GrokLive = GrokClient.layer({ apiKey: Redacted.make(process.env.XAI_API_KEY ?? "") }).pipe(
 *   Layer.provide(FetchHttpClient.layer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<
  GrokClient,
  CircuitBreaker.InvalidCircuitBreakerOptions | RetryBudget.InvalidRetryBudgetOptions,
  HttpClient.HttpClient
> => Layer.scoped(GrokClient, make(options))

/**
 * The API key from the environment variable `name` (default `XAI_API_KEY`), kept `Redacted`. A missing or empty
 * value is a `ConfigError` that names the variable.
 *
 * @since 0.2.0
 * @category config
 */
export const apiKeyConfig = (name = "XAI_API_KEY"): Config.Config<Redacted.Redacted<string>> =>
  // Read as a string first: `Config.redacted` reports a missing variable as a confusing "<redacted>".
  Config.string(name).pipe(
    Config.validate({
      message: `${name} is empty: set it to an xAI API key`,
      validation: (key) => key.trim().length > 0
    }),
    Config.map(Redacted.make)
  )

/**
 * The client with each option read from a `Config`, as `@effect/ai-openai`'s `OpenAiClient.layerConfig` does.
 * Defaults: `apiKey` from `XAI_API_KEY` (required, non-empty, kept `Redacted`), `baseUrl` from `XAI_BASE_URL`
 * (default `https://api.x.ai/v1`); every other option as in `layer`.
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import { Config, Layer } from "effect"
 * import { GrokClient } from "grok-resilience"
 *
 * const GrokLive = GrokClient.layerConfig({
 *   attemptTimeout: Config.duration("GROK_ATTEMPT_TIMEOUT").pipe(Config.withDefault("60 seconds"))
 * }).pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Partial<Options>> = {}
): Layer.Layer<
  GrokClient,
  ConfigError.ConfigError | CircuitBreaker.InvalidCircuitBreakerOptions | RetryBudget.InvalidRetryBudgetOptions,
  HttpClient.HttpClient
> =>
  Layer.scoped(
    GrokClient,
    Effect.gen(function* () {
      // `Config.unwrap` of an empty struct throws in effect 3.22: nothing to read then.
      const given: Partial<Options> =
        Config.isConfig(options) || Object.keys(options).length > 0 ? yield* Config.unwrap(options) : {}
      const apiKey = given.apiKey ?? (yield* apiKeyConfig())
      const baseUrl = given.baseUrl ?? (yield* Config.string("XAI_BASE_URL").pipe(Config.withDefault(DEFAULT_BASE_URL)))
      return yield* make({ ...given, apiKey, baseUrl })
    })
  )
