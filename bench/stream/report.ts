/**
 * The table of the stream scenario: per row the counts of `outcome.ts`, the longest silence the consumer saw, call
 * times, arrivals and wall time, and whether the row met its target.
 */
import type { Counts } from "./outcome.js"
import * as Scenario from "./scenario.js"

export interface Target {
  readonly text: string
  readonly met: (counts: Counts, calls: number) => boolean
}

export interface RowResult {
  readonly label: string
  /** Whether the consumer saw the items: the longest silence is then the longest wait between two of them. */
  readonly streamed: boolean
  readonly target: Target | undefined
  readonly counts: Counts
  readonly calls: number
  readonly arrivals: number
  readonly wallSeconds: number
  readonly maxStallMillis: number
}

/** Scheduling slack on a loaded machine above the idle timeout, before a silence counts as a hang past it. */
const SLACK_MILLIS = 500

export const wholeTarget: Target = {
  text: `${Scenario.CALLS}/${Scenario.CALLS} whole`,
  met: (counts, calls) => counts.whole === calls
}

/** Every call whole or a typed error; with `silence`, no wait between items past the idle timeout (plus slack). */
export const wholeOrTyped = (silence: boolean): Target => ({
  text:
    "whole or typed error: 0 partial, 0 defects, 0 hung" +
    (silence ? `, longest silence ≤ ${(Scenario.IDLE_TIMEOUT_MILLIS + SLACK_MILLIS) / 1000} s` : ""),
  met: (counts, calls) =>
    counts.partial === 0 &&
    counts.defects === 0 &&
    counts.hung === 0 &&
    counts.whole + counts.failed === calls &&
    (!silence || counts.longestSilenceMillis <= Scenario.IDLE_TIMEOUT_MILLIS + SLACK_MILLIS)
})

const seconds = (millis: number) => (millis / 1000).toFixed(2)

export const table = (rows: ReadonlyArray<RowResult>): string => {
  const lines = [
    "### 5. Streams with faults",
    "",
    `${Scenario.description}. Our client: idle timeout ${Scenario.IDLE_TIMEOUT_MILLIS / 1000} s, no rate limiter. ` +
      `A call with no progress for ${Scenario.HANG_MILLIS / 1000} s (a collected call: no result for ` +
      `${Scenario.COLLECTED_HANG_MILLIS / 1000} s) is counted hung and stopped.`,
    "",
    '| row | whole | partial "successes" | errors | defects | hung | longest silence (s) | call median / max (s) ' +
      "| arrivals / calls | wall (s) | target |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  ]
  for (const row of rows) {
    const { counts } = row
    const mark =
      row.target === undefined ? "—" : `${row.target.met(counts, row.calls) ? "met" : "**missed**"}: ${row.target.text}`
    lines.push(
      `| ${row.label} | ${counts.whole} | ${counts.partial} | ${counts.failed} | ${counts.defects} | ${counts.hung} ` +
        `| ${row.streamed ? seconds(counts.longestSilenceMillis) : "—"} ` +
        `| ${seconds(counts.medianMillis)} / ${seconds(counts.maxMillis)} | ${(row.arrivals / row.calls).toFixed(2)} ` +
        `| ${row.wallSeconds.toFixed(2)} | ${mark} |`
    )
  }
  const notes = rows
    .filter((row) => Object.keys(row.counts.kinds).length > 0)
    .map(
      (row) =>
        `- errors of ${row.label}: ` +
        Object.entries(row.counts.kinds)
          .sort(([, a], [, b]) => b - a)
          .map(([kind, n]) => `${kind} ${n}`)
          .join(", ")
    )
  const stalls = Math.max(...rows.map((row) => row.maxStallMillis))
  notes.push(`- longest event-loop stall in any row: ${stalls.toFixed(0)} ms (client and fake share the process)`)
  return [...lines, "", ...notes].join("\n")
}
