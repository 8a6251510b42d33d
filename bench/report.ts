/**
 * The benchmark's tables: one markdown table per scenario, and the summary of the grok-resilience targets.
 */
import type { Outcome } from "./clients/contender.js"
import type { Scenario } from "./scenarios.js"

/** One run of one contender in one scenario. */
export interface Measurement extends Outcome {
  readonly contender: string
  readonly calls: number
  /** Answers 429 the server sent. */
  readonly answers429: number
  /** Chat requests the server received. */
  readonly arrivals: number
  readonly wallSeconds: number
  /** Seconds from the first arrival to each 429 answer, for diagnosis. */
  readonly at429: ReadonlyArray<number>
  /** Longest event-loop stall during the run, in milliseconds (client and fake server share the process). */
  readonly maxStallMillis: number
}

/** Every run of one contender in one scenario (several when repeated). */
export interface Row {
  readonly label: string
  readonly runs: ReadonlyArray<Measurement>
  /** The scenario whose runs these are, when reused from an earlier scenario that this contender cannot tell apart. */
  readonly reusedFrom?: string
}

export interface Verdict {
  readonly ok: boolean
  readonly allOk: boolean
  readonly within429: boolean
  readonly withinWall: boolean
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The run whose wall time is the median (the lower middle one for an even count). */
export const medianRun = (runs: ReadonlyArray<Measurement>): Measurement => {
  const sorted = [...runs].sort((a, b) => a.wallSeconds - b.wallSeconds)
  return sorted[(sorted.length - 1) >> 1]!
}

export const verdict = (scenario: Scenario, run: Measurement): Verdict => {
  const allOk = run.ok === run.calls
  const within429 = run.answers429 <= Math.floor(scenario.target.max429Share * run.calls + 1e-9)
  const withinWall = run.wallSeconds / scenario.idealSeconds <= scenario.target.maxWallRatio
  return { ok: allOk && within429 && withinWall, allOk, within429, withinWall }
}

const fixed = (value: number, digits: number) => value.toFixed(digits)

/** `median (min–max)` of a figure over the runs, or the single value. */
const spread = (runs: ReadonlyArray<Measurement>, figure: (run: Measurement) => number, digits: number) => {
  const values = runs.map(figure)
  const low = Math.min(...values)
  const high = Math.max(...values)
  if (fixed(low, digits) === fixed(high, digits)) return fixed(values[0]!, digits)
  return `${fixed(median(values), digits)} (${fixed(low, digits)}–${fixed(high, digits)})`
}

const failuresText = (runs: ReadonlyArray<Measurement>) => {
  const totals: Record<string, number> = {}
  for (const run of runs) {
    for (const [kind, count] of Object.entries(run.failures)) totals[kind] = (totals[kind] ?? 0) + count
  }
  const entries = Object.entries(totals)
  if (entries.length === 0) return ""
  const per = runs.length > 1 ? ` over ${runs.length} runs` : ""
  return entries.map(([kind, count]) => `${kind}: ${count}`).join(", ") + per
}

/** The markdown table of one scenario; each figure is `median (min–max)` when a contender ran several times. */
export const table = (scenario: Scenario, rows: ReadonlyArray<Row>): string => {
  const lines = [
    `### ${scenario.title}`,
    "",
    `${scenario.description}. ${scenario.calls} calls at concurrency ${scenario.concurrency}. ` +
      `Ideal ${fixed(scenario.idealSeconds, 2)} s = ${scenario.idealFormula}.` +
      (scenario.floor !== undefined ? ` Floor ${fixed(scenario.floor.seconds, 0)} s: ${scenario.floor.text}.` : ""),
    `Target for grok-resilience: ${scenario.calls}/${scenario.calls} ok, ${scenario.target.text}.`,
    "",
    "| contender | runs | ok / failed | 429 answers | arrivals / calls | wall (s) | wall / ideal | target |",
    "|---|---:|---:|---:|---:|---:|---:|:---:|"
  ]
  for (const row of rows) {
    const runs = row.runs
    const isGrok = row.label === "grok-resilience"
    const met = runs.filter((run) => verdict(scenario, run).ok).length
    const mark = isGrok ? (met === runs.length ? "met" : `missed ${runs.length - met}/${runs.length}`) : "—"
    const label = row.reusedFrom !== undefined ? `${row.label} [runs of ${row.reusedFrom}]` : row.label
    lines.push(
      `| ${label} | ${runs.length} | ${spread(runs, (r) => r.ok, 0)} / ${spread(runs, (r) => r.failed, 0)} ` +
        `| ${spread(runs, (r) => r.answers429, 0)} | ${spread(runs, (r) => r.arrivals / r.calls, 2)} ` +
        `| ${spread(runs, (r) => r.wallSeconds, 2)} | ${spread(runs, (r) => r.wallSeconds / scenario.idealSeconds, 3)} ` +
        `| ${mark} |`
    )
  }
  const notes = rows
    .map((row) => [row.label, failuresText(row.runs)] as const)
    .filter(([, text]) => text !== "")
    .map(([label, text]) => `- failures of ${label}: ${text}`)
  const reused = rows.filter((row) => row.reusedFrom !== undefined)
  if (reused.length > 0) {
    notes.push(
      `- ${reused.map((row) => row.label).join(" and ")}: the runs of ${reused[0]!.reusedFrom}, whose server differs ` +
        "from this one only in what these clients never read (429 body text); `--all-baselines` reruns them here"
    )
  }
  if (scenario.floor !== undefined) {
    for (const row of rows) {
      const ratio = median(row.runs.map((run) => run.wallSeconds / scenario.floor!.seconds))
      notes.push(`- ${row.label}: wall / floor (${fixed(scenario.floor.seconds, 0)} s) = ${fixed(ratio, 3)}`)
    }
  }
  return [...lines, ...(notes.length > 0 ? ["", ...notes] : [])].join("\n")
}

/** The summary of grok-resilience against every target. */
export const summary = (results: ReadonlyArray<{ readonly scenario: Scenario; readonly grok: Row | undefined }>) => {
  const lines = [
    "### Targets met? (grok-resilience)",
    "",
    "| scenario | target | runs met | ok (median) | 429 answers (median) | wall / ideal (median) | verdict |",
    "|---|---|---:|---:|---:|---:|:---:|"
  ]
  for (const { scenario, grok } of results) {
    if (grok === undefined) continue
    const verdicts = grok.runs.map((run) => verdict(scenario, run))
    const met = verdicts.filter((v) => v.ok).length
    const missed = [
      verdicts.some((v) => !v.allOk) ? "failures" : undefined,
      verdicts.some((v) => !v.within429) ? "429s" : undefined,
      verdicts.some((v) => !v.withinWall) ? "wall" : undefined
    ].filter((text) => text !== undefined)
    lines.push(
      `| ${scenario.title} | ${scenario.calls}/${scenario.calls} ok, ${scenario.target.text} | ${met}/${grok.runs.length} ` +
        `| ${median(grok.runs.map((r) => r.ok))}/${scenario.calls} | ${median(grok.runs.map((r) => r.answers429))} ` +
        `| ${fixed(median(grok.runs.map((r) => r.wallSeconds / scenario.idealSeconds)), 3)} ` +
        `| ${met === grok.runs.length ? "met" : `missed in ${grok.runs.length - met}/${grok.runs.length} (${missed.join(", ")})`} |`
    )
  }
  return lines.join("\n")
}
