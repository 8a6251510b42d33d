/**
 * How V8 sizes the heap of the `grok-resilience` process: how far the old generation grows between two full
 * collections, and whether the young generation grows at all. By
 * default V8 lets it grow to up to 4× what the last full collection left (on a machine with a heap limit of 2 GiB
 * or more, as most have): a batch whose live heap is about 45 MiB swung between 45 and 180 MiB, almost all of it
 * call objects that lived just long enough to be promoted. `--heap-growing-percent` caps that factor. V8 reads it at
 * every full collection, so setting it when the executable starts takes effect for the whole run (unlike the sizes
 * of the heap's spaces, which V8 fixes when the process starts). The young generation doubles from its size at
 * start up to 32 MiB as a busy run keeps finding survivors; `--semi-space-growth-factor`, which V8 reads at every
 * growth, keeps it at its size at start (8 MiB once the bundle is loaded). A flag given to node itself on either
 * matter is left alone.
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
 * The young generation's growth factor: 1, no growth. Resuming 400,000 lines (390,000 done, 10,000 calls at full
 * speed) peaked at 137–143 MiB instead of 158–169 and took 13.5–14.4 s instead of 12.2–12.8; 3,000 calls paced at
 * 100 a second took the same CPU a call (3.0–3.2 ms) and peaked at 114 MiB instead of 128–130
 * (docs/benchmarks.md, Run 16).
 *
 * @since 0.2.0
 * @category constants
 */
export const YOUNG_GENERATION_GROWTH = 1

/** The flags of each matter, as node's own command line could give them. */
const oldGeneration = ["--heap-growing-percent"]
const youngGeneration = ["--semi-space-growth-factor", "--max-semi-space-size", "--min-semi-space-size"]

/** Whether node's own flags name one of `flags` (V8 takes `-` and `_` alike in flag names). */
const names = (execArgv: ReadonlyArray<string>, flags: ReadonlyArray<string>): boolean =>
  execArgv.some((arg) => flags.some((flag) => arg.replace(/_/g, "-").startsWith(flag)))

/**
 * Whether node's own flags already choose the old generation's growing factor.
 *
 * @since 0.2.0
 * @category utils
 */
export const chosenByNode = (execArgv: ReadonlyArray<string>): boolean => names(execArgv, oldGeneration)

/**
 * The flags the policy sets in a process started with `execArgv`: those of each matter node's flags left open.
 *
 * @since 0.2.0
 * @category utils
 */
export const flagsFor = (execArgv: ReadonlyArray<string>): ReadonlyArray<string> => [
  ...(names(execArgv, oldGeneration) ? [] : [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`]),
  ...(names(execArgv, youngGeneration) ? [] : [`--semi-space-growth-factor=${YOUNG_GENERATION_GROWTH}`])
]

/**
 * Applies the policy to this process where node's flags left it open; returns the flags it set.
 *
 * @since 0.2.0
 * @category running
 */
export const apply = (execArgv: ReadonlyArray<string> = process.execArgv): ReadonlyArray<string> => {
  const flags = flagsFor(execArgv)
  for (const flag of flags) V8.setFlagsFromString(flag)
  return flags
}
