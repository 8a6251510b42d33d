/**
 * The queue part of `npm run bench` (also runnable alone: `npx tsx bench/queue.ts [--items N]`): the Redis work
 * queue of `grok-resilience queue` measured without any Grok call, on its own `redis-server`.
 *
 * 1. Push: N items (a prompt line of about 110 bytes each) in chunks of 500, as `queue push` sends them.
 * 2. Work: 64 fibers on one connection take one item and store its result (a result line of about 430 bytes, as
 *    the fake server's answers give), as `queue work` slots do: items per second of the queue alone.
 * 3. Memory: `used_memory` of `INFO memory` and `MEMORY USAGE` of each key after the push (every item pending)
 *    and after the work (every result stored), per item and extrapolated to a million items.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import * as Connection from "../cli/src/queue/connection.js"
import { contentHash } from "../cli/src/queue/push.js"
import * as Store from "../cli/src/queue/store.js"
import { hasBinary, startRedis } from "../test/redis/server.js"

export interface QueueBenchResult {
  readonly items: number
  readonly pushPerSecond: number
  readonly workPerSecond: number
  readonly pendingBytesPerItem: number
  readonly doneBytesPerItem: number
  readonly keys: Readonly<Record<string, number>>
}

const prompt = (i: number) =>
  JSON.stringify({ id: `item-${i}`, prompt: `Summarise in one sentence the support ticket number ${i} of the queue.` })

const result = (i: number) =>
  JSON.stringify({
    id: `item-${i}`,
    ok: true,
    content: `A short answer of a few words for item ${i}, about as long as a one-sentence summary is.`,
    usage: { prompt_tokens: 24, completion_tokens: 20, total_tokens: 44, cost_in_usd_ticks: 690000 },
    attempts: 1,
    requestId: "9f4f67cb-7a55-4c34-ad39-2f4e072ba485"
  })

const usedMemory = (connection: Connection.Connection) =>
  Effect.map(
    connection.run("INFO", (redis) => redis.info("memory")),
    (info) => Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN)
  )

const keySizes = (connection: Connection.Connection, store: Store.Store) =>
  Effect.forEach(Object.entries(store.keys), ([name, key]) =>
    Effect.map(
      connection.run("MEMORY USAGE", (redis) => redis.memory("USAGE", key, "SAMPLES", "0")),
      (bytes) => [name, Number(bytes ?? 0)] as const
    )
  )

const measure = (url: string, items: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const connection = yield* Connection.open(url, Duration.seconds(10))
      const store = Store.make(connection, "bench")
      yield* store.ensureGroup
      const before = yield* usedMemory(connection)
      const pushStart = performance.now()
      for (let start = 0; start < items; start += 500) {
        const chunk = Array.from({ length: Math.min(500, items - start) }, (_, j) => {
          const line = prompt(start + j)
          return {
            key: `iitem-${start + j}`,
            hash: contentHash(line),
            kind: "call" as const,
            line: start + j + 1,
            payload: line
          }
        })
        yield* store.push(chunk)
      }
      const pushSeconds = (performance.now() - pushStart) / 1000
      const pending = yield* usedMemory(connection)
      const workStart = performance.now()
      const slot = Effect.gen(function* () {
        for (;;) {
          const taken = yield* store.take("bench-worker", 60_000, 1)
          const entry = taken.entries[0]
          if (entry === undefined) return
          yield* store.complete(entry.entryId, entry.key!, result(entry.line), false)
        }
      })
      yield* Effect.all(
        Array.from({ length: 64 }, () => slot),
        { concurrency: "unbounded", discard: true }
      )
      const workSeconds = (performance.now() - workStart) / 1000
      const done = yield* usedMemory(connection)
      const counts = yield* store.counts
      if (counts.done !== items) throw new Error(`expected ${items} results, found ${counts.done}`)
      return {
        items,
        pushPerSecond: items / pushSeconds,
        workPerSecond: items / workSeconds,
        pendingBytesPerItem: (pending - before) / items,
        doneBytesPerItem: (done - before) / items,
        keys: Object.fromEntries(yield* keySizes(connection, store))
      } satisfies QueueBenchResult
    })
  )

const perItem = (bytes: number): string =>
  `${Math.round(bytes)} B (${((bytes * 1e6) / 1048576).toFixed(0)} MiB per million)`

export const table = (r: QueueBenchResult): string =>
  [
    `## Redis work queue (${r.items.toLocaleString("en")} items, no Grok calls)\n`,
    "| figure | value |",
    "|---|---|",
    `| push, items per second (chunks of 500) | ${Math.round(r.pushPerSecond).toLocaleString("en")} |`,
    `| take + store result, items per second (64 fibers, one connection) | ${Math.round(r.workPerSecond).toLocaleString("en")} |`,
    `| Redis memory per item, all pending | ${perItem(r.pendingBytesPerItem)} |`,
    `| Redis memory per item, all done | ${perItem(r.doneBytesPerItem)} |`,
    `| MEMORY USAGE by key after the work | ${Object.entries(r.keys)
      .map(([name, bytes]) => `${name} ${(bytes / 1048576).toFixed(1)} MiB`)
      .join(", ")} |`
  ].join("\n")

export const runQueueBench = async (items = 50_000): Promise<QueueBenchResult | undefined> => {
  if (!hasBinary()) {
    console.log("\n(Queue part skipped: it needs a redis-server binary of its own to measure memory)")
    return undefined
  }
  const redis = await startRedis()
  try {
    console.error(`Queue: ${items} items`)
    const measured = await Effect.runPromise(measure(redis.url, items))
    console.log(`\n${table(measured)}`)
    return measured
  } finally {
    await redis.stop()
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const index = process.argv.indexOf("--items")
  const items = index >= 0 ? Number(process.argv[index + 1]) : 50_000
  runQueueBench(Number.isSafeInteger(items) && items > 0 ? items : 50_000).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    }
  )
}
