/**
 * `npm run bench`: runs every group and ends with one table of every target of issues 14 and 17 (`targets.ts`).
 * Groups, all by default, or the ones named (`npm run bench -- perf cli`):
 *   perf     CPU per call of the built library against raw @effect/platform HttpClient (`cpu.ts`), the event loop
 *            with 10,000 calls queued (`stall.ts`, in a child process)
 *   pacing   every scenario over real HTTP against the fake Grok server, for grok-resilience and, in the same run,
 *            the openai SDK with its defaults and a plain fetch retry loop, one table per scenario; the adaptive start
 *   cli      the batch CLI at scale and resuming (`cli-scale.ts`)
 *   stream   100 streamed calls through faults before and inside the stream (`stream/`), run once whatever
 *            `--repeat` says
 *   outage   containment: outages, a model down, a refused key (`outage.ts`), run once
 *   redis    four processes sharing one quota through Redis (`redis.ts`)
 *   queue    the Redis work queue of `queue`, no Grok calls (`queue.ts`)
 *
 * Options (after `npm run bench --`):
 *   --repeat N           grok-resilience runs per scenario (default 1; the other contenders run once)
 *   --only a,b           scenario ids (configured, adaptive-hint, adaptive-blind, headers, tokens)
 *   --contenders a,b     contender ids (grok, openai, fetch)
 *   --all-baselines      run the openai SDK and the fetch loop in every scenario, not once per baseline group
 *   --json FILE          also write every measurement as JSON
 *   --no-redis           skip the Redis part (bench/redis.ts: four processes sharing one quota through Redis)
 *   --no-stream          skip the stream scenario (bench/stream/)
 *   --no-outage          skip the containment part (bench/outage.ts)
 *   --no-queue           skip the queue part (bench/queue.ts)
 *   --cli-sizes a,b      prompts per CLI scale run (default 3000,10000)
 */
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import * as Os from "node:os"
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
import type { StallWithFloor } from "./stall.js"
import { BUILT_ENV } from "./support/builtLibrary.js"
import type { TargetRow } from "./targets.js"
import { cliRows, cpuRows, pacingRows, stallRows, targetsTable } from "./targets.js"

const GROUPS = ["perf", "pacing", "cli", "stream", "outage", "redis", "queue"] as const

/** The id of the stream scenario (bench/stream/), which has its own runner and table; `--only` takes it too. */
const STREAM = "stream"
/** The id of the containment part (bench/outage.ts); `--only` takes it too. */
const OUTAGE = "outage"
type Group = (typeof GROUPS)[number]

interface Args {
  readonly repeat: number
  readonly only: ReadonlyArray<string> | undefined
  readonly contenders: ReadonlyArray<string> | undefined
  readonly allBaselines: boolean
  readonly json: string | undefined
  readonly groups: ReadonlySet<Group>
  readonly cliSizes: ReadonlyArray<number>
}

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
  const only = list("--only")
  const named = argv.filter((arg, i) => !arg.startsWith("--") && (i === 0 || !argv[i - 1]!.startsWith("--")))
  const wrong = named.filter((name) => !(GROUPS as ReadonlyArray<string>).includes(name))
  if (wrong.length > 0) throw new Error(`unknown group ${wrong.join(", ")} (groups: ${GROUPS.join(", ")})`)
  const groups = new Set<Group>(named.length > 0 ? (named as Array<Group>) : GROUPS)
  if (argv.includes("--no-redis")) groups.delete("redis")
  if (argv.includes("--no-stream") || (only !== undefined && !only.includes(STREAM))) groups.delete("stream")
  if (argv.includes("--no-outage") || (only !== undefined && !only.includes(OUTAGE))) groups.delete("outage")
  if (argv.includes("--no-queue")) groups.delete("queue")
  const cliSizes = (list("--cli-sizes") ?? ["3000", "10000"]).map(Number)
  if (cliSizes.some((n) => !Number.isSafeInteger(n) || n < 20))
    throw new Error("--cli-sizes must be whole numbers ≥ 20")
  const unknown = only?.filter((id) => id !== STREAM && id !== OUTAGE && !scenarios.some((s) => s.id === id)) ?? []
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(", ")}`)
  return {
    repeat,
    only,
    contenders: list("--contenders"),
    allBaselines: argv.includes("--all-baselines"),
    json: value("--json"),
    groups,
    cliSizes
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
const redisPart = async (): Promise<void> => {
  const { runRedisBench } = await import("./redis.js")
  await runRedisBench()
}

/** The adaptive start against a server with room to spare: wall seconds of 40 calls at concurrency 30. */
const adaptiveStart = async (): Promise<number> => {
  const server = await FakeGrok.start({})
  try {
    const started = performance.now()
    await grokResilience.run(server, { calls: 40, concurrency: 30, request: scenarios[0]!.request }, {})
    return (performance.now() - started) / 1000
  } finally {
    await server.close()
  }
}

const pacingPart = async (args: Args): Promise<ReadonlyArray<TargetRow>> => {
  const chosen = scenarios.filter((s) => args.only === undefined || args.only.includes(s.id))
  if (chosen.length === 0) return pacingRows(undefined, undefined, 1, undefined)
  const entries = contenders.filter((c) => args.contenders === undefined || args.contenders.includes(c.id))
  const results: Array<{ scenario: Scenario; rows: Array<Row> }> = []
  /** Baseline runs by `${group}/${contender}`, with the title of the scenario they ran in. */
  const baselines = new Map<string, { readonly title: string; readonly runs: ReadonlyArray<Measurement> }>()
  for (const entry of entries) await warmUp(entry)
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
  const grokRuns = (id: string) =>
    results.find((r) => r.scenario.id === id)?.rows.find((row) => row.label === grokResilience.label)?.runs
  console.log(
    summary(
      results.map(({ scenario, rows }) => ({ scenario, grok: rows.find((r) => r.label === grokResilience.label) }))
    )
  )
  if (args.json !== undefined) {
    const dump = results.map(({ scenario, rows }) => ({
      scenario: scenario.id,
      idealSeconds: scenario.idealSeconds,
      rows
    }))
    writeFileSync(args.json, JSON.stringify(dump, null, 2) + "\n")
  }
  const start: Array<number> = []
  for (let i = 0; i < args.repeat; i++) start.push(await adaptiveStart())
  console.error(`  adaptive start: ${start.map((s) => `${s.toFixed(2)} s`).join(", ")}`)
  const ideal = scenarios.find((s) => s.id === "headers")!.idealSeconds
  return pacingRows(grokRuns("headers"), grokRuns("adaptive-blind"), ideal, start)
}

/**
 * The stall probe in a child process, so that this process's heap and event loop do not blur it; the library it
 * loads is the `dist` the CPU rows built.
 */
const stallInChild = (): StallWithFloor => {
  const out = execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", "bench/stall.ts", "10000"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, [BUILT_ENV]: "1" }
  })
  return JSON.parse(out.trim().split("\n").pop()!) as StallWithFloor
}

const perfPart = async (args: Args) => {
  const { runCpu } = await import("./cpu.js")
  const cpu = await runCpu()
  for (const run of cpu) {
    console.error(
      `  cpu ${run.mode}: raw ${run.rawMillis.map((m) => m.toFixed(2)).join(", ")} ms, grok ${run.grokMillis.map((m) => m.toFixed(2)).join(", ")} ms a call`
    )
  }
  const stalls: Array<StallWithFloor> = []
  for (let i = 0; i < args.repeat; i++) stalls.push(stallInChild())
  console.error(`  stall: ${stalls.map((s) => JSON.stringify(s)).join(" ")}`)
  const spread = cpu.map((run) => Math.abs(run.rawMillis[0]! - run.rawMillis[1]!) / Math.min(...run.rawMillis))
  return { rows: [...cpuRows(cpu), ...stallRows(stalls)], anchorSpread: Math.max(...spread) }
}

const cliPart = async (args: Args): Promise<ReadonlyArray<TargetRow>> => {
  const { runCliResume, runCliScale } = await import("./cli-scale.js")
  const resume = [await runCliResume()]
  console.error(`  cli resume: ${JSON.stringify(resume[0])}`)
  const scale = []
  for (const calls of args.cliSizes) {
    for (const rpm of [6000, 5700]) {
      for (let i = 0; i < args.repeat; i++) {
        const run = await runCliScale(calls, rpm)
        console.error(`  cli ${calls} @ --rpm ${rpm}: ${JSON.stringify(run)}`)
        scale.push(run)
      }
    }
  }
  return cliRows(scale, resume)
}

const main = async () => {
  const args = parseArgs(process.argv.slice(2))
  const began = performance.now()
  const loadBefore = Os.loadavg()[0]!
  console.log(
    `# grok-resilience benchmark\n\nNode ${process.version}, ${process.platform}/${process.arch}, ${Os.cpus().length} cores, ` +
      `groups ${[...args.groups].join(", ")}; fake Grok server on 127.0.0.1; grok-resilience runs ${args.repeat}× ` +
      "per measure, the other pacing contenders once.\n"
  )
  const pacing = args.groups.has("pacing") ? await pacingPart(args) : pacingRows(undefined, undefined, 1, undefined)
  const perf = args.groups.has("perf")
    ? await perfPart(args)
    : { rows: [...cpuRows(undefined), ...stallRows(undefined)], anchorSpread: undefined }
  const cli = args.groups.has("cli") ? await cliPart(args) : cliRows(undefined, undefined)
  const loadAfter = Os.loadavg()[0]!
  const noise =
    `Machine noise: 1-minute load average ${loadBefore.toFixed(1)} at the start and ${loadAfter.toFixed(1)} at the end ` +
    `on ${Os.cpus().length} cores` +
    (perf.anchorSpread !== undefined
      ? `; the anchor (raw HttpClient) differed by up to ${(perf.anchorSpread * 100).toFixed(0)}% between its two runs.`
      : ".")
  if (args.groups.has("stream")) await runStreamBench()
  console.log("\n" + targetsTable([...perf.rows, ...pacing, ...cli], noise))
  if (args.groups.has("outage")) await (await import("./outage.js")).runOutageBench()
  if (args.groups.has("redis")) await redisPart()
  if (args.groups.has("queue")) await (await import("./queue.js")).runQueueBench()
  console.log(`\nTotal bench time: ${((performance.now() - began) / 1000).toFixed(1)} s`)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
