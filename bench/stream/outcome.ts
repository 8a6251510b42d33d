/**
 * How one streamed call ended, as the benchmark judges it, and the counts of a row.
 *
 * - whole: the call reported success and its text is the fake's answer;
 * - partial: the call reported success with another text (cut short, or empty): the failure the issue is about;
 * - failed: the call ended with an error (ours: a typed `GrokError`, by tag and reason; the SDK: what it threw);
 * - defect: ours only: the call died instead of failing typed;
 * - hung: no progress for the row's hang limit; the call was stopped and its connection closed.
 */

export type End =
  | { readonly _tag: "Whole" }
  | { readonly _tag: "Partial"; readonly chars: number }
  | { readonly _tag: "Failed"; readonly kind: string }
  | { readonly _tag: "Defect"; readonly message: string }
  | { readonly _tag: "Hung" }

export interface CallRecord {
  readonly end: End
  readonly millis: number
  /** The longest time the consumer waited for the next item (a stream), or for the result (a collected call). */
  readonly longestSilenceMillis: number
}

/** Judges a text that the call reported as its success. */
export const judgeText = (text: string, expected: string): End =>
  text === expected ? { _tag: "Whole" } : { _tag: "Partial", chars: text.length }

/** Watches the gaps between items of one call, on `performance.now()`. */
export const silenceWatch = () => {
  const started = performance.now()
  let last = started
  let longest = 0
  return {
    item: () => {
      const now = performance.now()
      longest = Math.max(longest, now - last)
      last = now
    },
    record: (end: End): CallRecord => {
      const now = performance.now()
      return { end, millis: now - started, longestSilenceMillis: Math.max(longest, now - last) }
    }
  }
}

export interface Counts {
  readonly whole: number
  readonly partial: number
  readonly failed: number
  readonly defects: number
  readonly hung: number
  /** Failures by kind, and the defects' messages. */
  readonly kinds: Readonly<Record<string, number>>
  readonly longestSilenceMillis: number
  readonly medianMillis: number
  readonly maxMillis: number
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length === 0 ? 0 : sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export const count = (records: ReadonlyArray<CallRecord>): Counts => {
  const kinds: Record<string, number> = {}
  const of = (tag: End["_tag"]) => records.filter((record) => record.end._tag === tag).length
  for (const { end } of records) {
    const kind = end._tag === "Failed" ? end.kind : end._tag === "Defect" ? `defect: ${end.message}` : undefined
    if (kind !== undefined) kinds[kind] = (kinds[kind] ?? 0) + 1
  }
  const finished = records.filter((record) => record.end._tag !== "Hung")
  return {
    whole: of("Whole"),
    partial: of("Partial"),
    failed: of("Failed"),
    defects: of("Defect"),
    hung: of("Hung"),
    kinds,
    longestSilenceMillis: Math.max(0, ...finished.map((record) => record.longestSilenceMillis)),
    medianMillis: median(records.map((record) => record.millis)),
    maxMillis: Math.max(0, ...records.map((record) => record.millis))
  }
}
