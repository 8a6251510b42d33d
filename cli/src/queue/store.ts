/**
 * The operations of one job over its Redis keys, with every reply decoded: a reply of an unexpected shape (a key
 * written by something else) fails with a `QueueError` that says so instead of being trusted.
 */
import * as Effect from "effect/Effect"
import type { Connection } from "./connection.js"
import { QueueError } from "./connection.js"
import * as Keys from "./keys.js"

/** An item to push: a call (its line's text) or a refused line (its error result). */
export interface Pushed {
  readonly key: string
  readonly hash: string
  readonly kind: "call" | "refused"
  readonly line: number
  readonly payload: string
}

/** One item taken by a worker. */
export interface Entry {
  readonly entryId: string
  readonly key: string | undefined
  readonly line: number
  readonly text: string | undefined
}

/** The counters of a job. */
export interface Counts {
  readonly total: number
  /** Items not yet taken (or handed back). */
  readonly pending: number
  readonly inFlight: number
  readonly done: number
  readonly failed: number
  /** Results stored by workers (refused input lines excluded). */
  readonly worked: number
  /** Redis time of the first and the last result stored by a worker (0: none yet). */
  readonly firstAt: number
  readonly lastAt: number
  readonly consumers: number
  readonly now: number
}

const malformed = (what: string, reply: unknown) =>
  new QueueError({ message: `unexpected reply from Redis to ${what}: ${JSON.stringify(reply)?.slice(0, 200)}` })

const asNumber = (u: unknown): number | undefined => {
  const n = typeof u === "number" ? u : typeof u === "string" ? Number(u) : NaN
  return Number.isFinite(n) ? n : undefined
}

/** A stream entry `[id, [field, value, ...]]`; undefined when it is not one. */
const toEntry = (u: unknown): Entry | undefined => {
  if (!Array.isArray(u) || typeof u[0] !== "string") return undefined
  const fields: Record<string, string> = {}
  const list: unknown = u[1]
  if (Array.isArray(list)) {
    for (let i = 0; i + 1 < list.length; i += 2) {
      if (typeof list[i] === "string" && typeof list[i + 1] === "string") fields[list[i]] = list[i + 1]
    }
  }
  return { entryId: u[0], key: fields.k, line: asNumber(fields.n) ?? 0, text: fields.t }
}

export interface Store {
  readonly keys: Keys.Keys
  /** Creates the stream and the consumer group when they are missing. */
  readonly ensureGroup: Effect.Effect<void, QueueError>
  readonly push: (
    items: ReadonlyArray<Pushed>
  ) => Effect.Effect<
    { readonly added: number; readonly same: number; readonly conflicts: ReadonlyArray<string> },
    QueueError
  >
  readonly take: (
    consumer: string,
    reclaimAfterMillis: number,
    count: number
  ) => Effect.Effect<{ readonly reclaimed: boolean; readonly entries: ReadonlyArray<Entry> }, QueueError>
  readonly complete: (
    entryId: string,
    key: string,
    result: string,
    failed: boolean
  ) => Effect.Effect<boolean, QueueError>
  /** Acknowledges an entry that cannot be worked on (no key): nothing can be written for it. */
  readonly drop: (entryId: string) => Effect.Effect<void, QueueError>
  readonly handBack: (consumer: string, entryIds: ReadonlyArray<string>) => Effect.Effect<number, QueueError>
  readonly touch: (consumer: string, entryIds: ReadonlyArray<string>) => Effect.Effect<number, QueueError>
  readonly leave: (consumer: string) => Effect.Effect<void, QueueError>
  readonly counts: Effect.Effect<Counts, QueueError>
  /** Keys of results from position `start` of the arrival order, at most `count`. */
  readonly doneKeys: (start: number, count: number) => Effect.Effect<ReadonlyArray<string>, QueueError>
  /** The stored result lines of these keys (undefined where none). */
  readonly results: (keys: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<string | undefined>, QueueError>
}

type Run = Connection["run"]

const decodePush = (reply: unknown) => {
  if (!Array.isArray(reply) || !Array.isArray(reply[2])) return Effect.fail(malformed("push", reply))
  const [added, same] = [asNumber(reply[0]), asNumber(reply[1])]
  if (added === undefined || same === undefined) return Effect.fail(malformed("push", reply))
  return Effect.succeed({ added, same, conflicts: reply[2].map(String) })
}

const decodeTake = (reply: unknown) => {
  if (!Array.isArray(reply) || !Array.isArray(reply[1])) return Effect.fail(malformed("take", reply))
  const entries = reply[1].map(toEntry)
  if (entries.some((entry) => entry === undefined)) return Effect.fail(malformed("take", reply))
  return Effect.succeed({ reclaimed: asNumber(reply[0]) === 1, entries: entries as Array<Entry> })
}

const decodeCounts = (reply: unknown) => {
  const values = Array.isArray(reply) ? reply.map(asNumber) : []
  if (values.length !== 10 || values.some((value) => value === undefined)) {
    return Effect.fail(malformed("counts", reply))
  }
  const [total, inStream, inFlight, done, failed, worked, firstAt, lastAt, consumers, now] = values as Array<number>
  return Effect.succeed<Counts>({
    total: total!,
    pending: Math.max(0, inStream! - inFlight!),
    inFlight: inFlight!,
    done: done!,
    failed: failed!,
    worked: worked!,
    firstAt: firstAt!,
    lastAt: lastAt!,
    consumers: consumers!,
    now: now!
  })
}

/** What workers do to items: take, complete, drop, hand back, renew. */
const itemOperations = (run: Run, keys: Keys.Keys) => ({
  take: (consumer: string, reclaimAfterMillis: number, count: number) =>
    Effect.flatMap(
      run("take", (redis) =>
        redis.queueTake(
          keys.stream,
          Keys.GROUP,
          consumer,
          String(Math.max(1, Math.round(reclaimAfterMillis))),
          String(count)
        )
      ),
      decodeTake
    ),
  complete: (entryId: string, key: string, result: string, failed: boolean) =>
    Effect.map(
      run("complete", (redis) =>
        redis.queueComplete(
          keys.stream,
          keys.results,
          keys.done,
          keys.meta,
          Keys.GROUP,
          entryId,
          key,
          result,
          failed ? "1" : "0"
        )
      ),
      (reply) => asNumber(reply) === 1
    ),
  drop: (entryId: string) =>
    run("drop", (redis) => redis.multi().xack(keys.stream, Keys.GROUP, entryId).xdel(keys.stream, entryId).exec()).pipe(
      Effect.asVoid
    ),
  handBack: (consumer: string, entryIds: ReadonlyArray<string>) =>
    entryIds.length === 0
      ? Effect.succeed(0)
      : Effect.map(
          run("hand back", (redis) => redis.queueHandBack(keys.stream, Keys.GROUP, consumer, ...entryIds)),
          (reply) => asNumber(reply) ?? 0
        ),
  touch: (consumer: string, entryIds: ReadonlyArray<string>) =>
    entryIds.length === 0
      ? Effect.succeed(0)
      : Effect.map(
          run("heartbeat", (redis) => redis.queueTouch(keys.stream, Keys.GROUP, consumer, ...entryIds)),
          (reply) => asNumber(reply) ?? 0
        ),
  leave: (consumer: string) =>
    Effect.asVoid(run("leave", (redis) => redis.queueLeave(keys.stream, Keys.GROUP, consumer)))
})

export const make = (connection: Connection, job: string): Store => {
  const keys = Keys.forJob(job)
  const { run } = connection
  return {
    keys,
    ensureGroup: run("XGROUP CREATE", (redis) =>
      redis.xgroup("CREATE", keys.stream, Keys.GROUP, "0", "MKSTREAM").catch((error: unknown) => {
        if (error instanceof Error && error.message.startsWith("BUSYGROUP")) return "OK"
        throw error
      })
    ).pipe(Effect.asVoid),
    push: (items) =>
      Effect.flatMap(
        run("push", (redis) =>
          redis.queuePush(
            keys.ids,
            keys.stream,
            keys.results,
            keys.done,
            keys.meta,
            ...items.flatMap((item) => [
              item.key,
              item.hash,
              item.kind === "call" ? "c" : "f",
              String(item.line),
              item.payload
            ])
          )
        ),
        decodePush
      ),
    ...itemOperations(run, keys),
    counts: Effect.flatMap(
      run("counts", (redis) => redis.queueCounts(keys.ids, keys.stream, keys.results, keys.meta, Keys.GROUP)),
      decodeCounts
    ),
    doneKeys: (start, count) => run("LRANGE", (redis) => redis.lrange(keys.done, start, start + count - 1)),
    results: (list) =>
      list.length === 0
        ? Effect.succeed([])
        : Effect.map(
            run("HMGET", (redis) => redis.hmget(keys.results, ...list)),
            (values) => values.map((value) => value ?? undefined)
          )
  }
}
