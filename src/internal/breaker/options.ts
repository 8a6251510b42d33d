/**
 * The options of a circuit breaker, their defaults, and their validation into the settings it runs on.
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Schedule from "effect/Schedule"
import { InvalidCircuitBreakerOptions } from "./errors.js"
import type * as State from "./state.js"

export interface Options {
  /** Failures in a row (ignored outcomes do not break the row) that open the breaker. Default 5. */
  readonly consecutiveFailures?: number
  /** Share of failed calls in the window that opens the breaker, in (0, 1]. Default 0.5. */
  readonly failureRatio?: number
  /** The sliding window the ratio is measured over. Default 10 seconds. */
  readonly window?: Duration.DurationInput
  /** Slices of the window: it slides by `window / windowBuckets`, and memory is one count per slice. Default 10. */
  readonly windowBuckets?: number
  /** Calls (success or failure) the window must hold before the ratio may open the breaker. Default 10. */
  readonly minimumCalls?: number
  /**
   * Length of each break: the n-th break after the breaker left Closed is the schedule's n-th delay. Default
   * ten breaks of 500 ms, then exponential from 1 second, factor 2, capped at 30 seconds. A schedule that ends
   * keeps its last delay.
   */
  readonly breakSchedule?: Schedule.Schedule<unknown, unknown>
  /** A probe with no verdict after this long counts as failed. Default 120 seconds (the client's attempt timeout). */
  readonly probeTimeout?: Duration.DurationInput
  /**
   * A key with no success yet lets at most `calls` calls out (default `consecutiveFailures`: as many as it takes
   * to open the breaker; a failed call keeps its slot, an ignored one gives it back) and holds the others until
   * one succeeds or `hold` has passed since the first went out (default 1 second); `false` or `calls: 0` turns it
   * off. A service that is down from the first request then costs those few failures, not a whole first wave.
   */
  readonly coldStart?: false | { readonly calls?: number; readonly hold?: Duration.DurationInput }
}

export interface Settings {
  readonly machine: State.Settings
  readonly breakSchedule: Schedule.Schedule<unknown, unknown>
}

const QUICK_BREAKS = 10

/**
 * Ten breaks of 500 ms (the first 5 seconds of an outage), then exponential from 1 second, doubling, capped at 30
 * seconds: 0.5 × 10, 1, 2, 4, 8, 16, 30, 30, ...
 */
export const defaultBreakSchedule: Schedule.Schedule<Duration.Duration> = Schedule.andThen(
  Schedule.fromDelays("500 millis", ...Array.from({ length: QUICK_BREAKS - 1 }, () => "500 millis" as const)),
  Schedule.modifyDelay(Schedule.exponential("1 second", 2), (_, delay) => Duration.min(delay, Duration.seconds(30)))
)

class Invalid {
  constructor(readonly error: InvalidCircuitBreakerOptions) {}
}

const fail = (field: string, expected: string, actual: unknown): never => {
  throw new Invalid(new InvalidCircuitBreakerOptions({ field, expected, actual: String(actual) }))
}

const wholeNumber = (field: string, value: number | undefined, fallback: number): number => {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) fail(field, "a whole number ≥ 1", value)
  return value
}

const ratio = (field: string, value: number | undefined, fallback: number): number => {
  if (value === undefined) return fallback
  if (typeof value !== "number" || !(value > 0 && value <= 1)) fail(field, "a number in (0, 1]", value)
  return value
}

const millis = (field: string, value: Duration.DurationInput | undefined, fallback: number): number => {
  if (value === undefined) return fallback
  const decoded = Duration.decodeUnknown(value)
  const ms = decoded._tag === "Some" && Duration.isFinite(decoded.value) ? Duration.toMillis(decoded.value) : NaN
  if (!(ms > 0)) fail(field, "a finite duration > 0", value)
  return ms
}

const coldStart = (value: Options["coldStart"], consecutiveFailures: number): State.ColdStart => {
  if (value === false) return { calls: 0, holdMillis: 0 }
  if (value !== undefined && (typeof value !== "object" || value === null))
    fail("coldStart", "false or an object", value)
  const calls = value?.calls ?? consecutiveFailures
  if (!Number.isSafeInteger(calls) || calls < 0) fail("coldStart.calls", "a whole number ≥ 0", calls)
  return { calls, holdMillis: millis("coldStart.hold", value?.hold, 1_000) }
}

const settings = (options: Options): Settings => {
  const windowMillis = millis("window", options.window, 10_000)
  const buckets = wholeNumber("windowBuckets", options.windowBuckets, 10)
  if (windowMillis / buckets < 1) fail("windowBuckets", `at most one bucket per millisecond of window`, buckets)
  const breakSchedule = options.breakSchedule ?? defaultBreakSchedule
  if (!Schedule.isSchedule(breakSchedule)) fail("breakSchedule", "a Schedule", breakSchedule)
  const consecutiveFailures = wholeNumber("consecutiveFailures", options.consecutiveFailures, 5)
  return {
    machine: {
      consecutiveFailures,
      failureRatio: ratio("failureRatio", options.failureRatio, 0.5),
      minimumCalls: wholeNumber("minimumCalls", options.minimumCalls, 10),
      window: { windowMillis, bucketMillis: windowMillis / buckets },
      probeTimeoutMillis: millis("probeTimeout", options.probeTimeout, 120_000),
      coldStart: coldStart(options.coldStart, consecutiveFailures)
    },
    breakSchedule
  }
}

/** Checks every option and fills in the defaults; the first invalid option becomes the error. */
export const validate = (options: Options): Either.Either<Settings, InvalidCircuitBreakerOptions> => {
  try {
    return Either.right(settings(options))
  } catch (error) {
    if (error instanceof Invalid) return Either.left(error.error)
    throw error
  }
}
