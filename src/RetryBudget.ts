/**
 * Retry budget: one token bucket for the whole client, in the manner of the AWS SDK's standard retry mode, that
 * bounds how many extra requests retries may add when a service keeps failing and the breaker cannot tell (the
 * failures are spread over many keys, or stay under its ratio).
 *
 * Every retry spends tokens first: `retryCost` (5), or `timeoutCost` (10) after a timeout, which holds a
 * connection and the server's time for the longest. A retry that finds too few tokens is not made. A call that
 * succeeds at its first attempt puts back `successRefund` (1); one that succeeds on a retry puts back `retryCost`,
 * so retries that work cost nothing in the long run. Out of `capacity` (500), up to 100 failing retries may run
 * back to back; after that, failing retries are at most one for every five first-attempt successes, so a long
 * outage adds at most 20% requests on top of the first attempts. docs/containment.md gives the reasons.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RetryBudget } from "grok-resilience"
 *
 * const mayRetry = (error: { readonly _tag: string; readonly reason?: string }) =>
 *   Effect.flatMap(RetryBudget.RetryBudget, (budget) => budget.tryAcquire(error))
 * ```
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import * as Metrics from "./internal/breaker/metrics.js"

/**
 * Every field is optional; the defaults are the AWS SDK standard mode's.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Tokens when full, and at the start. Default 500. */
  readonly capacity?: number
  /** Tokens one retry spends. Default 5. */
  readonly retryCost?: number
  /** Tokens a retry after a timeout (`Transient` with reason "Timeout") spends. Default 10. */
  readonly timeoutCost?: number
  /**
   * Tokens a retry after a 429 (`RateLimited`) spends. Default 0: the rate limiter paces those retries, and a 429
   * says the service is busy, not broken.
   */
  readonly rateLimitedCost?: number
  /** Tokens a call that succeeded at its first attempt puts back. Default 1. */
  readonly successRefund?: number
}

/**
 * What a retry was asked for: any error with a tag, and a reason where it has one (`GrokError` values fit).
 *
 * @since 0.2.0
 * @category models
 */
export interface RetryCause {
  readonly _tag: string
  readonly reason?: string | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Service {
  /** Spends the cost of a retry after `error` if the budget holds it; false means do not retry. */
  readonly tryAcquire: (error: RetryCause) => Effect.Effect<boolean>
  /** A call succeeded; `firstAttempt` is whether it needed no retry. Puts tokens back, up to the capacity. */
  readonly onSuccess: (firstAttempt: boolean) => Effect.Effect<void>
  /** Tokens left. */
  readonly available: Effect.Effect<number>
}

/**
 * The budget shared by every call of a client.
 *
 * @since 0.2.0
 * @category tags
 */
export class RetryBudget extends Context.Tag("grok-resilience/RetryBudget")<RetryBudget, Service>() {}

/**
 * An option of `make` or `layer` is out of range; the error names it.
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidRetryBudgetOptions extends Schema.TaggedError<InvalidRetryBudgetOptions>()(
  "InvalidRetryBudgetOptions",
  { field: Schema.String, expected: Schema.String, actual: Schema.String }
) {
  override get message(): string {
    return `Invalid RetryBudget option ${this.field}: expected ${this.expected}, got ${this.actual}`
  }
}

interface Settings {
  readonly capacity: number
  readonly retryCost: number
  readonly timeoutCost: number
  readonly rateLimitedCost: number
  readonly successRefund: number
}

const wholeNumber = (
  field: keyof Options,
  value: number | undefined,
  fallback: number,
  min: number
): Either.Either<number, InvalidRetryBudgetOptions> =>
  value === undefined
    ? Either.right(fallback)
    : Number.isSafeInteger(value) && value >= min
      ? Either.right(value)
      : Either.left(
          new InvalidRetryBudgetOptions({ field, expected: `a whole number ≥ ${min}`, actual: String(value) })
        )

const validate = (options: Options): Either.Either<Settings, InvalidRetryBudgetOptions> =>
  Either.all({
    capacity: wholeNumber("capacity", options.capacity, 500, 1),
    retryCost: wholeNumber("retryCost", options.retryCost, 5, 0),
    timeoutCost: wholeNumber("timeoutCost", options.timeoutCost, 10, 0),
    rateLimitedCost: wholeNumber("rateLimitedCost", options.rateLimitedCost, 0, 0),
    successRefund: wholeNumber("successRefund", options.successRefund, 1, 0)
  })

const costOf = (settings: Settings, error: RetryCause): number =>
  error._tag === "RateLimited"
    ? settings.rateLimitedCost
    : error._tag === "Transient" && error.reason === "Timeout"
      ? settings.timeoutCost
      : settings.retryCost

/** What one `tryAcquire` decided, and whether the budget just started or stopped refusing. */
interface Spend {
  readonly granted: boolean
  readonly tokens: number
  readonly change: "exhausted" | "recovered" | undefined
}

/** Tokens left, and whether the last `tryAcquire` was refused. */
interface Bucket {
  readonly tokens: number
  readonly refusing: boolean
}

const spend = (bucket: Bucket, cost: number): readonly [Spend, Bucket] => {
  const granted = bucket.tokens >= cost
  const tokens = granted ? bucket.tokens - cost : bucket.tokens
  const change = granted === bucket.refusing ? (granted ? "recovered" : "exhausted") : undefined
  return [
    { granted, tokens, change },
    { tokens, refusing: !granted }
  ]
}

/**
 * A budget of its own. Logs a warning when it starts refusing retries and a line when it grants one again.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, InvalidRetryBudgetOptions> =>
  Effect.gen(function* () {
    const settings = yield* validate(options)
    const gauge = (tokens: number) => Metric.set(Metrics.retryBudgetTokens, tokens)
    // A plain cell, changed only inside one step of a fiber: no other fiber can interleave with it.
    let bucket: Bucket = { tokens: settings.capacity, refusing: false }
    yield* gauge(settings.capacity)
    const tryAcquire = (error: RetryCause) =>
      Effect.gen(function* () {
        const cost = costOf(settings, error)
        const [result, next] = spend(bucket, cost)
        bucket = next
        yield* gauge(result.tokens)
        if (result.change === "exhausted") {
          yield* Effect.logWarning("RetryBudget: exhausted, failures are not retried until calls succeed again").pipe(
            Effect.annotateLogs({ tokens: result.tokens, cost, error: error._tag })
          )
        } else if (result.change === "recovered") {
          yield* Effect.logInfo("RetryBudget: retrying again").pipe(Effect.annotateLogs({ tokens: result.tokens }))
        }
        return result.granted
      })
    // A success on a full bucket (the usual case) changes nothing: no gauge update, one step.
    const onSuccess = (firstAttempt: boolean) =>
      Effect.withFiberRuntime<void>((fiber) => {
        const tokens = Math.min(
          settings.capacity,
          bucket.tokens + (firstAttempt ? settings.successRefund : settings.retryCost)
        )
        if (tokens === bucket.tokens) return Effect.void
        bucket = { ...bucket, tokens }
        Metrics.retryBudgetTokens.unsafeUpdate(tokens, fiber.getFiberRef(FiberRef.currentMetricLabels))
        return Effect.void
      })
    return { tryAcquire, onSuccess, available: Effect.sync(() => bucket.tokens) }
  })

/**
 * A budget that never refuses: every retry the policy asks for is made.
 *
 * @since 0.2.0
 * @category constructors
 */
export const unlimited: Service = {
  tryAcquire: () => Effect.succeed(true),
  onSuccess: () => Effect.void,
  available: Effect.succeed(Number.POSITIVE_INFINITY)
}

/**
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RetryBudget, InvalidRetryBudgetOptions> =>
  Layer.effect(RetryBudget, make(options))

/**
 * @since 0.2.0
 * @category layers
 */
export const layerUnlimited: Layer.Layer<RetryBudget> = Layer.succeed(RetryBudget, unlimited)
