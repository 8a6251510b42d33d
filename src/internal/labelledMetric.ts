/**
 * Labelled metrics made once per label set. A metric labelled afresh at every update builds and hashes a new
 * metric key each time, which was the largest part of recording one call; a reused one keeps Effect's cached
 * registry hook, so an update is a lookup.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"

/** Label sets kept per cache. Labels follow models, outcomes and statuses, a handful in practice. */
const MAX_LABEL_SETS = 4_096

/**
 * A cache of what is made per label set, by a string key. A caller may invent labels without end (a model name per
 * call): past `MAX_LABEL_SETS` it starts over rather than grow.
 */
export const byLabels = <V>(): ((key: string, make: () => V) => V) => {
  const made = new Map<string, V>()
  return (key, make) => {
    let found = made.get(key)
    if (found === undefined) {
      if (made.size >= MAX_LABEL_SETS) made.clear()
      found = make()
      made.set(key, found)
    }
    return found
  }
}

const made = new WeakMap<object, (key: string, make: () => unknown) => unknown>()

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
  let cache = made.get(metric)
  if (cache === undefined) {
    cache = byLabels()
    made.set(metric, cache)
  }
  return cache(keyOf(labels), () =>
    Metric.taggedWithLabels(
      metric,
      Object.entries(labels).map(([name, value]) => MetricLabel.make(name, value))
    )
  ) as Metric.Metric<Type, In, Out>
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
