/**
 * How far V8 lets the old generation grow between two full collections in the `grok-resilience` process. By
 * default V8 lets it grow to up to 4× what the last full collection left (on a machine with a heap limit of 2 GiB
 * or more, as most have): a batch whose live heap is about 45 MiB swung between 45 and 180 MiB, almost all of it
 * call objects that lived just long enough to be promoted. `--heap-growing-percent` caps that factor. V8 reads it at
 * every full collection, so setting it when the executable starts takes effect for the whole run (unlike the sizes
 * of the heap's spaces, which V8 fixes when the process starts). A `--heap-growing-percent` given to node
 * itself is left alone.
 *
 * @since 0.2.0
 */
import * as V8 from "node:v8"

/**
 * The old generation may grow by this percentage of what a full collection left before the next one. 30 peaked
 * about 10 MiB lower than 50 when resuming 400,000 lines but took about 25% more CPU (docs/benchmarks.md, Run 7).
 *
 * @since 0.2.0
 * @category constants
 */
export const HEAP_GROWING_PERCENT = 50

/**
 * Whether node's own flags already choose the growing factor (V8 takes `-` and `_` alike in flag names).
 *
 * @since 0.2.0
 * @category utils
 */
export const chosenByNode = (execArgv: ReadonlyArray<string>): boolean =>
  execArgv.some((arg) => arg.replace(/_/g, "-").startsWith("--heap-growing-percent"))

/**
 * Applies the policy to this process unless node's flags chose otherwise; returns whether it did.
 *
 * @since 0.2.0
 * @category running
 */
export const apply = (execArgv: ReadonlyArray<string> = process.execArgv): boolean => {
  if (chosenByNode(execArgv)) return false
  V8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
  return true
}
