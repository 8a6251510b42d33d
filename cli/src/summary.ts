/**
 * The end-of-run report: a few human lines on stderr and, with `--json-summary`, one JSON line on stdout.
 *
 * @since 0.1.0
 */
import * as Format from "./format.js"
import type { Summary } from "./tally.js"

/**
 * What the human report needs beyond the counters.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly output: string
  /** Set when the run stopped early because no further call could succeed (a refused key, no credits). */
  readonly stoppedBy?: string
  /** Failure lines in the whole results file, this run's and earlier ones. */
  readonly failures: number
  /** Of those, the failed calls that `--retry-failed` sends again (the rest are refused input lines). */
  readonly retriable: number
  /** The grace period given to calls on their way when the run was interrupted, formatted. */
  readonly grace?: string
}

/**
 * The human report, one string with trailing newline.
 *
 * @since 0.1.0
 * @category formatting
 */
export const human = (summary: Summary, context: Context): string => {
  const failed = summary.calls - summary.ok
  const lines = [
    `${summary.total - summary.remaining} of ${summary.total} input lines done in ${Format.duration(summary.wallMillis)}` +
      ` (this run: ${summary.ok} ok, ${failed} failed${failed > 0 ? `: ${Format.byTag(summary.failed)}` : ""}` +
      `${summary.skippedAlreadyDone > 0 ? `; ${summary.skippedAlreadyDone} already done before` : ""})`,
    `attempts ${summary.attempts} (${summary.retries} retries), 429 answers ${summary.rateLimited429}` +
      (summary.answeredByFallback > 0 ? `, ${summary.answeredByFallback} answered by a fallback model` : "") +
      (summary.refusedByOpenBreaker > 0 ? `, ${summary.refusedByOpenBreaker} refused by an open circuit breaker` : ""),
    `tokens ${summary.tokens.total} (prompt ${summary.tokens.prompt}, completion ${summary.tokens.completion}, ` +
      `reasoning ${summary.tokens.reasoning}, cached ${summary.tokens.cached}), cost ${Format.usd(summary.costUsd)}`,
    `results: ${context.output}`
  ]
  if (summary.outcome === "interrupted") {
    if (summary.abandoned > 0) {
      lines.push(
        `${summary.abandoned} calls on their way got no answer within the ${context.grace ?? "grace period"}; ` +
          "they are sent again on resume"
      )
    }
    lines.push(
      `interrupted: ${summary.total - summary.remaining} of ${summary.total} done; run the same command again to resume`
    )
  } else if (summary.outcome === "stopped") {
    lines.push(
      `stopped: ${context.stoppedBy ?? "no further call could succeed"}; the remaining ids got a "Not sent" line.`,
      "Fix the cause, then run the same command with --retry-failed to send the failed ids again."
    )
  } else {
    if (context.retriable > 0) {
      lines.push(`${context.retriable} calls failed; run the same command with --retry-failed to send them again`)
    }
    const refused = context.failures - context.retriable
    if (refused > 0) {
      lines.push(`${refused} input lines were refused (error reason InvalidInput): correct them in a new input file`)
    }
  }
  return `${lines.join("\n")}\n`
}

/**
 * The JSON report line, with trailing newline.
 *
 * @since 0.1.0
 * @category formatting
 */
export const json = (summary: Summary): string => `${JSON.stringify(summary)}\n`
