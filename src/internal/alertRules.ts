/**
 * The alert rules of `Alerts.make` as plain state and one pure step: each rule raises when the window's figure
 * reaches its threshold (with enough calls, and not again within the quiet interval) and resolves at its lower
 * threshold, or when the window empties.
 */
import * as Duration from "effect/Duration"

export type Rule = "errorRate" | "rateLimitRate" | "p95Latency"

export interface Sample {
  readonly atMillis: number
  readonly error: boolean
  readonly rateLimited: boolean
  readonly durationMillis: number
}

export interface MutableRule {
  readonly rule: Rule
  readonly raise: number
  readonly resolve: number
  raised: boolean
  raisedAtMillis: number | undefined
  lastRaisedAtMillis: number | undefined
}

interface Window {
  readonly calls: number
  readonly errorRate: number
  readonly rateLimitRate: number
  readonly p95Millis: number
}

interface Thresholds {
  readonly raise: number
  readonly resolve: number
}

interface LatencyThresholds {
  readonly raise: Duration.DurationInput
  readonly resolve: Duration.DurationInput
}

interface RuleOptions {
  readonly errorRate?: Thresholds | false | undefined
  readonly rateLimitRate?: Thresholds | false | undefined
  readonly p95Latency?: LatencyThresholds | false | undefined
}

const valueOf = (rule: Rule, window: Window) =>
  rule === "errorRate" ? window.errorRate : rule === "rateLimitRate" ? window.rateLimitRate : window.p95Millis

export const fromOptions = (
  options: RuleOptions,
  defaults: {
    readonly errorRate: Thresholds
    readonly rateLimitRate: Thresholds
    readonly p95Latency: LatencyThresholds
  }
): Array<MutableRule> => {
  const make = (rule: Rule, raise: number, resolve: number): MutableRule => ({
    rule,
    raise,
    resolve: Math.min(resolve, raise),
    raised: false,
    raisedAtMillis: undefined,
    lastRaisedAtMillis: undefined
  })
  const errorRate = options.errorRate ?? defaults.errorRate
  const rateLimitRate = options.rateLimitRate ?? defaults.rateLimitRate
  const p95 = options.p95Latency ?? defaults.p95Latency
  return [
    ...(errorRate === false ? [] : [make("errorRate", errorRate.raise, errorRate.resolve)]),
    ...(rateLimitRate === false ? [] : [make("rateLimitRate", rateLimitRate.raise, rateLimitRate.resolve)]),
    ...(p95 === false ? [] : [make("p95Latency", Duration.toMillis(p95.raise), Duration.toMillis(p95.resolve))])
  ]
}

export interface Change {
  readonly raised: boolean
  readonly figures: {
    readonly rule: Rule
    readonly value: number
    readonly calls: number
    readonly windowMillis: number
    readonly atMillis: number
    readonly threshold: number
    readonly raisedAtMillis: number
  }
}

/** Moves every rule on by the window's figures at `now`; returns the raises and resolutions that happened. */
export const evaluate = (
  rules: ReadonlyArray<MutableRule>,
  window: Window,
  config: {
    readonly now: number
    readonly windowMillis: number
    readonly minCalls: number
    readonly minIntervalMillis: number
  }
): Array<Change> => {
  const { now, minCalls } = config
  const changes: Array<Change> = []
  for (const state of rules) {
    const value = valueOf(state.rule, window)
    const base = { rule: state.rule, value, calls: window.calls, windowMillis: config.windowMillis, atMillis: now }
    if (!state.raised) {
      const quiet = state.lastRaisedAtMillis === undefined || now - state.lastRaisedAtMillis >= config.minIntervalMillis
      if (window.calls >= minCalls && value >= state.raise && quiet) {
        state.raised = true
        state.raisedAtMillis = now
        state.lastRaisedAtMillis = now
        changes.push({ raised: true, figures: { ...base, threshold: state.raise, raisedAtMillis: now } })
      }
    } else if (window.calls === 0 || (window.calls >= minCalls && value <= state.resolve)) {
      const raisedAtMillis = state.raisedAtMillis ?? now
      changes.push({ raised: false, figures: { ...base, threshold: state.resolve, raisedAtMillis } })
      state.raised = false
      state.raisedAtMillis = undefined
    }
  }
  return changes
}
