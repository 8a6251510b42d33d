/**
 * `queue collect`: writes the job's results to a file in the format of `batch`, each key once. The file is its
 * own checkpoint: a collect started again reads it back (as `batch` resumes) and writes only what is missing.
 * Results are read in the order they arrived (the job's `done` list), so a collect that runs while workers work
 * follows them, and stops when every item has a result (or at once with `--once`).
 */
import * as Effect from "effect/Effect"
import { ExitCode, type UsageError } from "../errors.js"
import * as Journal from "../journal.js"
import * as Records from "../records.js"
import * as Connection from "./connection.js"
import { type CollectConfig, queueDefaults } from "./options.js"
import * as Store from "./store.js"

/** Keys read per round trip. */
const PAGE = 1_000

export const run = (
  config: CollectConfig,
  stderr: (text: string) => void
): Effect.Effect<number, UsageError | Connection.QueueError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const notice = (text: string) => (config.quiet ? undefined : stderr(`${text}\n`))
      const connection = yield* Connection.open(config.redis, config.redisWait)
      const store = Store.make(connection, config.job)
      const journal = yield* Journal.open(config.output, { fresh: false, retryFailed: false })
      if (journal.recovery.kept > 0) notice(`Resuming: ${journal.recovery.kept} lines already in ${config.output}.`)
      const tally = { written: 0, failed: 0, unreadable: 0 }
      let cursor = 0
      for (;;) {
        const keys = yield* store.doneKeys(cursor, PAGE)
        const lines = yield* store.results(keys)
        for (let i = 0; i < keys.length; i++) {
          const key = keys[i]!
          const seen = journal.finished(key)
          if (seen !== undefined) {
            if (!seen.ok) tally.failed++
            continue
          }
          const record = lines[i] === undefined ? undefined : Records.decode(lines[i]!)
          if (record === undefined) {
            tally.unreadable++
            continue
          }
          yield* journal.append(record)
          tally.written++
          if (!record.ok) tally.failed++
        }
        cursor += keys.length
        if (keys.length === PAGE) continue
        const counts = yield* store.counts
        if (counts.total === 0) notice(`Job "${config.job}" has no items (push some with queue push).`)
        if (cursor >= counts.total || config.once) {
          notice(
            `Wrote ${tally.written} new results to ${config.output}; ${cursor} of ${counts.total} items of job ` +
              `"${config.job}" are in it, ${tally.failed} of them failures.` +
              (tally.unreadable > 0 ? ` ${tally.unreadable} stored results were unreadable and skipped.` : "")
          )
          const complete = cursor >= counts.total && tally.unreadable === 0
          return complete && tally.failed === 0 ? ExitCode.ok : ExitCode.failed
        }
        yield* Effect.sleep(queueDefaults.pollInterval)
      }
    })
  )
