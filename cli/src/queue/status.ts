/**
 * `queue status`: the job's counts, the rate of results stored by workers, and the time left at that rate.
 */
import * as Effect from "effect/Effect"
import { ExitCode, type UsageError } from "../errors.js"
import * as Format from "../format.js"
import * as Connection from "./connection.js"
import type { StatusConfig } from "./options.js"
import * as Store from "./store.js"

/** The status of a job as printed by `--json`. */
export interface Status {
  readonly job: string
  readonly total: number
  readonly pending: number
  readonly inFlight: number
  readonly done: number
  readonly failed: number
  readonly workers: number
  /** Results per second stored by workers, from the first to the last (null before two results). */
  readonly perSecond: number | null
  /** Seconds left at that rate (null when unknown, 0 when done). */
  readonly etaSeconds: number | null
}

export const summarize = (job: string, counts: Store.Counts): Status => {
  const span = (counts.lastAt - counts.firstAt) / 1000
  const perSecond = counts.worked >= 2 && span > 0 ? counts.worked / span : null
  const left = counts.total - counts.done
  return {
    job,
    total: counts.total,
    pending: counts.pending,
    inFlight: counts.inFlight,
    done: counts.done,
    failed: counts.failed,
    workers: counts.consumers,
    perSecond: perSecond === null ? null : Math.round(perSecond * 100) / 100,
    etaSeconds: left <= 0 ? 0 : perSecond === null ? null : Math.ceil(left / perSecond)
  }
}

export const human = (status: Status): string =>
  `Job "${status.job}": ${status.total} items: ${status.pending} pending, ${status.inFlight} in flight, ` +
  `${status.done} done (${status.failed} failed); ${status.workers} workers known to the group.\n` +
  `Rate ${status.perSecond === null ? "?" : `${status.perSecond}/s`}, ` +
  `ETA ${status.etaSeconds === null ? "?" : Format.duration(status.etaSeconds * 1000)}.\n`

export const run = (
  config: StatusConfig,
  stdout: (text: string) => void
): Effect.Effect<number, UsageError | Connection.QueueError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const connection = yield* Connection.open(config.redis, config.redisWait)
      const status = summarize(config.job, yield* Store.make(connection, config.job).counts)
      stdout(config.json ? `${JSON.stringify(status)}\n` : human(status))
      return ExitCode.ok
    })
  )
