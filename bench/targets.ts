/**
 * The one table of every target of issues 14 and 17: each row says what is measured, the figure the issue
 * reported before the work (the anchor for comparison), the target, every run's figure, and whether every run met
 * it. Rows of groups that did not run are listed as not run, so the table always has every row.
 */
import type { CliRun, ResumeRun } from "./cli-scale.js"
import type { CpuRun } from "./cpu.js"
import type { Measurement } from "./report.js"
import type { StallWithFloor } from "./stall.js"

export interface TargetRow {
  readonly group: string
  readonly measure: string
  /** The figure the issue measured before the work. */
  readonly before: string
  readonly target: string
  /** One figure per run; empty when the group did not run. */
  readonly runs: ReadonlyArray<string>
  readonly met: boolean | undefined
}

const fixed = (value: number, digits: number) => value.toFixed(digits)

const row = (
  group: string,
  measure: string,
  before: string,
  target: string,
  runs: ReadonlyArray<{ readonly text: string; readonly ok: boolean }> | undefined
): TargetRow => ({
  group,
  measure,
  before,
  target,
  runs: runs?.map((run) => run.text) ?? [],
  met: runs === undefined || runs.length === 0 ? undefined : runs.every((run) => run.ok)
})

const CPU_TARGETS: Readonly<Record<CpuRun["mode"], { readonly before: string; readonly max: number }>> = {
  sequential: { before: "1.44–1.66×", max: 1.15 },
  "concurrency 32": { before: "2.63–2.72×", max: 1.35 },
  "concurrency 32, RateLimiter": { before: "2.96×", max: 1.5 }
}

export const cpuRows = (runs: ReadonlyArray<CpuRun> | undefined): ReadonlyArray<TargetRow> =>
  (Object.keys(CPU_TARGETS) as Array<CpuRun["mode"]>).map((mode) => {
    const found = runs?.find((run) => run.mode === mode)
    const { before, max } = CPU_TARGETS[mode]
    return row(
      "perf",
      `CPU vs raw @effect/platform HttpClient, ${mode}`,
      before,
      `≤ ${max}×`,
      found?.grokMillis.map((grok, i) => {
        const raw = found.rawMillis[i]!
        return { text: `${fixed(grok / raw, 2)}× (${fixed(grok, 2)} / ${fixed(raw, 2)} ms)`, ok: grok / raw <= max }
      })
    )
  })

/**
 * The stall row. Beside each run, the floor: 10,000 bare fibers forked the same way in the same process, whose
 * longest turn is the caller's own forking, which no library's calls can make shorter.
 */
export const stallRows = (runs: ReadonlyArray<StallWithFloor> | undefined): ReadonlyArray<TargetRow> => [
  row(
    "perf",
    "event-loop stall with 10,000 calls queued (a 500 ms timer's lateness; heap before → peak → after interrupt)",
    "seconds (a 0.5 s timer ran at 6.4 s)",
    "≤ 100 ms, heap back to baseline",
    runs?.map((run) => ({
      text:
        `${fixed(run.timerLateMillis, 0)} ms late, first call ` +
        `${Number.isFinite(run.firstCallMillis) ? `${fixed(run.firstCallMillis / 1000, 2)} s` : "none before the interruption"}; heap ` +
        `${fixed(run.heapBeforeMiB, 0)} → ${fixed(run.heapPeakMiB, 0)} → ${fixed(run.heapAfterMiB, 0)} MiB; ` +
        `longest turn ${fixed(run.maxGapMillis, 0)} ms, floor (bare fibers) ${fixed(run.floor.maxGapMillis, 0)} ms`,
      ok: run.timerLateMillis <= 100 && run.heapAfterMiB <= run.heapBeforeMiB * 1.25 + 2
    }))
  )
]

/** The header and blind scenarios of the pacing group, with the issue's targets. */
export const pacingRows = (
  headers: ReadonlyArray<Measurement> | undefined,
  blind: ReadonlyArray<Measurement> | undefined,
  idealSeconds: number,
  start: ReadonlyArray<number> | undefined
): ReadonlyArray<TargetRow> => {
  const text = (run: Measurement) =>
    `${run.answers429} × 429, ${fixed(run.wallSeconds / idealSeconds, 3)} × ideal${run.ok < run.calls ? `, ${run.calls - run.ok} failed` : ""}`
  return [
    row(
      "pacing",
      "header scenario (no rate configured, x-ratelimit-* with OpenAI's meaning), 300 calls at 30 against 20 r/s burst 5",
      "20–24 × 429",
      "≤ 3 × 429, span ≤ 1.12× ideal",
      headers?.map((run) => ({
        text: text(run),
        ok: run.ok === run.calls && run.answers429 <= 3 && run.wallSeconds / idealSeconds <= 1.12
      }))
    ),
    row(
      "pacing",
      "blind adaptation (no configuration, no headers, 429 bodies name no limit), same quota",
      "1.236× ideal",
      "≤ 1.15× ideal with ≤ 15 × 429",
      blind?.map((run) => ({
        text: text(run),
        ok: run.ok === run.calls && run.answers429 <= 15 && run.wallSeconds / idealSeconds <= 1.15
      }))
    ),
    row(
      "pacing",
      "adaptive start with room to spare: 40 calls at concurrency 30, no limit (wall)",
      "4.4 s",
      "≤ 1 s",
      start?.map((seconds) => ({ text: `${fixed(seconds, 2)} s`, ok: seconds <= 1 }))
    )
  ]
}

export const cliRows = (
  scale: ReadonlyArray<CliRun> | undefined,
  resume: ReadonlyArray<ResumeRun> | undefined
): ReadonlyArray<TargetRow> => {
  const scaleRow = (calls: number, rpm: number, before: string, maxSpan: number) =>
    row(
      "cli",
      `CLI, ${calls.toLocaleString("en-US")} prompts at 100 r/s burst 10, 20 ms latency, --rpm ${rpm} --concurrency 64`,
      before,
      `≤ 3 ms CPU a call, ≤ 160 MiB, span ≤ ${maxSpan}× ideal${rpm === 6000 ? ", ≤ 3 × 429" : ""}`,
      scale
        ?.filter((run) => run.calls === calls && run.rpm === rpm)
        .map((run) => ({
          text:
            `${fixed(run.cpuMillisPerCall, 1)} ms/call, ${fixed(run.peakRssMiB, 0)} MiB, ` +
            `${fixed(run.spanOverIdeal, 3)}× ideal, ${run.answers429} × 429${run.exitCode !== 0 ? `, exit ${run.exitCode}` : ""}`,
          ok:
            run.exitCode === 0 &&
            run.cpuMillisPerCall <= 3 &&
            run.peakRssMiB <= 160 &&
            run.spanOverIdeal <= maxSpan &&
            (rpm !== 6000 || run.answers429 <= 3)
        }))
    )
  return [
    row(
      "cli",
      "CLI peak RSS resuming a 400,000-line input with 390,000 done",
      "612 MiB",
      "≤ 160 MiB",
      resume?.map((run) => ({
        text: `${fixed(run.peakRssMiB, 0)} MiB (${fixed(run.seconds, 1)} s${run.exitCode !== 0 ? `, exit ${run.exitCode}` : ""})`,
        ok: run.exitCode === 0 && run.peakRssMiB <= 160
      }))
    ),
    scaleRow(3000, 6000, "11.7 ms/call, 325 MiB, 1.19×, 14–17 × 429", 1.05),
    scaleRow(3000, 5700, "1.33×", 1.08),
    scaleRow(10_000, 6000, "not measured", 1.05),
    scaleRow(10_000, 5700, "not measured", 1.08)
  ]
}

/** The table, with how noisy the machine was while it ran. */
export const targetsTable = (rows: ReadonlyArray<TargetRow>, noise: string): string => {
  const lines = [
    "### Targets of issues 14 and 17",
    "",
    noise,
    "",
    "| group | measure | before (issue) | target | runs | met |",
    "|---|---|---|---|---|:---:|"
  ]
  for (const r of rows) {
    const runs = r.runs.length > 0 ? r.runs.map((text, i) => `${i + 1}: ${text}`).join("<br>") : "not run"
    const met = r.met === undefined ? "—" : r.met ? "met" : "missed"
    lines.push(`| ${r.group} | ${r.measure} | ${r.before} | ${r.target} | ${runs} | ${met} |`)
  }
  return lines.join("\n")
}
