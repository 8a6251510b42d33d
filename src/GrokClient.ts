/**
 * The Grok client service: every call is an Effect with a typed error channel, retried by a `Schedule` policy,
 * admitted by the shared `RateLimiter`, measured and traced.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Alerts from "./Alerts.js"
import * as GrokApi from "./GrokApi.js"
import * as GrokError from "./GrokError.js"
import * as GrokMetrics from "./GrokMetrics.js"
import * as RateLimitHeaders from "./RateLimitHeaders.js"
import * as RateLimiter from "./RateLimiter.js"
import * as RetryPolicy from "./RetryPolicy.js"
import { observeRetries } from "./RetryObserver.js"
import { sendOnce } from "./Transport.js"

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
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly chat: (request: GrokApi.ChatRequest, options?: CallOptions) => Effect.Effect<ChatResult, GrokError.GrokError>
  readonly models: (options?: CallOptions) => Effect.Effect<GrokApi.ModelList, GrokError.GrokError>
}

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

/** The error with the number of attempts it took, for callers that report it (the CLI does). */
const withAttempts = <E extends GrokError.GrokError>(error: E, attempts: number): E => {
  // A copy, since the error may be shared; `stack` is not enumerable and must be carried over by hand.
  const copy: E = Object.assign(Object.create(Object.getPrototypeOf(error)), error, { attempts })
  Object.defineProperty(copy, "stack", { value: error.stack, enumerable: false, writable: true, configurable: true })
  return copy
}

/**
 * Attempts made by the call that failed with this error, when it came out of a GrokClient call.
 *
 * @since 0.1.0
 * @category accessors
 */
export const attemptsOf = (error: GrokError.GrokError): number | undefined =>
  "attempts" in error && typeof error.attempts === "number" ? error.attempts : undefined

interface Call<A> {
  readonly kind: "chat" | "models"
  readonly model: string
  readonly estimatedTokens: number
  readonly request: HttpClientRequest.HttpClientRequest
  readonly decode: (json: unknown) => Either.Either<A, unknown>
  readonly usage: (value: A) => GrokApi.Usage | undefined
}

/**
 * Builds the service over an `HttpClient` (use `FetchHttpClient.layer`) and, when present, the `RateLimiter`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options) =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const limiter = Option.getOrElse(yield* Effect.serviceOption(RateLimiter.RateLimiter), () => RateLimiter.unlimited)
    const alerts = yield* Effect.serviceOption(Alerts.AlertMonitor)
    const baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "")
    const secrets = [Redacted.value(options.apiKey)]
    const clientPolicy = options.retry ?? RetryPolicy.standard

    const run = <A>(call: Call<A>, callOptions: CallOptions) =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        const budget = callOptions.deadline ?? options.deadline
        const deadlineAt = budget === undefined ? undefined : started + Duration.toMillis(Duration.decode(budget))
        const policy =
          callOptions.retry ?? Option.getOrElse(yield* FiberRef.get(RetryPolicy.currentPolicy), () => clientPolicy)
        const ticket = yield* RateLimiter.ticketFor(call, {
          priority: callOptions.priority,
          maxQueueWait: callOptions.maxQueueWait ?? options.maxQueueWait
        })
        const attemptTimeout = callOptions.attemptTimeout ?? options.attemptTimeout ?? "120 seconds"
        const attempts = yield* Ref.make(0)
        const deadlineHit = yield* Ref.make(false)

        const attempt = Effect.scoped(
          Effect.gen(function* () {
            const n = yield* Ref.updateAndGet(attempts, (k) => k + 1)
            yield* Effect.annotateCurrentSpan("grok.attempt", n)
            const queued = yield* Clock.currentTimeMillis
            const permit = yield* limiter.acquire(ticket)
            const admitted = yield* Clock.currentTimeMillis
            yield* GrokMetrics.recordAdmissionWait({ model: call.model, durationMillis: admitted - queued })
            yield* GrokMetrics.recordLimiterState({ snapshot: yield* limiter.snapshot, nowMillis: admitted })
            const outcome = yield* sendOnce({ http, request: call.request, timeout: attemptTimeout, secrets })
            const finished = yield* Clock.currentTimeMillis
            const result = Either.flatMap(outcome.result, (json) =>
              Either.mapLeft(
                call.decode(json),
                () =>
                  new GrokError.Transient({
                    reason: "MalformedBody",
                    detail: `the ${call.kind} response did not match the expected schema`,
                    ...(outcome.status !== undefined ? { status: outcome.status } : {}),
                    ...(outcome.requestId !== undefined ? { requestId: outcome.requestId } : {})
                  })
              )
            )
            const usage = Either.isRight(result) ? call.usage(result.right) : undefined
            // Spent credits are not a rate: a 429 that says so must not cool down or slow the shared limiter.
            const quotaSpent = Either.isLeft(result) && result.left._tag === "QuotaExhausted"
            yield* permit.report({
              info: quotaSpent ? RateLimitHeaders.empty : outcome.info,
              ...(outcome.status !== undefined && !quotaSpent ? { status: outcome.status } : {}),
              ...(Either.isLeft(result) && result.left._tag === "RateLimited" && result.left.hint !== undefined
                ? { hint: result.left.hint }
                : {}),
              ...(usage !== undefined ? { usedTokens: usage.total_tokens } : {})
            })
            yield* Effect.annotateCurrentSpan({
              "http.response.status_code": outcome.status ?? 0,
              "grok.request_id": outcome.requestId ?? "",
              "grok.outcome": Either.isRight(result) ? "success" : result.left._tag
            })
            yield* GrokMetrics.recordAttempt({
              model: call.model,
              outcome: Either.isRight(result) ? "success" : result.left._tag,
              ...(outcome.status !== undefined ? { status: outcome.status } : {}),
              durationMillis: finished - admitted
            })
            yield* GrokMetrics.recordRateLimitInfo({ model: call.model, info: outcome.info })
            if (usage !== undefined) yield* GrokMetrics.recordUsage({ model: call.model, usage })
            return yield* Either.match(result, {
              onLeft: (error) => Effect.fail(error),
              onRight: (value) => Effect.succeed({ value, requestId: outcome.requestId })
            })
          })
        ).pipe(
          Effect.tapError((error) =>
            error._tag === "Rejected"
              ? GrokMetrics.recordRejected({ model: call.model, reason: error.reason })
              : Effect.void
          ),
          Effect.withSpan("grok.attempt", { attributes: { "grok.model": call.model, "grok.call": call.kind } })
        )

        const observed = observeRetries(policy, {
          model: call.model,
          attempts,
          ...(deadlineAt !== undefined ? { deadlineAt, deadlineHit } : {})
        })
        const retried = Effect.retry(attempt, observed)
        const bounded =
          deadlineAt === undefined
            ? retried
            : retried.pipe(
                Effect.timeout(Duration.millis(Math.max(0, deadlineAt - started))),
                Effect.catchTag("TimeoutException", () =>
                  Effect.zipRight(
                    Ref.set(deadlineHit, true),
                    Effect.fail(new GrokError.Rejected({ reason: "DeadlineExceeded" }))
                  )
                )
              )
        return yield* bounded.pipe(
          Effect.catchAll((error) =>
            Effect.gen(function* () {
              // Either the timeout fired (error is already the Rejected) or no retry could start in time.
              const hit = yield* Ref.get(deadlineHit)
              const final =
                hit && error._tag !== "Rejected"
                  ? new GrokError.Rejected({ reason: "DeadlineExceeded", detail: `last error: ${error.message}` })
                  : error
              // Admission rejections were counted where they happened; the call's own deadline is counted here.
              if (hit) yield* GrokMetrics.recordRejected({ model: call.model, reason: "DeadlineExceeded" })
              return yield* Effect.fail(withAttempts(final, yield* Ref.get(attempts)))
            })
          ),
          Effect.flatMap((result) => Effect.map(Ref.get(attempts), (made) => ({ ...result, attempts: made }))),
          Effect.onExit((exit) =>
            Effect.gen(function* () {
              const durationMillis = (yield* Clock.currentTimeMillis) - started
              const outcome = GrokMetrics.outcomeOfExit(exit)
              yield* GrokMetrics.recordCall({
                model: call.model,
                outcome,
                attempts: yield* Ref.get(attempts),
                durationMillis
              })
              if (Option.isSome(alerts)) {
                const status = Exit.isSuccess(exit)
                  ? 200
                  : Option.getOrUndefined(Cause.failureOption(exit.cause))?.status
                yield* alerts.value.observe({ outcome, durationMillis, ...(status !== undefined ? { status } : {}) })
              }
            })
          )
        )
      })

    const chat = (input: GrokApi.ChatRequest, callOptions: CallOptions = {}) =>
      Effect.gen(function* () {
        const valid = yield* Either.match(GrokApi.decodeChatRequest(input), {
          onLeft: (issue) =>
            Effect.fail(new GrokError.Validation({ reason: "InvalidRequest", detail: issue.message.slice(0, 2000) })),
          onRight: Effect.succeed
        })
        // Unknown fields pass validation untouched; one that JSON cannot encode (a BigInt, a cycle) is a typed error.
        const request = yield* HttpClientRequest.post(`${baseUrl}/chat/completions`).pipe(
          HttpClientRequest.bearerToken(options.apiKey),
          HttpClientRequest.acceptJson,
          HttpClientRequest.bodyJson(valid),
          Effect.mapError(
            (error) =>
              new GrokError.Validation({
                reason: "InvalidRequest",
                detail: `the request cannot be sent as JSON: ${error.reason._tag}`
              })
          )
        )
        const result = yield* run(
          {
            kind: "chat",
            model: valid.model,
            estimatedTokens: GrokApi.estimateTokens(valid),
            request,
            decode: GrokApi.decodeChatCompletion,
            usage: (completion) => completion.usage ?? undefined
          },
          callOptions
        )
        return {
          completion: result.value,
          content: result.value.choices[0]?.message.content ?? null,
          usage: result.value.usage ?? undefined,
          requestId: result.requestId,
          attempts: result.attempts
        } satisfies ChatResult
      }).pipe(Effect.withSpan("grok.chat", { attributes: { "grok.model": input.model } }))

    const models = (callOptions: CallOptions = {}) =>
      run(
        {
          kind: "models",
          model: "models",
          estimatedTokens: 0,
          request: HttpClientRequest.get(`${baseUrl}/models`).pipe(
            HttpClientRequest.bearerToken(options.apiKey),
            HttpClientRequest.acceptJson
          ),
          decode: GrokApi.decodeModelList,
          usage: () => undefined
        },
        callOptions
      ).pipe(
        Effect.map((result) => result.value),
        Effect.withSpan("grok.models")
      )

    return GrokClient.of({ chat, models })
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
export const layer = (options: Options): Layer.Layer<GrokClient, never, HttpClient.HttpClient> =>
  Layer.effect(GrokClient, make(options))

/**
 * The client configured from the environment: `XAI_API_KEY` (required, kept `Redacted`) and `XAI_BASE_URL`
 * (default `https://api.x.ai/v1`). Other options come from the argument.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "apiKey" | "baseUrl"> = {}
): Layer.Layer<GrokClient, import("effect/ConfigError").ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    GrokClient,
    Effect.gen(function* () {
      const apiKey = yield* Config.redacted("XAI_API_KEY")
      const baseUrl = yield* Config.string("XAI_BASE_URL").pipe(Config.withDefault(DEFAULT_BASE_URL))
      return yield* make({ ...options, apiKey, baseUrl })
    })
  )
