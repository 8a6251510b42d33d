/**
 * Labelled metrics made once per label set. A metric labelled afresh at every update builds and hashes a new
 * metric key each time, which was the largest part of recording one call; a reused one keeps Effect's cached
 * registry hook, so an update is a lookup.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"

const made = new WeakMap<object, Map<string, unknown>>()

/** Label sets kept per metric. Labels follow models, outcomes and statuses, a handful in practice. */
const MAX_LABEL_SETS = 4_096

const keyOf = (labels: Readonly<Record<string, string>>): string => {
  let key = ""
  for (const name in labels) key += `${name}\u0000${labels[name]}\u0001`
  return key
}

/** `metric` with `labels`, the same metric for the same labels. */
export const labelled = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  labels: Readonly<Record<string, string>>
): Metric.Metric<Type, In, Out> => {
  let bySet = made.get(metric)
  if (bySet === undefined) {
    bySet = new Map()
    made.set(metric, bySet)
  }
  const key = keyOf(labels)
  const found = bySet.get(key) as Metric.Metric<Type, In, Out> | undefined
  if (found !== undefined) return found
  // A caller may invent labels without end (a model name per call): start over rather than grow.
  if (bySet.size >= MAX_LABEL_SETS) bySet.clear()
  const metricWithLabels = Metric.taggedWithLabels(
    metric,
    Object.entries(labels).map(([name, value]) => MetricLabel.make(name, value))
  )
  bySet.set(key, metricWithLabels)
  return metricWithLabels
}

/** One numeric metric update: the metric and its input (1 for an increment, the value for a gauge or a histogram). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- counters, gauges and histograms differ in Type only
export type Update = readonly [Metric.Metric<any, number, unknown>, number]

/** Applies the updates with the fiber's metric labels `labels`, for code that already runs in one step. */
export const unsafeApply = (updates: ReadonlyArray<Update>, labels: ReadonlyArray<MetricLabel.MetricLabel>): void => {
  for (const [metric, input] of updates) metric.unsafeUpdate(input, labels)
}

/**
 * Applies the updates in one step, with the fiber's metric labels read once: what `Metric.update`, `increment` and
 * `set` do for numeric counters, gauges and histograms, one effect each.
 */
export const updateAll = (updates: ReadonlyArray<Update>): Effect.Effect<void> =>
  Effect.withFiberRuntime<void>((fiber) => {
    unsafeApply(updates, fiber.getFiberRef(FiberRef.currentMetricLabels))
    return Effect.void
  })
