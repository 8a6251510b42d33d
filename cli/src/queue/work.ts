/**
 * `queue work`: takes items one at a time per slot (`--concurrency` slots), calls Grok, and stores each result in
 * Redis as it arrives, together with the acknowledgement of its item. A heartbeat keeps this worker's items from
 * being reclaimed while their calls run; a dead worker's items are taken again once they have been idle for
 * `--reclaim-after`. Interrupted (SIGINT, SIGTERM), the worker hands its unfinished items back at once.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import { randomBytes } from "node:crypto"
import * as Os from "node:os"
import type { GrokClient, GrokError } from "grok-resilience"
import { ExitCode, type UsageError } from "../errors.js"
import * as Input from "../input.js"
import * as Records from "../records.js"
import * as Connection from "./connection.js"
import { queueDefaults, type WorkConfig } from "./options.js"
import * as Store from "./store.js"
import * as Client from "./client.js"

/** An error after which no other call can succeed: the key is refused or the credits are gone. */
const stopsTheRun = (error: GrokError.GrokError): boolean =>
  (error._tag === "AuthError" && error.reason === "InvalidKey") || error._tag === "QuotaExhausted"

interface Stats {
  stored: number
  twice: number
  reclaimed: number
  handedBack: number
  stoppedBy: GrokError.GrokError | undefined
}

/** The result line of one taken item; an entry that is not one of ours (no text) is refused like a bad line. */
const resultOf = (grok: GrokClient.Service, model: string, entry: Store.Entry, stats: Stats) => {
  const item = Input.parser({ model })({ number: entry.line, text: entry.text ?? "", end: 0, terminated: true })
  if (item === undefined) {
    return Effect.succeed<Records.ResultLine>(Records.invalid(null, entry.line, `Line ${entry.line}: empty item`))
  }
  if (item._tag === "Invalid") return Effect.succeed<Records.ResultLine>(item.record)
  if (stats.stoppedBy !== undefined) return Effect.succeed(Records.notSent(item.id, stats.stoppedBy))
  const options = item.priority !== undefined ? { priority: item.priority } : {}
  return Effect.map(Effect.either(grok.chat(item.request, options)), (result) => {
    if (Either.isRight(result)) return Records.ok(item.id, result.right)
    if (stats.stoppedBy === undefined && stopsTheRun(result.left)) stats.stoppedBy = result.left
    return Records.failed(item.id, result.left)
  })
}

const consumerName = (): string => `${Os.hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`

export const run = (
  config: WorkConfig,
  stderr: (text: string) => void
): Effect.Effect<number, UsageError | Connection.QueueError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const notice = (text: string) => (config.quiet ? undefined : stderr(text.endsWith("\n") ? text : `${text}\n`))
      const connection = yield* Connection.open(config.redis, config.redisWait)
      const store = Store.make(connection, config.job)
      yield* store.ensureGroup
      const grok = yield* Client.make(config, notice)
      const consumer = consumerName()
      const reclaimMillis = Duration.toMillis(config.reclaimAfter)
      const inFlight = new Set<string>()
      const stats: Stats = { stored: 0, twice: 0, reclaimed: 0, handedBack: 0, stoppedBy: undefined }

      // The heartbeat: a few times per reclaim period, so that one late beat does not get a live item reclaimed.
      yield* Effect.suspend(() => store.touch(consumer, [...inFlight])).pipe(
        Effect.catchAll((error) => Effect.logWarning(`queue heartbeat failed: ${error.message}`)),
        Effect.repeat(Schedule.spaced(Duration.millis(Math.max(50, reclaimMillis / queueDefaults.heartbeatShare)))),
        Effect.forkScoped
      )

      const work = (entry: Store.Entry) =>
        entry.key === undefined
          ? Effect.zipRight(
              Effect.logWarning(`queue: dropped entry ${entry.entryId} without a key`),
              store.drop(entry.entryId)
            )
          : Effect.uninterruptibleMask((restore) =>
              Effect.flatMap(restore(resultOf(grok, config.model, entry, stats)), (record) =>
                Effect.map(store.complete(entry.entryId, entry.key!, JSON.stringify(record), !record.ok), (stored) => {
                  if (stored) stats.stored++
                  else stats.twice++
                })
              )
            )

      const takeOne = Effect.acquireUseRelease(
        Effect.tap(store.take(consumer, reclaimMillis, 1), (taken) =>
          Effect.sync(() => {
            if (taken.reclaimed) stats.reclaimed += taken.entries.length
            for (const entry of taken.entries) inFlight.add(entry.entryId)
          })
        ),
        (taken) => Effect.as(Effect.forEach(taken.entries, work, { discard: true }), taken.entries.length),
        (taken, exit) => {
          const ids = taken.entries.map((entry) => entry.entryId)
          for (const id of ids) inFlight.delete(id)
          if (Exit.isSuccess(exit) || ids.length === 0) return Effect.void
          // Handed back now, or reclaimed after --reclaim-after when Redis cannot be reached.
          return store.handBack(consumer, ids).pipe(
            Effect.tap((n) => Effect.sync(() => (stats.handedBack += n))),
            Effect.timeout("5 seconds"),
            Effect.ignore
          )
        }
      )

      const slot = Effect.gen(function* () {
        while (stats.stoppedBy === undefined) {
          if ((yield* takeOne) > 0) continue
          const counts = yield* store.counts
          if (counts.pending + counts.inFlight === 0) return
          yield* Effect.sleep(queueDefaults.pollInterval)
        }
      })

      const report = Effect.sync(() =>
        notice(
          `Worker ${consumer}: ${stats.stored} results stored` +
            (stats.reclaimed > 0 ? `, ${stats.reclaimed} items reclaimed from stopped workers` : "") +
            (stats.twice > 0 ? `, ${stats.twice} finished by another worker first` : "") +
            (stats.handedBack > 0 ? `, ${stats.handedBack} unfinished items handed back` : "") +
            "."
        )
      )
      yield* Effect.forEach(Array.from({ length: config.concurrency }), () => slot, {
        concurrency: "unbounded",
        discard: true
      }).pipe(Effect.onExit((exit) => (Exit.isInterrupted(exit) ? report : Effect.void)))
      yield* Effect.ignore(store.leave(consumer))
      yield* report
      if (stats.stoppedBy !== undefined) {
        stderr(`Stopped: ${stats.stoppedBy.message} (no other call can succeed; the rest stays in the job).\n`)
        return ExitCode.failed
      }
      const counts = yield* store.counts
      notice(`Job "${config.job}": ${counts.done} of ${counts.total} items have a result (${counts.failed} failed).`)
      return ExitCode.ok
    })
  )
