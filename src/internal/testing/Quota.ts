/**
 * The quotas of the fake Grok server: exact request buckets, a sliding token window, and the wait, header and
 * body values a 429 reports. Times are plain milliseconds from a monotonic clock.
 */

/**
 * A token bucket kept as a theoretical arrival time (GCRA), so it never drifts: over any window of `T` ms it
 * admits at most `capacity + T / intervalMillis` requests.
 */
export interface Bucket {
  /** Milliseconds per refilled token. */
  readonly intervalMillis: number
  readonly capacity: number
  /** Theoretical arrival time of the next request when the bucket is drained at its rate. */
  tat: number
}

/**
 * A full bucket refilling one token every `intervalMillis`.
 */
export const bucket = (intervalMillis: number, capacity: number, nowMillis: number): Bucket => ({
  intervalMillis,
  capacity,
  tat: nowMillis
})

const tolerance = (self: Bucket) => (self.capacity - 1) * self.intervalMillis

/** Floating-point slack (1 ns): sums of intervals must not turn "exactly now" into "a hair later". */
const EPSILON_MILLIS = 1e-6

/**
 * How long until the bucket holds a token (0 when it holds one now).
 */
export const bucketWait = (self: Bucket, nowMillis: number): number => {
  const wait = Math.max(self.tat, nowMillis) - tolerance(self) - nowMillis
  return wait > EPSILON_MILLIS ? wait : 0
}

/**
 * Takes one token; call only when `bucketWait` is 0.
 */
export const bucketTake = (self: Bucket, nowMillis: number): void => {
  self.tat = Math.max(self.tat, nowMillis) + self.intervalMillis
}

/**
 * Whole tokens left in the bucket.
 */
export const bucketRemaining = (self: Bucket, nowMillis: number): number => {
  const ahead = Math.max(self.tat, nowMillis) - nowMillis
  const tokens = Math.floor((tolerance(self) - ahead + EPSILON_MILLIS) / self.intervalMillis) + 1
  return Math.min(self.capacity, Math.max(0, tokens))
}

/**
 * How long until the bucket is full again.
 */
export const bucketReset = (self: Bucket, nowMillis: number): number => Math.max(0, self.tat - nowMillis)

/**
 * Weighted events of a sliding window, oldest first, with running totals so that every query is a binary search.
 */
export interface TimeLog {
  readonly windowMillis: number
  readonly times: Array<number>
  /** Total weight ever added, up to and including each entry. */
  readonly cumulative: Array<number>
  /** First entry still inside the window. */
  head: number
  /** Weight of every entry before `head`. */
  dropped: number
  /** Weight ever added. */
  total: number
}

/**
 * An empty log over a window of `windowMillis`.
 */
export const timeLog = (windowMillis: number): TimeLog => ({
  windowMillis,
  times: [],
  cumulative: [],
  head: 0,
  dropped: 0,
  total: 0
})

/** First index at or after `from` whose value is greater than `value` (or at least `value` when `inclusive`). */
const search = (values: ReadonlyArray<number>, from: number, value: number, inclusive: boolean) => {
  let low = from
  let high = values.length
  while (low < high) {
    const mid = (low + high) >>> 1
    const v = values[mid]!
    if (inclusive ? v >= value : v > value) high = mid
    else low = mid + 1
  }
  return low
}

const weightBefore = (self: TimeLog, index: number) => (index > self.head ? self.cumulative[index - 1]! : self.dropped)

const prune = (self: TimeLog, nowMillis: number) => {
  const head = search(self.times, self.head, nowMillis - self.windowMillis, false)
  self.dropped = weightBefore(self, head)
  self.head = head
  if (head > 1024 && head * 2 > self.times.length) {
    self.times.splice(0, head)
    self.cumulative.splice(0, head)
    self.head = 0
  }
}

/**
 * Records an event of `weight` now.
 */
export const logAdd = (self: TimeLog, weight: number, nowMillis: number): void => {
  self.total += weight
  self.times.push(nowMillis)
  self.cumulative.push(self.total)
}

/**
 * Weight of the events in the window, or in the last `sinceMillis` of it.
 */
export const logSum = (self: TimeLog, nowMillis: number, sinceMillis: number = self.windowMillis): number => {
  prune(self, nowMillis)
  return self.total - weightBefore(self, search(self.times, self.head, nowMillis - sinceMillis, false))
}

/**
 * How long until `weight` more fits under `limit` (0 when it fits now). A weight above the whole limit never
 * fits; it is told to wait until the window is empty.
 */
export const logWait = (self: TimeLog, weight: number, limit: number, nowMillis: number): number => {
  if (logSum(self, nowMillis) + weight <= limit) return 0
  const expiring = search(self.cumulative, self.head, self.total + weight - limit, true)
  const index = Math.min(expiring, self.times.length - 1)
  return index >= self.head ? self.times[index]! + self.windowMillis - nowMillis : self.windowMillis
}

/**
 * How long until the window is empty again.
 */
export const logReset = (self: TimeLog, nowMillis: number): number => {
  prune(self, nowMillis)
  return self.times.length > self.head ? self.times[self.times.length - 1]! + self.windowMillis - nowMillis : 0
}

/**
 * The length of the token window.
 */
export const WINDOW_MILLIS = 60_000

const trimFraction = (value: number) => {
  const text = value.toFixed(3)
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text
}

/**
 * Formats milliseconds like Go's `time.Duration.String()`: `"20ms"`, `"1s"`, `"1.5s"`, `"6m0s"`, `"1h0m0s"`.
 * Rounds up (to microseconds below a second, to milliseconds above), so a reset is never reported early.
 */
export const goDuration = (millis: number): string => {
  const micros = Math.max(0, Math.ceil(millis * 1000 - 1e-6))
  if (micros === 0) return "0s"
  if (micros < 1_000_000) return `${trimFraction(micros / 1000)}ms`
  const ms = Math.ceil(micros / 1000)
  const hours = Math.floor(ms / 3_600_000)
  const minutes = Math.floor((ms % 3_600_000) / 60_000)
  const seconds = trimFraction((ms % 60_000) / 1000)
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`
  if (minutes > 0) return `${minutes}m${seconds}s`
  return `${seconds}s`
}
