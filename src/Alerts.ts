/**
 * An error-spike monitor: error rate, 429 rate and p95 latency of finished calls over a sliding time window,
 * compared with raise and resolve thresholds, delivering `AlertRaised` / `AlertResolved` values to a sink.
 *
 * A rule raises only when the window holds at least `minCalls` calls and its figure reaches the raise threshold;
 * once raised it stays raised until the figure falls to the resolve threshold (hysteresis), and a rule raises again
 * no sooner than `minInterval` after its previous raise. Time comes from Effect's `Clock`, so `TestClock` drives it.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as AlertRules from "./internal/alertRules.js"

/**
 * The rules the monitor evaluates.
 *
 * @since 0.1.0
 * @category models
 */
export type Rule = AlertRules.Rule

/**
 * The figures of one alert. `value` and `threshold` are fractions (0–1) for the rate rules and milliseconds for
 * `p95Latency`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Figures {
  readonly rule: Rule
  /** The observed figure over the window when the alert fired. */
  readonly value: number
  /** The threshold it crossed: the raise threshold for `AlertRaised`, the resolve threshold for `AlertResolved`. */
  readonly threshold: number
  /** Calls in the window. */
  readonly calls: number
  readonly windowMillis: number
  /** Epoch millis (Effect `Clock`) when the alert fired. */
  readonly atMillis: number
}

const percent = (value: number) => `${(value * 100).toFixed(1)}%`

const figure = (rule: Rule, value: number) =>
  rule === "p95Latency" ? `${(value / 1000).toFixed(1)} s` : percent(value)

const windowText = (figures: Figures) =>
  `over ${figures.calls} calls in the last ${Duration.format(Duration.millis(figures.windowMillis))}`

/**
 * A rule crossed its raise threshold.
 *
 * @since 0.1.0
 * @category alerts
 */
export class AlertRaised extends Data.TaggedClass("AlertRaised")<Figures> {
  /** One line for logs and chat messages. */
  get message(): string {
    const { rule, threshold, value } = this
    return `Grok ${rule} ${figure(rule, value)} reached ${figure(rule, threshold)} ${windowText(this)}`
  }
}

/**
 * A raised rule fell back to its resolve threshold, or the window emptied.
 *
 * @since 0.1.0
 * @category alerts
 */
export class AlertResolved extends Data.TaggedClass("AlertResolved")<
  Figures & {
    /** When the alert this resolves was raised. */
    readonly raisedAtMillis: number
  }
> {
  /** One line for logs and chat messages. */
  get message(): string {
    const { rule, threshold, value } = this
    const lasted = Duration.format(Duration.millis(this.atMillis - this.raisedAtMillis))
    const resolveAt = figure(rule, threshold)
    return `Grok ${rule} back to ${figure(rule, value)} (resolve at ${resolveAt}) ${windowText(this)}, after ${lasted}`
  }
}

/**
 * @since 0.1.0
 * @category alerts
 */
export type Alert = AlertRaised | AlertResolved

const logAlert = (alert: Alert): Effect.Effect<void> =>
  Effect.annotateLogs(alert._tag === "AlertRaised" ? Effect.logWarning(alert.message) : Effect.logInfo(alert.message), {
    alert: alert._tag,
    rule: alert.rule,
    value: alert.value,
    threshold: alert.threshold,
    calls: alert.calls,
    windowMillis: alert.windowMillis
  })

/**
 * @since 0.1.0
 * @category models
 */
export declare namespace AlertSink {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** Delivers one alert. Runs inside `observe`: a slow sink (a webhook) should fork its work. */
    readonly deliver: (alert: Alert) => Effect.Effect<void>
  }
}

/**
 * Where alerts go. Without one, the monitor uses `AlertSink.log`.
 *
 * @since 0.1.0
 * @category tags
 */
export class AlertSink extends Context.Tag("grok-resilience/AlertSink")<AlertSink, AlertSink.Service>() {
  /** Logs `AlertRaised` as a warning and `AlertResolved` as info, with the figures as log annotations. */
  static readonly log: AlertSink.Service = { deliver: logAlert }
}

/**
 * Provides a sink from its `deliver` function.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSink = (deliver: (alert: Alert) => Effect.Effect<void>): Layer.Layer<AlertSink> =>
  Layer.succeed(AlertSink, { deliver })

/**
 * A finished call as the monitor sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Observation {
  /** "success" or the GrokError tag. */
  readonly outcome: string
  /** The final HTTP status, if there was one. */
  readonly status?: number | undefined
  readonly durationMillis: number
}

/**
 * The figures of the current window.
 *
 * @since 0.1.0
 * @category models
 */
export interface WindowStats {
  readonly calls: number
  readonly errors: number
  readonly rateLimited: number
  /** errors / calls, 0 for an empty window. */
  readonly errorRate: number
  /** rateLimited / calls, 0 for an empty window. */
  readonly rateLimitRate: number
  /** Nearest-rank 95th percentile of call durations, 0 for an empty window. */
  readonly p95Millis: number
}

/**
 * Where one rule stands.
 *
 * @since 0.1.0
 * @category models
 */
export interface RuleState {
  readonly rule: Rule
  readonly raised: boolean
  readonly raisedAtMillis?: number | undefined
  readonly lastRaisedAtMillis?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface MonitorState {
  readonly atMillis: number
  readonly window: WindowStats
  /** The enabled rules. */
  readonly rules: ReadonlyArray<RuleState>
}

/**
 * @since 0.1.0
 * @category models
 */
export declare namespace AlertMonitor {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** Adds a finished call to the window, then evaluates the rules and delivers any alert. */
    readonly observe: (observation: Observation) => Effect.Effect<void>
    /** Evaluates the rules against the window as of now (the background fiber calls this). */
    readonly evaluate: Effect.Effect<void>
    readonly state: Effect.Effect<MonitorState>
  }
}

/**
 * The monitor. GrokClient observes every finished call when this service is present.
 *
 * @since 0.1.0
 * @category tags
 */
export class AlertMonitor extends Context.Tag("grok-resilience/AlertMonitor")<AlertMonitor, AlertMonitor.Service>() {}

/**
 * Raise and resolve levels of a rate rule, as fractions. `resolve` must not exceed `raise`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Thresholds {
  readonly raise: number
  readonly resolve: number
}

/**
 * Raise and resolve levels of the p95 latency rule.
 *
 * @since 0.1.0
 * @category models
 */
export interface LatencyThresholds {
  readonly raise: Duration.DurationInput
  readonly resolve: Duration.DurationInput
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Length of the sliding window. Default 60 seconds. */
  readonly window?: Duration.DurationInput | undefined
  /** Fewest calls in the window for a rule to raise. Default 20. */
  readonly minCalls?: number | undefined
  /** Share of calls that failed (any outcome but "success"). Default raise 0.25, resolve 0.10; `false` disables. */
  readonly errorRate?: Thresholds | false | undefined
  /** Share of calls that ended with a 429 or `RateLimited`. Default raise 0.2, resolve 0.05; `false` disables. */
  readonly rateLimitRate?: Thresholds | false | undefined
  /** p95 of call durations. Default raise 30 seconds, resolve 20 seconds; `false` disables. */
  readonly p95Latency?: LatencyThresholds | false | undefined
  /** Shortest time between two `AlertRaised` of the same rule. Default 5 minutes. */
  readonly minInterval?: Duration.DurationInput | undefined
  /** How often a background fiber re-evaluates, so the window slides without traffic. Default 10 seconds. */
  readonly evaluateEvery?: Duration.DurationInput | false | undefined
}

/**
 * The documented defaults of `Options`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  window: Duration.seconds(60),
  minCalls: 20,
  errorRate: { raise: 0.25, resolve: 0.1 },
  rateLimitRate: { raise: 0.2, resolve: 0.05 },
  p95Latency: { raise: Duration.seconds(30), resolve: Duration.seconds(20) },
  minInterval: Duration.minutes(5),
  evaluateEvery: Duration.seconds(10)
} as const

/**
 * Computes window figures from samples (pure; exported for tests and custom monitors).
 *
 * @since 0.1.0
 * @category utils
 */
export const stats = (samples: ReadonlyArray<Omit<AlertRules.Sample, "atMillis">>): WindowStats => {
  const calls = samples.length
  if (calls === 0) return { calls, errors: 0, rateLimited: 0, errorRate: 0, rateLimitRate: 0, p95Millis: 0 }
  const errors = samples.filter((sample) => sample.error).length
  const rateLimited = samples.filter((sample) => sample.rateLimited).length
  const durations = samples.map((sample) => sample.durationMillis).sort((a, b) => a - b)
  const p95Millis = durations[Math.ceil(0.95 * calls) - 1] ?? 0
  return { calls, errors, rateLimited, errorRate: errors / calls, rateLimitRate: rateLimited / calls, p95Millis }
}

const withoutRaisedAt = ({ raisedAtMillis: _, ...figures }: AlertRules.Change["figures"]): Figures => figures

/**
 * Builds a monitor delivering to the `AlertSink` in context (or `AlertSink.log`), with its background evaluation
 * fiber tied to the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<AlertMonitor.Service, never, Scope.Scope> =>
  Effect.gen(function* () {
    const sink = yield* Effect.serviceOption(AlertSink)
    const deliver = sink._tag === "Some" ? sink.value.deliver : AlertSink.log.deliver
    const windowMillis = Duration.toMillis(options.window ?? defaults.window)
    const minCalls = options.minCalls ?? defaults.minCalls
    const minIntervalMillis = Duration.toMillis(options.minInterval ?? defaults.minInterval)
    const rules = AlertRules.fromOptions(options, defaults)
    const samples: Array<AlertRules.Sample> = []
    const lock = yield* Effect.makeSemaphore(1)

    const prune = (now: number) => {
      const firstKept = samples.findIndex((sample) => sample.atMillis > now - windowMillis)
      samples.splice(0, firstKept === -1 ? samples.length : firstKept)
    }

    const transitions = (now: number): Array<Alert> => {
      prune(now)
      const window = stats(samples)
      return AlertRules.evaluate(rules, window, { now, windowMillis, minCalls, minIntervalMillis }).map((change) =>
        change.raised ? new AlertRaised(withoutRaisedAt(change.figures)) : new AlertResolved(change.figures)
      )
    }

    const run = (step: (now: number) => Array<Alert>) =>
      lock.withPermits(1)(
        Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.forEach(step(now), deliver, { discard: true }))
      )

    const evaluate = run(transitions)

    const observe = (observation: Observation) =>
      run((now) => {
        samples.push({
          atMillis: now,
          error: observation.outcome !== "success",
          rateLimited: observation.status === 429 || observation.outcome === "RateLimited",
          durationMillis: observation.durationMillis
        })
        return transitions(now)
      })

    const state = Effect.map(Clock.currentTimeMillis, (now): MonitorState => {
      const window = stats(samples.filter((sample) => sample.atMillis > now - windowMillis))
      return {
        atMillis: now,
        window,
        rules: rules.map(({ lastRaisedAtMillis, raised, raisedAtMillis, rule }) => ({
          rule,
          raised,
          raisedAtMillis,
          lastRaisedAtMillis
        }))
      }
    })

    const every = options.evaluateEvery ?? defaults.evaluateEvery
    if (every !== false) {
      yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(every), evaluate)))
    }

    return { observe, evaluate, state }
  })

/**
 * The monitor as a layer. Provide an `AlertSink` to it to send alerts elsewhere than the log.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Alerts } from "grok-resilience"
 *
 * const monitor = Alerts.layer({ window: "2 minutes", errorRate: { raise: 0.3, resolve: 0.1 } }).pipe(
 *   Layer.provide(Alerts.layerSink((alert) => Effect.log(alert.message)))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<AlertMonitor> => Layer.scoped(AlertMonitor, make(options))
