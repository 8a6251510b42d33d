/**
 * Progress of a batch on stderr, from the states the watch sees: done of total, the rate since this run started
 * watching, an ETA, failures and cancellations. Redrawn in place on a terminal, one plain line per look otherwise.
 *
 * @since 0.2.0
 */
import type { GrokApi } from "grok-resilience"
import * as Format from "./format.js"

/**
 * Requests settled (succeeded, failed or cancelled).
 *
 * @since 0.2.0
 * @category accessors
 */
export const doneOf = (batch: GrokApi.Batch): number =>
  batch.state.num_success + batch.state.num_error + batch.state.num_cancelled

/**
 * One progress line: `batch_1f…  412/500 (82%)  9.8/s  ETA 9s  failed 2  cancelled 0`.
 *
 * @since 0.2.0
 * @category formatting
 */
export const line = (
  batch: GrokApi.Batch,
  since: { readonly atMillis: number; readonly done: number },
  nowMillis: number
): string => {
  const total = batch.state.num_requests
  const done = doneOf(batch)
  const elapsed = Math.max(1, nowMillis - since.atMillis)
  const rate = ((done - since.done) * 1000) / elapsed
  const remaining = Math.max(0, total - done)
  const percent = total > 0 ? Math.floor((done * 100) / total) : 100
  const eta = remaining === 0 ? "0s" : rate > 0 ? Format.duration((remaining / rate) * 1000) : "?"
  return [
    batch.batch_id,
    `${done}/${total} (${percent}%)`,
    `${rate.toFixed(1)}/s`,
    `ETA ${eta}`,
    `failed ${batch.state.num_error}`,
    `cancelled ${batch.state.num_cancelled}`
  ].join("  ")
}

const CLEAR = "\r\x1b[2K"

/**
 * A display fed each state seen; `end` finishes the line on a terminal.
 *
 * @since 0.2.0
 * @category constructors
 */
export const display = (options: { readonly tty: boolean; readonly write: (text: string) => void }) => {
  let since: { atMillis: number; done: number } | undefined
  let drawn = false
  return {
    show: (batch: GrokApi.Batch): void => {
      const now = Date.now()
      since ??= { atMillis: now, done: doneOf(batch) }
      const text = line(batch, since, now)
      options.write(options.tty ? `${CLEAR}${text}` : `progress: ${text}\n`)
      drawn = true
    },
    end: (): void => {
      if (options.tty && drawn) options.write("\n")
    }
  }
}
