/**
 * Retry policies: `Schedule`s over `GrokError`, built from exponential backoff, jitter, a Retry-After floor,
 * attempt bounds and deadlines, and swappable per call site.
 *
 * Every delay is measured with Effect's `Clock` and every random draw comes from Effect's `Random`, so
 * `TestClock` and a seeded `Random` make a policy fully deterministic.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Interval from "effect/ScheduleInterval"
import * as Intervals from "effect/ScheduleIntervals"
import type { GrokError } from "./GrokError.js"

/**
 * A retry policy: fed each failure, it decides whether and when to try again.
 *
 * @since 0.1.0
 * @category models
 */
export type RetryPolicy = Schedule.Schedule<unknown, GrokError>

/**
 * The jitter strategies of the AWS article "Exponential Backoff And Jitter":
 * - `none`: `min(max, base · factor^n)`
 * - `full`: `random(0, min(max, base · factor^n))`
 * - `equal`: `t/2 + random(0, t/2)` with `t = min(max, base · factor^n)`
 * - `decorrelated`: `min(max, random(base, previous · 3))`
 *
 * @since 0.1.0
 * @category models
 */
export type Jitter = "none" | "full" | "equal" | "decorrelated"

/**
 * @since 0.1.0
 * @category models
 */
export interface BackoffOptions {
  /** First delay. Default 250 ms. */
  readonly base?: Duration.DurationInput
  /** Growth per retry. Default 2. */
  readonly factor?: number
  /** Cap on one delay. Default 20 s. */
  readonly max?: Duration.DurationInput
  /** Default `"full"`. */
  readonly jitter?: Jitter
}

const millisOf = (input: Duration.DurationInput) => Duration.toMillis(Duration.decode(input))

const continueAfter = (now: number, delayMillis: number) =>
  ScheduleDecision.continueWith(Interval.after(now + Math.max(0, delayMillis)))

/** A schedule that recurs forever, the n-th delay (from 0) computed by `next` from the previous one. */
const delaysFrom = <R>(
  first: number,
  next: (n: number, previous: number) => Effect.Effect<number, never, R>
): Schedule.Schedule<Duration.Duration, unknown, R> =>
  Schedule.makeWithState({ n: 0, previous: first }, (now, _input: unknown, state) =>
    Effect.map(next(state.n, state.previous), Math.round).pipe(
      Effect.map((delay) => [{ n: state.n + 1, previous: delay }, Duration.millis(delay), continueAfter(now, delay)])
    )
  )

/**
 * Exponential backoff without jitter: `min(max, base · factor^n)`. Its delays are exact, for tests and for
 * callers who jitter elsewhere.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exponential = (options: Omit<BackoffOptions, "jitter"> = {}): Schedule.Schedule<Duration.Duration> =>
  backoff({ ...options, jitter: "none" })

/**
 * Exponential backoff with one of the jitter strategies (`full` by default).
 *
 * @example
 * ```ts
 * import { RetryPolicy } from "grok-resilience"
 *
 * const decorrelated = RetryPolicy.backoff({ base: "100 millis", max: "10 seconds", jitter: "decorrelated" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const backoff = (options: BackoffOptions = {}): Schedule.Schedule<Duration.Duration> => {
  const base = millisOf(options.base ?? "250 millis")
  const factor = options.factor ?? 2
  const max = millisOf(options.max ?? "20 seconds")
  const ceiling = (n: number) => Math.min(max, base * Math.pow(factor, n))
  switch (options.jitter ?? "full") {
    case "none":
      return delaysFrom(base, (n) => Effect.succeed(ceiling(n)))
    case "full":
      return delaysFrom(base, (n) => Effect.map(Random.next, (r) => r * ceiling(n)))
    case "equal":
      return delaysFrom(base, (n) => Effect.map(Random.next, (r) => ceiling(n) / 2 + (r * ceiling(n)) / 2))
    case "decorrelated":
      return delaysFrom(base, (_, previous) =>
        Effect.map(Random.next, (r) => Math.min(max, base + r * (Math.max(base, previous * 3) - base)))
      )
  }
}

/**
 * Never lets `self` wait less than the server asked (`retryAfterMillis` of a `RateLimited`, or of a `Transient` 5xx
 * that sent `Retry-After`). A wait above `maxWait` (default 60 s) stops at once, so the call fails with the error
 * that carries the server's wait instead of sleeping for it. `self` may be any schedule over `GrokError`, input-aware
 * ones included.
 *
 * @since 0.1.0
 * @category combinators
 */
export const retryAfterFloor: {
  (options?: {
    readonly maxWait?: Duration.DurationInput
  }): <Out, R>(self: Schedule.Schedule<Out, GrokError, R>) => Schedule.Schedule<Out, GrokError, R>
  <Out, R>(
    self: Schedule.Schedule<Out, GrokError, R>,
    options?: { readonly maxWait?: Duration.DurationInput }
  ): Schedule.Schedule<Out, GrokError, R>
} = dual(
  (args) => Schedule.isSchedule(args[0]),
  <Out, R>(self: Schedule.Schedule<Out, GrokError, R>, options: { readonly maxWait?: Duration.DurationInput } = {}) => {
    const maxWait = millisOf(options.maxWait ?? "60 seconds")
    return Schedule.makeWithState(self.initial, (now, error: GrokError, state) => {
      const asked = error._tag === "RateLimited" || error._tag === "Transient" ? error.retryAfterMillis : undefined
      if (asked !== undefined && asked > maxWait) {
        return Effect.succeed([state, undefined as Out, ScheduleDecision.done] as const)
      }
      return Effect.map(self.step(now, error, state), ([next, out, decision]) => {
        if (ScheduleDecision.isDone(decision) || asked === undefined) return [next, out, decision] as const
        const planned = Intervals.start(decision.intervals) - now
        return [next, out, continueAfter(now, Math.max(planned, asked))] as const
      })
    })
  }
)

/**
 * Bounds a schedule to `n` attempts in all (the first try plus `n - 1` retries).
 *
 * @since 0.1.0
 * @category combinators
 */
export const attempts: {
  (n: number): <Out, In, R>(self: Schedule.Schedule<Out, In, R>) => Schedule.Schedule<Out, In, R>
  <Out, In, R>(self: Schedule.Schedule<Out, In, R>, n: number): Schedule.Schedule<Out, In, R>
} = dual(2, <Out, In, R>(self: Schedule.Schedule<Out, In, R>, n: number) =>
  Schedule.makeWithState<readonly [unknown, number], In, Out, R>([self.initial, 1], (now, input, [inner, made]) => {
    if (made >= n) return Effect.succeed([[inner, made] as const, undefined as Out, ScheduleDecision.done] as const)
    return Effect.map(
      self.step(now, input, inner),
      ([next, out, decision]) => [[next, made + 1] as const, out, decision] as const
    )
  })
)

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends BackoffOptions {
  /** Attempts in all, the first included. Default 8. */
  readonly maxAttempts?: number
  /** Longest server-requested wait to honour; above it the call fails at once. Default 60 s. */
  readonly maxWait?: Duration.DurationInput
}

/**
 * Builds a policy: backoff with jitter, a Retry-After floor and an attempt bound. Time budgets belong to the call
 * (`deadline` of `GrokClient`), and which errors may be retried is the client's rule, not the policy's.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): RetryPolicy =>
  attempts(retryAfterFloor(backoff(options), { maxWait: options.maxWait ?? "60 seconds" }), options.maxAttempts ?? 8)

/**
 * The default policy: up to 8 attempts, full-jitter exponential backoff from 250 ms doubling to a 20 s cap,
 * waits of up to 60 s when the server asks for them.
 *
 * @since 0.1.0
 * @category presets
 */
export const standard: RetryPolicy = make()

export { standard as default }

/**
 * Never retry.
 *
 * @since 0.1.0
 * @category presets
 */
export const none: RetryPolicy = Schedule.stop

/**
 * The policy set for GrokClient calls in the current fiber, overriding the client's default.
 *
 * @since 0.1.0
 * @category fiber refs
 */
export const currentPolicy: FiberRef.FiberRef<Option.Option<RetryPolicy>> = FiberRef.unsafeMake(
  Option.none<RetryPolicy>()
)

/**
 * Runs an effect with every GrokClient call inside it retried by `policy` (a per-call `retry` option still wins).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { GrokClient, RetryPolicy } from "grok-resilience"
 *
 * const interactive = Effect.flatMap(GrokClient.GrokClient, (grok) =>
 *   grok.chat({ model: "grok-4", messages: [{ role: "user", content: "hi" }] })
 * ).pipe(RetryPolicy.withPolicy(RetryPolicy.make({ maxAttempts: 2 })))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withPolicy: {
  (policy: RetryPolicy): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, policy: RetryPolicy): Effect.Effect<A, E, R>
} = dual(2, <A, E, R>(self: Effect.Effect<A, E, R>, policy: RetryPolicy) =>
  Effect.locally(self, currentPolicy, Option.some(policy))
)
