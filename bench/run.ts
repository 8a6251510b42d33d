/**
 * `npm run bench`: runs every scenario over real HTTP against the fake Grok server, for grok-resilience and, in the
 * same run, the openai SDK with its defaults and a plain fetch retry loop, and prints one table per scenario.
 *
 * Options (after `npm run bench --`):
 *   --repeat N           grok-resilience runs per scenario (default 1; the other contenders run once)
 *   --only a,b           scenario ids (configured, adaptive-hint, adaptive-blind, headers, tokens)
 *   --contenders a,b     contender ids (grok, openai, fetch)
 *   --all-baselines      run the openai SDK and the fetch loop in every scenario, not once per baseline group
 *   --json FILE          also write every measurement as JSON
 *   --no-redis           skip the Redis part (bench/redis.ts: four processes sharing one quota through Redis)
 *   --no-queue           skip the queue part (bench/queue.ts: the Redis work queue of `queue`, no Grok calls)
 *   --no-stream          skip the stream scenario (bench/stream/)
 *   --no-outage          skip the containment part (bench/outage.ts: outages, a model down, a refused key)
 *
 * `npm run bench -- stream` runs the stream scenario alone, without the Redis and queue parts; `--only` takes
 * `stream` and `outage` beside the other ids. The stream scenario and the containment part run once whatever
 * `--repeat` says.
 */
import { writeFileSync } from "node:fs"
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import type { RateLimiter } from "../src/index.js"
import { FakeGrok } from "../src/testing/index.js"
import type { Contender, Outcome, Plan } from "./clients/contender.js"
import { fetchLoop } from "./clients/fetch-loop.js"
import { grokResilience } from "./clients/grok-resilience.js"
import { openai } from "./clients/openai.js"
import type { Measurement, Row } from "./report.js"
import { summary, table } from "./report.js"
import type { Scenario } from "./scenarios.js"
import { scenarios } from "./scenarios.js"
import { runStreamBench } from "./stream/run.js"

interface Args {
  readonly repeat: number
  readonly only: ReadonlyArray<string> | undefined
  readonly contenders: ReadonlyArray<string> | undefined
  readonly allBaselines: boolean
  readonly json: string | undefined
  readonly redis: boolean
  readonly queue: boolean
  readonly stream: boolean
  readonly outage: boolean
}

/** The id of the stream scenario (bench/stream/), which has its own runner and table. */
const STREAM = "stream"
/** The id of the containment part (bench/outage.ts), which has its own runner and tables. */
const OUTAGE = "outage"

const parseArgs = (argv: ReadonlyArray<string>): Args => {
  const value = (flag: string) => {
    const index = argv.indexOf(flag)
    return index >= 0 ? argv[index + 1] : undefined
  }
  const list = (flag: string) =>
    value(flag)
      ?.split(",")
      .map((item) => item.trim())
  const repeat = Number(value("--repeat") ?? "1")
  if (!Number.isSafeInteger(repeat) || repeat < 1) throw new Error("--repeat must be a whole number ≥ 1")
  const streamAlone = argv[0] === STREAM
  const only = streamAlone ? [STREAM] : list("--only")
  const unknown = only?.filter((id) => id !== STREAM && id !== OUTAGE && !scenarios.some((s) => s.id === id)) ?? []
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(", ")}`)
  return {
    repeat,
    only,
    contenders: list("--contenders"),
    allBaselines: argv.includes("--all-baselines"),
    json: value("--json"),
    redis: !streamAlone && !argv.includes("--no-redis"),
    queue: !streamAlone && !argv.includes("--no-queue"),
    stream: !argv.includes("--no-stream") && (only === undefined || only.includes(STREAM)),
    outage: !argv.includes("--no-outage") && (only === undefined || only.includes(OUTAGE))
  }
}

type Entry = { readonly id: string; readonly label: string } & (
  | { readonly kind: "grok"; readonly contender: Contender<RateLimiter.Options> }
  | { readonly kind: "baseline"; readonly contender: Contender }
)

const contenders: ReadonlyArray<Entry> = [
  { id: grokResilience.id, label: grokResilience.label, kind: "grok", contender: grokResilience },
  { id: openai.id, label: openai.label, kind: "baseline", contender: openai },
  { id: fetchLoop.id, label: fetchLoop.label, kind: "baseline", contender: fetchLoop }
]

const planOf = (scenario: Scenario): Plan => ({
  calls: scenario.calls,
  concurrency: scenario.concurrency,
  request: scenario.request
})

const runContender = (
  entry: Entry,
  target: { url: string; apiKey: string },
  plan: Plan,
  limiter: RateLimiter.Options
) => (entry.kind === "grok" ? entry.contender.run(target, plan, limiter) : entry.contender.run(target, plan, undefined))

/** One run on a fresh fake server, so that no quota, connection or arrival carries over. */
const measure = async (scenario: Scenario, entry: Entry): Promise<Measurement> => {
  const server = await FakeGrok.start(scenario.server)
  const stalls = monitorEventLoopDelay({ resolution: 10 })
  try {
    stalls.enable()
    const started = performance.now()
    const outcome: Outcome = await runContender(entry, server, planOf(scenario), scenario.limiter)
    const wallSeconds = (performance.now() - started) / 1000
    stalls.disable()
    const arrivals = (await Effect.runPromise(server.arrivals)).filter((a) => a.path === "/v1/chat/completions")
    const first = arrivals[0]?.atMillis ?? 0
    return {
      ...outcome,
      contender: entry.id,
      calls: scenario.calls,
      answers429: arrivals.filter((a) => a.status === 429).length,
      arrivals: arrivals.length,
      wallSeconds,
      at429: arrivals.filter((a) => a.status === 429).map((a) => Math.round(a.atMillis - first) / 1000),
      maxStallMillis: stalls.max / 1e6
    }
  } finally {
    stalls.disable()
    await server.close()
  }
}

/**
 * One unmeasured round per contender on an unlimited server before anything is measured: the first calls of a cold
 * process load and compile the HTTP stack and stall the event loop for a few hundred milliseconds, which bunches the
 * sends that follow. Every contender gets the same warm-up.
 */
const warmUp = async (entry: Entry): Promise<void> => {
  const server = await FakeGrok.start({})
  try {
    const plan: Plan = { calls: 60, concurrency: 30, request: scenarios[0]!.request }
    await runContender(entry, server, plan, { requestsPerSecond: 10_000, burst: 10_000 })
  } finally {
    await server.close()
  }
}

const progress = (scenario: Scenario, entry: Entry, run: Measurement) => {
  const at = run.at429.length > 0 && run.at429.length <= 12 ? ` at ${run.at429.map((t) => `${t}s`).join(" ")}` : ""
  console.error(
    `  ${scenario.id} · ${entry.id}: ${run.ok}/${run.calls} ok, ${run.answers429} × 429${at}, ${run.arrivals} arrivals, ` +
      `${run.wallSeconds.toFixed(2)} s (${(run.wallSeconds / scenario.idealSeconds).toFixed(3)} × ideal), ` +
      `longest event-loop stall ${run.maxStallMillis.toFixed(0)} ms`
  )
}

/**
 * The Redis part (`bench/redis.ts`, written separately): four processes sharing one quota through Redis, and the
 * store alone. Loaded only when it runs; it says so itself when there is no Redis to run against.
 */
const redisPart = async (enabled: boolean): Promise<void> => {
  if (!enabled) return
  const { runRedisBench } = await import("./redis.js")
  await runRedisBench()
}

const main = async () => {
  const args = parseArgs(process.argv.slice(2))
  const began = performance.now()
  const chosen = scenarios.filter((s) => args.only === undefined || args.only.includes(s.id))
  const entries = contenders.filter((c) => args.contenders === undefined || args.contenders.includes(c.id))
  const results: Array<{ scenario: Scenario; rows: Array<Row> }> = []
  /** Baseline runs by `${group}/${contender}`, with the title of the scenario they ran in. */
  const baselines = new Map<string, { readonly title: string; readonly runs: ReadonlyArray<Measurement> }>()
  console.log(
    `# grok-resilience benchmark\n\nNode ${process.version}, ${process.platform}/${process.arch}, fake Grok server on ` +
      `127.0.0.1 in the same process, after one warm-up round per contender; grok-resilience runs ${args.repeat}× ` +
      "per scenario, the others once.\n"
  )
  if (chosen.length > 0) for (const entry of entries) await warmUp(entry)
  for (const scenario of chosen) {
    console.error(scenario.title)
    const rows: Array<Row> = []
    for (const entry of entries) {
      const key = `${scenario.baselineGroup}/${entry.id}`
      const earlier = entry.kind === "baseline" && !args.allBaselines ? baselines.get(key) : undefined
      if (earlier !== undefined) {
        rows.push({ label: entry.label, runs: earlier.runs, reusedFrom: earlier.title })
        continue
      }
      const runs: Array<Measurement> = []
      for (let i = 0; i < (entry.kind === "grok" ? args.repeat : 1); i++) {
        const run = await measure(scenario, entry)
        progress(scenario, entry, run)
        runs.push(run)
      }
      if (entry.kind === "baseline") baselines.set(key, { title: scenario.title, runs })
      rows.push({ label: entry.label, runs })
    }
    results.push({ scenario, rows })
    console.log(table(scenario, rows) + "\n")
  }
  if (chosen.length > 0) {
    console.log(
      summary(
        results.map(({ scenario, rows }) => ({ scenario, grok: rows.find((r) => r.label === grokResilience.label) }))
      )
    )
  }
  const streams = args.stream ? await runStreamBench() : []
  if (args.json !== undefined) {
    const dump = results.map(({ scenario, rows }) => ({
      scenario: scenario.id,
      idealSeconds: scenario.idealSeconds,
      rows
    }))
    const stream = streams.length > 0 ? [{ scenario: STREAM, rows: streams }] : []
    writeFileSync(args.json, JSON.stringify([...dump, ...stream], null, 2) + "\n")
  }
  await redisPart(args.redis)
  if (args.queue) await (await import("./queue.js")).runQueueBench()
  if (args.outage) {
    const { runOutageBench } = await import("./outage.js")
    console.log("")
    await runOutageBench()
  }
  console.log(`\nTotal bench time: ${((performance.now() - began) / 1000).toFixed(1)} s`)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
