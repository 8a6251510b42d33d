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
import type { GrokError } from "grok-resilience"
import { ExitCode, type UsageError } from "../errors.js"
import * as Input from "../input.js"
import type { Line } from "../lines.js"
import * as Records from "../records.js"
import type * as Send from "../send.js"
import * as Connection from "./connection.js"
import { queueDefaults, type WorkConfig } from "./options.js"
import * as Store from "./store.js"
import * as Client from "./client.js"

/** An error after which no other call can succeed: the key is refused or the credits are gone. */
const stopsTheRun = (error: GrokError.GrokError): boolean =>
  (error._tag === "AuthError" && error.reason === "InvalidKey") || error._tag === "QuotaExhausted"

type Parse = (line: Line) => Input.Item | undefined

interface Stats {
  stored: number
  twice: number
  reclaimed: number
  handedBack: number
  stoppedBy: GrokError.GrokError | undefined
}

/** The result line of one taken item; an entry that is not one of ours (no text) is refused like a bad line. */
const resultOf = (send: Send.Send, parse: Parse, entry: Store.Entry, stats: Stats) => {
  const item = parse({
    number: entry.line,
    text: entry.text ?? "",
    start: 0,
    end: 0,
    terminated: true,
    fault: undefined
  })
  if (item === undefined) {
    return Effect.succeed<Records.ResultLine>(Records.invalid(null, entry.line, `Line ${entry.line}: empty item`))
  }
  if (item._tag === "Invalid") return Effect.succeed<Records.ResultLine>(item.record)
  if (stats.stoppedBy !== undefined) return Effect.succeed(Records.notSent(item.id, Records.stopAfter(stats.stoppedBy)))
  const options = item.priority !== undefined ? { priority: item.priority } : {}
  return Effect.map(Effect.either(send(item, options)), (result) => {
    if (Either.isRight(result)) {
      const answered = result.right.model
      return Records.ok(item.id, result.right, answered !== item.request.model ? answered : undefined)
    }
    if (stats.stoppedBy === undefined && stopsTheRun(result.left)) stats.stoppedBy = result.left
    return Records.failed(item.id, result.left)
  })
}

const consumerName = (): string => `${Os.hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`

/** What one worker needs while it runs. */
interface Worker {
  readonly store: Store.Store
  readonly send: Send.Send
  /** Parses one item's line: a parser per item, as push already refused the duplicate ids. */
  readonly parse: Parse
  readonly consumer: string
  readonly reclaimMillis: number
  readonly inFlight: Set<string>
  readonly stats: Stats
}

/** Works on one entry; a result that arrived is stored even if an interruption comes right after. */
const workOn = (w: Worker, entry: Store.Entry) =>
  entry.key === undefined
    ? Effect.zipRight(
        Effect.logWarning(`queue: dropped entry ${entry.entryId} without a key`),
        w.store.drop(entry.entryId)
      )
    : Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(resultOf(w.send, w.parse, entry, w.stats)), (record) =>
          Effect.map(w.store.complete(entry.entryId, entry.key!, Records.encode(record), !record.ok), (stored) => {
            if (stored) w.stats.stored++
            else w.stats.twice++
          })
        )
      )

/** Takes one item and works on it; interrupted, hands it back. Resolves to the number of items taken. */
const takeOne = (w: Worker) =>
  Effect.acquireUseRelease(
    Effect.tap(w.store.take(w.consumer, w.reclaimMillis, 1), (taken) =>
      Effect.sync(() => {
        if (taken.reclaimed) w.stats.reclaimed += taken.entries.length
        for (const entry of taken.entries) w.inFlight.add(entry.entryId)
      })
    ),
    (taken) =>
      Effect.as(
        Effect.forEach(taken.entries, (entry) => workOn(w, entry), { discard: true }),
        taken.entries.length
      ),
    (taken, exit) => {
      const ids = taken.entries.map((entry) => entry.entryId)
      for (const id of ids) w.inFlight.delete(id)
      if (Exit.isSuccess(exit) || ids.length === 0) return Effect.void
      // Handed back now, or reclaimed after --reclaim-after when Redis cannot be reached.
      return w.store.handBack(w.consumer, ids).pipe(
        Effect.tap((n) => Effect.sync(() => (w.stats.handedBack += n))),
        Effect.timeout("5 seconds"),
        Effect.ignore
      )
    }
  )

/** One slot: takes items until the job has nothing left (pending or in flight anywhere) or the run stops. */
const slot = (w: Worker) =>
  Effect.gen(function* () {
    while (w.stats.stoppedBy === undefined) {
      if ((yield* takeOne(w)) > 0) continue
      const counts = yield* w.store.counts
      if (counts.pending + counts.inFlight === 0) return
      yield* Effect.sleep(queueDefaults.pollInterval)
    }
  })

/** The heartbeat: a few times per reclaim period, so that one late beat does not get a live item reclaimed. */
const heartbeat = (w: Worker) =>
  Effect.suspend(() => w.store.touch(w.consumer, [...w.inFlight])).pipe(
    Effect.catchAll((error) => Effect.logWarning(`queue heartbeat failed: ${error.message}`)),
    Effect.repeat(Schedule.spaced(Duration.millis(Math.max(50, w.reclaimMillis / queueDefaults.heartbeatShare)))),
    Effect.forkScoped
  )

const describeStats = (w: Worker): string =>
  `Worker ${w.consumer}: ${w.stats.stored} results stored` +
  (w.stats.reclaimed > 0 ? `, ${w.stats.reclaimed} items reclaimed from stopped workers` : "") +
  (w.stats.twice > 0 ? `, ${w.stats.twice} finished by another worker first` : "") +
  (w.stats.handedBack > 0 ? `, ${w.stats.handedBack} unfinished items handed back` : "") +
  "."

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
      const w: Worker = {
        store,
        send: yield* Client.make(config, notice),
        parse: (line) => Input.parser({ model: config.model, api: config.api })(line),
        consumer: consumerName(),
        reclaimMillis: Duration.toMillis(config.reclaimAfter),
        inFlight: new Set(),
        stats: { stored: 0, twice: 0, reclaimed: 0, handedBack: 0, stoppedBy: undefined }
      }
      yield* heartbeat(w)
      const report = Effect.sync(() => notice(describeStats(w)))
      yield* Effect.forEach(Array.from({ length: config.concurrency }), () => slot(w), {
        concurrency: "unbounded",
        discard: true
      }).pipe(Effect.onExit((exit) => (Exit.isInterrupted(exit) ? report : Effect.void)))
      yield* Effect.ignore(store.leave(w.consumer))
      yield* report
      if (w.stats.stoppedBy !== undefined) {
        stderr(`Stopped: ${w.stats.stoppedBy.message} (no other call can succeed; the rest stays in the job).\n`)
        return ExitCode.failed
      }
      const counts = yield* store.counts
      notice(`Job "${config.job}": ${counts.done} of ${counts.total} items have a result (${counts.failed} failed).`)
      return ExitCode.ok
    })
  )
