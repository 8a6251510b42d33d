/**
 * Renders Effect's metric registry in the Prometheus text exposition format 0.0.4, for users who only want a
 * `/metrics` endpoint and no OpenTelemetry SDK.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricKeyType from "effect/MetricKeyType"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"

/**
 * The `Content-Type` of the text this module renders.
 *
 * @since 0.1.0
 * @category constants
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * Which metrics to render.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Render only metrics whose name starts with this prefix. Default `"grok_"`; `""` renders every metric. */
  readonly prefix?: string | undefined
  /** A further filter on metric names, applied after `prefix`. Default: keep all. */
  readonly include?: ((name: string) => boolean) | undefined
}

type Family = {
  readonly name: string
  readonly type: "counter" | "gauge" | "histogram" | "summary"
  readonly help: string
  readonly keyType: string
  readonly lines: Array<{ readonly labels: string; readonly text: ReadonlyArray<string> }>
}

/**
 * Escapes a label value: backslash, double quote and line feed.
 *
 * @since 0.1.0
 * @category formatting
 */
export const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/**
 * Turns any string into a valid Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
 *
 * @since 0.1.0
 * @category formatting
 */
export const sanitizeMetricName = (name: string): string => {
  const cleaned = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[0-9]/.test(cleaned) ? `_${cleaned}` : cleaned
}

const sanitizeLabelName = (name: string) => {
  const cleaned = name.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[0-9]/.test(cleaned) ? `_${cleaned}` : cleaned
}

/**
 * Formats a sample value: integers as such, `+Inf`, `-Inf`, `NaN`, bigints in full.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatValue = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Number.POSITIVE_INFINITY) return "+Inf"
  if (value === Number.NEGATIVE_INFINITY) return "-Inf"
  return String(value)
}

const labelSet = (labels: ReadonlyArray<readonly [string, string]>) =>
  labels.length === 0
    ? ""
    : `{${labels.map(([key, value]) => `${sanitizeLabelName(key)}="${escapeLabelValue(value)}"`).join(",")}}`

const withTotal = (name: string) => (name.endsWith("_total") ? name : `${name}_total`)

const describe = (pair: MetricPair.MetricPair.Untyped) => {
  const keyType = pair.metricKey.keyType
  const base = sanitizeMetricName(pair.metricKey.name)
  if (MetricKeyType.isCounterKey(keyType)) {
    return keyType.incremental
      ? { name: withTotal(base), type: "counter" as const, keyType: "counter" }
      : { name: base, type: "gauge" as const, keyType: "updown" }
  }
  if (MetricKeyType.isFrequencyKey(keyType))
    return { name: withTotal(base), type: "counter" as const, keyType: "frequency" }
  if (MetricKeyType.isHistogramKey(keyType)) return { name: base, type: "histogram" as const, keyType: "histogram" }
  if (MetricKeyType.isSummaryKey(keyType)) return { name: base, type: "summary" as const, keyType: "summary" }
  return { name: base, type: "gauge" as const, keyType: "gauge" }
}

const samples = (name: string, tags: ReadonlyArray<readonly [string, string]>, state: unknown): Array<string> => {
  if (MetricState.isCounterState(state) || MetricState.isGaugeState(state)) {
    const value = MetricState.isCounterState(state) ? state.count : state.value
    return [`${name}${labelSet(tags)} ${formatValue(value as number | bigint)}`]
  }
  if (MetricState.isFrequencyState(state)) {
    return Array.from(state.occurrences)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, count]) => `${name}${labelSet([...tags, ["key", key]])} ${formatValue(count)}`)
  }
  if (MetricState.isHistogramState(state)) {
    const buckets = state.buckets.map(
      ([boundary, cumulative]) =>
        `${name}_bucket${labelSet([...tags, ["le", formatValue(boundary)]])} ${formatValue(cumulative)}`
    )
    return [
      ...buckets,
      `${name}_sum${labelSet(tags)} ${formatValue(state.sum)}`,
      `${name}_count${labelSet(tags)} ${formatValue(state.count)}`
    ]
  }
  if (MetricState.isSummaryState(state)) {
    const quantiles = state.quantiles.flatMap(([quantile, value]) =>
      Option.isSome(value)
        ? [`${name}${labelSet([...tags, ["quantile", formatValue(quantile)]])} ${formatValue(value.value)}`]
        : []
    )
    return [
      ...quantiles,
      `${name}_sum${labelSet(tags)} ${formatValue(state.sum)}`,
      `${name}_count${labelSet(tags)} ${formatValue(state.count)}`
    ]
  }
  return []
}

/**
 * Renders metric pairs (as `Metric.snapshot` returns them) in the text format, one family per metric name, families
 * sorted by name and series by labels.
 *
 * Incremental counters become `counter`s whose name ends in `_total`; counters that may go down become `gauge`s
 * (as the OpenTelemetry exporter does); frequencies become counters with a `key` label; histograms get
 * `_bucket{le}`, `_sum` and `_count`; summaries get `quantile` labels. A name registered under two different metric
 * types is rendered with the type seen first and the other series are dropped, which keeps the output valid.
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderPairs = (pairs: Iterable<MetricPair.MetricPair.Untyped>, options?: Options): string => {
  const prefix = options?.prefix ?? "grok_"
  const include = options?.include ?? (() => true)
  const families = new Map<string, Family>()
  for (const pair of pairs) {
    const rawName = pair.metricKey.name
    if (!rawName.startsWith(prefix) || !include(rawName)) continue
    const { keyType, name, type } = describe(pair)
    let family = families.get(name)
    if (family === undefined) {
      const help = Option.getOrElse(pair.metricKey.description, () => rawName)
      family = { name, type, help, keyType, lines: [] }
      families.set(name, family)
    } else if (family.keyType !== keyType) {
      continue
    }
    const tags = pair.metricKey.tags.map((label) => [label.key, label.value] as const)
    family.lines.push({ labels: labelSet(tags), text: samples(name, tags, pair.metricState) })
  }
  return Array.from(families.values())
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(
      (family) =>
        [
          `# HELP ${family.name} ${escapeHelp(family.help)}`,
          `# TYPE ${family.name} ${family.type}`,
          ...family.lines
            .sort((a, b) => (a.labels < b.labels ? -1 : a.labels > b.labels ? 1 : 0))
            .flatMap((line) => line.text)
        ].join("\n") + "\n"
    )
    .join("")
}

/**
 * Renders the current values of Effect's global metric registry, filtered by `options`.
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderWith = (options?: Options): Effect.Effect<string> =>
  Effect.map(Metric.snapshot, (pairs) => renderPairs(pairs, options))

/**
 * Renders the current values of every `grok_` metric in Prometheus text format 0.0.4: the body of a `/metrics`
 * response, served with `contentType`.
 *
 * @example
 * ```ts
 * import { HttpRouter, HttpServerResponse } from "@effect/platform"
 * import { Effect } from "effect"
 * import { Prometheus } from "grok-resilience"
 *
 * const metrics = HttpRouter.get(
 *   "/metrics",
 *   Effect.map(Prometheus.render, (body) => HttpServerResponse.text(body, { contentType: Prometheus.contentType }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const render: Effect.Effect<string> = renderWith()
