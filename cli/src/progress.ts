/**
 * The progress display on stderr: one line redrawn in place about five times a second on a terminal, a plain
 * line every few seconds otherwise (a log file, CI).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Format from "./format.js"
import type { Tally } from "./tally.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Redraw one line in place (a terminal) or print plain lines. */
  readonly tty: boolean
  /** Default 200 ms on a terminal, 5 s otherwise. */
  readonly intervalMillis?: number
  readonly write: (text: string) => void
}

/**
 * One progress line: `412/1200 (34%)  9.8/s  ETA 1m20s  failed 2  retries 12  429s 3  tokens 45k  $0.0123`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const line = (tally: Tally, nowMillis: number): string => {
  const elapsed = Math.max(1, nowMillis - tally.startedAt)
  const rate = (tally.written * 1000) / elapsed
  const remaining = Math.max(0, tally.total - tally.done)
  const percent = tally.total > 0 ? Math.floor((tally.done * 100) / tally.total) : 100
  const eta = remaining === 0 ? "0s" : rate > 0 ? Format.duration((remaining / rate) * 1000) : "?"
  return [
    `${tally.done}/${tally.total} (${percent}%)`,
    `${rate.toFixed(1)}/s`,
    `ETA ${eta}`,
    `failed ${tally.failedCount + tally.skippedFailed}`,
    `retries ${tally.retries}`,
    `429s ${tally.rateLimited429}`,
    `tokens ${Format.compact(tally.tokens.total)}`,
    Format.usd(tally.costUsd)
  ].join("  ")
}

const CLEAR = "\r\x1b[2K"

/**
 * Shows progress until the scope closes, then draws the final state once more (and ends the line on a terminal).
 *
 * @since 0.1.0
 * @category constructors
 */
export const show = (tally: Tally, options: Options): Effect.Effect<void, never, Scope.Scope> => {
  const draw = (final: boolean) =>
    Effect.sync(() => {
      const text = line(tally, Date.now())
      if (options.tty) options.write(`${CLEAR}${text}${final ? "\n" : ""}`)
      else options.write(`progress: ${text}\n`)
    })
  const every = options.intervalMillis ?? (options.tty ? 200 : 5000)
  return Effect.gen(function* () {
    yield* Effect.addFinalizer(() => draw(true))
    yield* Effect.forkScoped(draw(false).pipe(Effect.delay(every), Effect.repeat(Schedule.spaced(every))))
  })
}
