/**
 * The sliding time window of a closed breaker, kept as a few time buckets so that its memory does not grow with
 * the call rate: each bucket counts the calls and failures that ended in one slice of the window.
 */

/** Calls and failures that ended in `[startMillis, startMillis + bucketMillis)`. */
export interface Bucket {
  readonly startMillis: number
  readonly calls: number
  readonly failures: number
}

/** How long the window is and how finely it slides. */
export interface Shape {
  readonly windowMillis: number
  readonly bucketMillis: number
}

/** Counts over the live part of a window. */
export interface Totals {
  readonly calls: number
  readonly failures: number
}

export const empty: ReadonlyArray<Bucket> = []

/**
 * The buckets still inside the window at `now`. A bucket that starts after `now` (the wall clock stepped back)
 * is dropped too, so the window never holds more than `windowMillis / bucketMillis + 1` buckets.
 */
const live = (buckets: ReadonlyArray<Bucket>, now: number, shape: Shape): ReadonlyArray<Bucket> =>
  buckets.filter((bucket) => bucket.startMillis > now - shape.windowMillis && bucket.startMillis <= now)

/** The window with one more call that ended at `now`. */
export const record = (
  buckets: ReadonlyArray<Bucket>,
  now: number,
  failed: boolean,
  shape: Shape
): ReadonlyArray<Bucket> => {
  const startMillis = Math.floor(now / shape.bucketMillis) * shape.bucketMillis
  const kept = live(buckets, now, shape)
  const last = kept[kept.length - 1]
  const failures = failed ? 1 : 0
  if (last !== undefined && last.startMillis === startMillis) {
    return [...kept.slice(0, -1), { startMillis, calls: last.calls + 1, failures: last.failures + failures }]
  }
  return [...kept, { startMillis, calls: 1, failures }]
}

/** Calls and failures inside the window at `now`. */
export const totals = (buckets: ReadonlyArray<Bucket>, now: number, shape: Shape): Totals =>
  live(buckets, now, shape).reduce(
    (sum, bucket) => ({ calls: sum.calls + bucket.calls, failures: sum.failures + bucket.failures }),
    { calls: 0, failures: 0 }
  )
