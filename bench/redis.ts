/**
 * The Redis part of `npm run bench` (also runnable alone: `npx tsx bench/redis.ts`).
 *
 * 1. Shared quota: four Node processes share one quota of 20 requests per second (burst 5) of the fake Grok server
 *    through one Redis, 300 calls in all (75 each, 8 at a time). Reported: calls ok, 429 answers (target 0), the
 *    most arrivals in any one-second window (target ≤ 20 + 5), and wall / ideal (ideal = (300 − 5) / 20 s, target
 *    ≤ 1.10). The workers' limiter runs at 20 per second with burst 2: three requests of the server's burst are
 *    left as slack for the jitter between the admission in Redis and the arrival at the server (on a loaded
 *    two-core machine burst 3 already drew a 429 now and then, burst 4 several), and the second request of the
 *    limiter's own burst absorbs the few milliseconds each admission arrives late, which burst 1 loses every time.
 * 2. The Redis store alone: `reserve` calls per second from 32 fibers on one connection over loopback, with their
 *    latency.
 *
 * It starts its own `redis-server` on a free port (or uses `REDIS_URL` when there is no binary) and its own fake
 * server. The workers are this file run with `--worker`.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { performance } from "node:perf_hooks"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import * as GrokClient from "../src/GrokClient.js"
import * as RedisStore from "../src/redis/RedisStore.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"
import { availability, startRedis } from "../test/redis/server.js"

const WORKERS = 4
const CALLS = 300
const CONCURRENCY = 8
const RATE = 20
const SERVER_BURST = 5
const LIMITER_BURST = 2
const STORE_SECONDS = 3
const STORE_FIBERS = 32

/**
 * @since 0.1.0
 */
export interface RedisBenchResult {
  readonly shared: {
    readonly calls: number
    readonly ok: number
    readonly failures: Readonly<Record<string, number>>
    readonly answers429: number
    readonly maxArrivalsPerSecond: number
    readonly wallSeconds: number
    readonly idealSeconds: number
    readonly wallRatio: number
  }
  readonly store: {
    readonly admissionsPerSecond: number
    readonly p50Millis: number
    readonly p99Millis: number
    readonly fibers: number
  }
}

interface WorkerConfig {
  readonly redisUrl: string
  readonly prefix: string
  readonly baseUrl: string
  readonly apiKey: string
  readonly calls: number
}

interface WorkerResult {
  readonly ok: number
  readonly failures: Record<string, number>
}

/** One worker process: a GrokClient behind a RateLimiter on the Redis store; waits for "go" on stdin. */
const worker = (config: WorkerConfig): Promise<void> => {
  const program = Effect.gen(function* () {
    const grok = yield* GrokClient.GrokClient
    process.stdout.write("ready\n")
    yield* Effect.promise(
      () => new Promise<void>((resolve) => createInterface({ input: process.stdin }).once("line", () => resolve()))
    )
    const results = yield* Effect.forEach(
      Array.from({ length: config.calls }, (_, index) => index),
      (index) =>
        Effect.either(
          grok.chat({ model: "grok-4", messages: [{ role: "user", content: `call ${process.pid}-${index}` }] })
        ),
      { concurrency: CONCURRENCY }
    )
    const failures: Record<string, number> = {}
    let ok = 0
    for (const result of results) {
      if (Either.isRight(result)) ok++
      else failures[result.left._tag] = (failures[result.left._tag] ?? 0) + 1
    }
    process.stdout.write(JSON.stringify({ ok, failures } satisfies WorkerResult) + "\n")
  })
  const live = GrokClient.layer({ apiKey: Redacted.make(config.apiKey), baseUrl: config.baseUrl }).pipe(
    Layer.provide(FetchHttpClient.layer),
    Layer.provide(
      RedisStore.layerRateLimiter(
        { requestsPerSecond: RATE, burst: LIMITER_BURST, key: "bench" },
        { url: config.redisUrl, prefix: config.prefix }
      )
    )
  )
  return Effect.runPromise(program.pipe(Effect.provide(live), Logger.withMinimumLogLevel(LogLevel.None), Effect.orDie))
}

interface Spawned {
  readonly child: ChildProcess
  readonly ready: Promise<void>
  readonly result: Promise<WorkerResult>
}

const spawnWorker = (config: WorkerConfig): Spawned => {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(import.meta.url), "--worker", JSON.stringify(config)],
    {
      stdio: ["pipe", "pipe", "inherit"]
    }
  )
  const lines = createInterface({ input: child.stdout! })
  let onReady: () => void = () => {}
  let onResult: (result: WorkerResult) => void = () => {}
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  const result = new Promise<WorkerResult>((resolve, reject) => {
    onResult = resolve
    child.once("exit", (code) => reject(new Error(`bench worker exited with code ${code} before its result`)))
  })
  lines.on("line", (line) => {
    if (line === "ready") onReady()
    else if (line.startsWith("{")) onResult(JSON.parse(line) as WorkerResult)
  })
  return { child, ready, result }
}

/** The most arrivals in any window `[t, t + 1 s)`. */
const maxPerSecond = (times: ReadonlyArray<number>): number => {
  const sorted = [...times].sort((a, b) => a - b)
  let most = 0
  let start = 0
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= 1000) start++
    most = Math.max(most, end - start + 1)
  }
  return most
}

const sharedQuota = async (redisUrl: string): Promise<RedisBenchResult["shared"]> => {
  const fake = await FakeGrok.start({ requestsPerSecond: RATE, burst: SERVER_BURST, retryAfter: "seconds" })
  try {
    const prefix = `grok-resilience-bench:${randomUUID().slice(0, 8)}`
    const per = CALLS / WORKERS
    const workers = Array.from({ length: WORKERS }, () =>
      spawnWorker({ redisUrl, prefix, baseUrl: fake.url, apiKey: fake.apiKey, calls: per })
    )
    await Promise.all(workers.map((w) => w.ready))
    const began = performance.now()
    for (const w of workers) w.child.stdin!.write("go\n")
    const results = await Promise.all(workers.map((w) => w.result))
    const wallSeconds = (performance.now() - began) / 1000
    for (const w of workers) w.child.stdin!.end()
    const arrivals = (await Effect.runPromise(fake.arrivals)).filter((a) => a.path.endsWith("/chat/completions"))
    const failures: Record<string, number> = {}
    for (const result of results) {
      for (const [tag, count] of Object.entries(result.failures)) failures[tag] = (failures[tag] ?? 0) + count
    }
    const idealSeconds = (CALLS - SERVER_BURST) / RATE
    return {
      calls: CALLS,
      ok: results.reduce((sum, result) => sum + result.ok, 0),
      failures,
      answers429: arrivals.filter((a) => a.status === 429).length,
      maxArrivalsPerSecond: maxPerSecond(arrivals.map((a) => a.atMillis)),
      wallSeconds,
      idealSeconds,
      wallRatio: wallSeconds / idealSeconds
    }
  } finally {
    await fake.close()
  }
}

const storeAlone = (redisUrl: string): Promise<RedisBenchResult["store"]> =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const store = yield* RedisStore.makeDirect({
          url: redisUrl,
          prefix: `grok-resilience-bench:${randomUUID().slice(0, 8)}`
        })
        const limits = { requests: { intervalMillis: 1e-6, burst: 1e9 }, tokens: { intervalMillis: 1e-6, burst: 1e9 } }
        const latencies: Array<number> = []
        let admitted = 0
        const end = performance.now() + STORE_SECONDS * 1000
        const loop = Effect.gen(function* () {
          let i = 0
          while (performance.now() < end) {
            const started = performance.now()
            const answer = yield* store.reserve({ key: `k${i++ % 8}`, requests: 1, tokens: 100, limits })
            latencies.push(performance.now() - started)
            if (answer.ok) admitted++
          }
        })
        const began = performance.now()
        yield* Effect.all(
          Array.from({ length: STORE_FIBERS }, () => loop),
          { concurrency: "unbounded" }
        )
        const seconds = (performance.now() - began) / 1000
        latencies.sort((a, b) => a - b)
        const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
        return {
          admissionsPerSecond: admitted / seconds,
          p50Millis: at(0.5),
          p99Millis: at(0.99),
          fibers: STORE_FIBERS
        }
      })
    ).pipe(Effect.orDie)
  )

const table = (result: RedisBenchResult): string => {
  const { shared, store } = result
  const failures = Object.entries(shared.failures)
    .map(([tag, count]) => `${tag} ${count}`)
    .join(", ")
  const mark = (ok: boolean) => (ok ? "✓" : "✗")
  const limit = RATE + SERVER_BURST
  return [
    `## Shared quota through Redis: ${WORKERS} processes, ${CALLS} calls, ${RATE} req/s burst ${SERVER_BURST}`,
    "",
    "| figure | value | target | |",
    "|---|---|---|---|",
    `| calls ok | ${shared.ok} / ${shared.calls}${failures === "" ? "" : ` (failed: ${failures})`} | all | ${mark(shared.ok === shared.calls)} |`,
    `| 429 answers | ${shared.answers429} | 0 | ${mark(shared.answers429 === 0)} |`,
    `| most arrivals in any 1 s window | ${shared.maxArrivalsPerSecond} | ≤ ${limit} | ${mark(shared.maxArrivalsPerSecond <= limit)} |`,
    `| wall / ideal | ${shared.wallSeconds.toFixed(2)} s / ${shared.idealSeconds.toFixed(2)} s = ${shared.wallRatio.toFixed(3)} | ≤ 1.10 | ${mark(shared.wallRatio <= 1.1)} |`,
    "",
    `## Redis store alone (loopback, ${store.fibers} fibers, one connection, ${STORE_SECONDS} s)`,
    "",
    "| figure | value |",
    "|---|---|",
    `| admissions per second | ${Math.round(store.admissionsPerSecond).toLocaleString("en-US")} |`,
    `| reserve latency p50 / p99 | ${store.p50Millis.toFixed(2)} ms / ${store.p99Millis.toFixed(2)} ms |`
  ].join("\n")
}

/**
 * Runs both measurements, prints their tables, and returns the figures. Resolves with undefined (and says why)
 * when there is neither a `redis-server` binary nor `REDIS_URL`.
 *
 * @since 0.1.0
 */
export const runRedisBench = async (): Promise<RedisBenchResult | undefined> => {
  const found = availability()
  if (found.kind === "none") {
    console.log(`\n(Redis part skipped: ${found.reason})`)
    return undefined
  }
  const own = found.kind === "binary" ? await startRedis() : undefined
  const redisUrl = own?.url ?? (found.kind === "url" ? found.url : "")
  try {
    console.error("Redis: shared quota across 4 processes")
    const shared = await sharedQuota(redisUrl)
    console.error("Redis: store alone")
    const store = await storeAlone(redisUrl)
    const result = { shared, store }
    console.log(`\n${table(result)}`)
    return result
  } finally {
    await own?.stop()
  }
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]

if (isMain) {
  const index = process.argv.indexOf("--worker")
  const run = index >= 0 ? worker(JSON.parse(process.argv[index + 1] ?? "{}") as WorkerConfig) : runRedisBench()
  run.then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    }
  )
}
