/**
 * Circuit breaker: stops sending to a key (a model at a base URL) that keeps failing, and lets the calls that
 * arrive meanwhile wait for one probe instead of piling up retries against a dead service.
 *
 * Closed, every call passes and the caller reports its outcome. The breaker opens after `consecutiveFailures`
 * failures in a row, or when at least `failureRatio` of the calls in the last `window` failed once there were
 * `minimumCalls` of them. Open, callers wait; when the break is over, the first caller becomes the one probe
 * (half-open). Its success closes the breaker and releases every waiter at the same instant; its failure starts
 * a longer break along `breakSchedule`. Only what the caller reports as "failure" counts: report transient
 * errors and timeouts (`countsAsFailure`), and report a 429, a validation or an auth error as "ignored": the rate
 * limiter owns 429s, and a bad request says nothing about the service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "grok-resilience"
 *
 * const guarded = <A, E extends { readonly _tag: string }>(key: string, call: Effect.Effect<A, E>) =>
 *   Effect.flatMap(CircuitBreaker.CircuitBreaker, (breaker) =>
 *     Effect.scoped(
 *       Effect.flatMap(breaker.admit(key, { maxWaitMillis: 5_000 }), (pass) =>
 *         call.pipe(
 *           Effect.tap(() => pass.report("success")),
 *           Effect.tapError((error) => pass.report(CircuitBreaker.countsAsFailure(error) ? "failure" : "ignored"))
 *         )
 *       )
 *     )
 *   )
 * ```
 *
 * @since 0.2.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Breaker from "./internal/breaker/breaker.js"
import * as Errors from "./internal/breaker/errors.js"
import * as BreakerOptions from "./internal/breaker/options.js"
import type * as State from "./internal/breaker/state.js"
import type * as Types from "./internal/breaker/types.js"

/**
 * "Closed" lets every call pass, "Open" holds them during a break, "HalfOpen" has let one probe through.
 *
 * @since 0.2.0
 * @category models
 */
export type Status = State.Status

/**
 * The caller's verdict on a call: "failure" counts against the key, "success" for it, "ignored" not at all.
 *
 * @since 0.2.0
 * @category models
 */
export type Outcome = State.Outcome

/**
 * A call let through. Report its outcome once; a scope closed without a report counts as "ignored" and frees the
 * probe slot when the pass was the probe (an interrupted probe cannot wedge the breaker).
 *
 * @since 0.2.0
 * @category models
 */
export type Pass = Types.Pass

/**
 * @since 0.2.0
 * @category models
 */
export type AdmitOptions = Types.AdmitOptions

/**
 * A status change of one key: `{ key, from, to, atMillis }`, and `breakMillis` when the breaker opened.
 *
 * @since 0.2.0
 * @category models
 */
export type Transition = Types.Transition

/**
 * @since 0.2.0
 * @category models
 */
export type Service = Types.Service

/**
 * The options of `make` and `layer`; every field is optional. The defaults and the reasons for them are in
 * docs/containment.md.
 *
 * @since 0.2.0
 * @category models
 */
export type Options = BreakerOptions.Options

/**
 * The caller could not wait for the probe within its `maxWaitMillis`; `retryAfterMillis` is the time until the next
 * probe may start, at the earliest. The pipeline maps it to `Rejected({ reason: "CircuitOpen" })`.
 *
 * @since 0.2.0
 * @category errors
 */
export const CircuitOpenError = Errors.CircuitOpenError

/**
 * @since 0.2.0
 * @category errors
 */
export type CircuitOpenError = Errors.CircuitOpenError

/**
 * An option of `make` or `layer` is out of range; the error names it.
 *
 * @since 0.2.0
 * @category errors
 */
export const InvalidCircuitBreakerOptions = Errors.InvalidCircuitBreakerOptions

/**
 * @since 0.2.0
 * @category errors
 */
export type InvalidCircuitBreakerOptions = Errors.InvalidCircuitBreakerOptions

/**
 * The default `breakSchedule`: ten breaks of 0.5 s, then 1, 2, 4, 8, 16, 30, 30, ... seconds (docs/containment.md
 * says why).
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultBreakSchedule: Schedule.Schedule<Duration.Duration> = BreakerOptions.defaultBreakSchedule

/**
 * The breakers of every key, shared by every call that runs with this layer.
 *
 * @since 0.2.0
 * @category tags
 */
export class CircuitBreaker extends Context.Tag("grok-resilience/CircuitBreaker")<CircuitBreaker, Service>() {}

/**
 * Whether an error should be reported as "failure": only `Transient` (5xx, connection failures, timeouts, bodies
 * cut short). `RateLimited` belongs to the rate limiter; `Validation`, `AuthError`, `QuotaExhausted` and
 * `Rejected` say nothing about the service's health.
 *
 * @since 0.2.0
 * @category predicates
 */
export const countsAsFailure = (error: { readonly _tag: string }): boolean => error._tag === "Transient"

/**
 * Builds the breakers in the current scope; `transitions` ends when the scope closes.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, InvalidCircuitBreakerOptions, Scope.Scope> =>
  Effect.flatMap(BreakerOptions.validate(options), Breaker.make)

/**
 * The breakers as a layer. Invalid options fail the layer with `InvalidCircuitBreakerOptions`.
 *
 * @example
 * ```ts
 * import { Schedule } from "effect"
 * import { CircuitBreaker } from "grok-resilience"
 *
 * const Breakers = CircuitBreaker.layer({ consecutiveFailures: 3, breakSchedule: Schedule.spaced("2 seconds") })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<CircuitBreaker, InvalidCircuitBreakerOptions> =>
  Layer.scoped(CircuitBreaker, make(options))

/**
 * The breakers with options read from `Config`, each field a `Config` of its own.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { CircuitBreaker } from "grok-resilience"
 *
 * const Breakers = CircuitBreaker.layerConfig({
 *   consecutiveFailures: Config.integer("BREAKER_CONSECUTIVE_FAILURES").pipe(Config.withDefault(5)),
 *   window: Config.duration("BREAKER_WINDOW").pipe(Config.withDefault("10 seconds"))
 * })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options> = {}
): Layer.Layer<CircuitBreaker, InvalidCircuitBreakerOptions | ConfigError.ConfigError> =>
  Layer.scoped(
    CircuitBreaker,
    Effect.gen(function* () {
      // `Config.unwrap` of an empty struct throws in effect 3.22: nothing to read then.
      const options: Options =
        Config.isConfig(config) || Object.keys(config).length > 0 ? yield* Config.unwrap(config) : {}
      return yield* make(options)
    })
  )
