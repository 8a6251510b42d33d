/**
 * The containment part of `npm run bench` (also runnable alone: `npx tsx bench/outage.ts`): the outage figures of
 * issue 12 over real HTTP against the fake Grok server in this process.
 *
 * 1. A 5 s outage (503) then recovery, 100 calls at concurrency 20: grok-resilience's default layer (its own breaker
 *    and retry budget, no rate limiter), the CLI with `--rpm 6000`, the openai SDK and the fetch loop. The outage
 *    starts at each contender's first request (the CLI process takes a moment to start), so all see the same 5 s.
 * 2. A 30 s outage with an 8 s deadline per call: grok-resilience only (the others have no per-call deadline).
 * 3. grok-4 down for the whole run, `fallbackModels: ["grok-4-fast"]`: the library, the CLI with
 *    `--fallback-model grok-4-fast`, and the openai SDK (which has no fallback).
 * 4. The old key refused, `refreshApiKey` yields the new one (and a refresh that yields another refused key).
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import * as GrokClient from "../src/GrokClient.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"
import { runCliBatch } from "./clients/cli.js"
import type { Outcome, Plan } from "./clients/contender.js"
import { fetchLoop } from "./clients/fetch-loop.js"
import { openai } from "./clients/openai.js"

type ContenderId = "grok" | "cli" | "openai" | "fetch"

interface Case {
  readonly id: string
  readonly title: string
  readonly calls: number
  readonly concurrency: number
  /** Down for this long from the first request; undefined: `server` alone says what is down. */
  readonly outageMillis?: number
  readonly server?: FakeGrok.Scenario
  readonly grok?: Partial<GrokClient.Options>
  readonly cliArgs?: ReadonlyArray<string>
  readonly contenders: ReadonlyArray<ContenderId>
  readonly target: string
}

interface Run {
  readonly contender: ContenderId
  readonly outcome: Outcome
  readonly requests: number
  /** Requests answered with the outage (to the model that is down). */
  readonly refused: number
  /** Seconds from the service's recovery to the first request it answered: how long the callers were held. */
  readonly releaseAfterRecovery: number | undefined
  /** Seconds from the service's recovery to the last request, when it recovered during the run. */
  readonly lastAfterRecovery: number | undefined
  readonly wallSeconds: number
}

const request = (index: number) => ({
  model: "grok-4",
  messages: [{ role: "user" as const, content: `bench call ${index}` }]
})

const plan = (run: Case): Plan => ({ calls: run.calls, concurrency: run.concurrency, request })

/** Calls through GrokClient's default layer: FetchHttpClient, no rate limiter, the client's own containment. */
const grokRun = (target: { url: string; apiKey: string }, run: Case): Promise<Outcome> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const grok = yield* GrokClient.make({ apiKey: Redacted.make(target.apiKey), baseUrl: target.url, ...run.grok })
      const results = yield* Effect.forEach(
        Array.from({ length: run.calls }, (_, index) => index),
        (index) => Effect.either(grok.chat(request(index))),
        { concurrency: run.concurrency }
      )
      const failures: Record<string, number> = {}
      for (const result of results) {
        if (Either.isRight(result)) continue
        const kind = "reason" in result.left ? `${result.left._tag}(${result.left.reason})` : result.left._tag
        failures[kind] = (failures[kind] ?? 0) + 1
      }
      const ok = results.filter(Either.isRight).length
      return { ok, failed: run.calls - ok, failures }
    }).pipe(
      Effect.scoped,
      Effect.provide(FetchHttpClient.layer),
      Logger.withMinimumLogLevel(LogLevel.None),
      Effect.orDie
    )
  )

/**
 * Keeps the server down (503) from its first request for `millis`: polls the arrivals, and at the first one sets
 * an outage for the rest of the window. Resolves to the server time of recovery.
 */
const outageFromFirstArrival = (server: FakeGrok.Started, millis: number): Promise<number> =>
  new Promise((resolve) => {
    const startedAt = performance.now()
    const poll = setInterval(() => {
      const first = Effect.runSync(server.arrivals)[0]
      if (first === undefined) return
      clearInterval(poll)
      const elapsed = performance.now() - startedAt - first.atMillis
      Effect.runSync(server.setScenario({ outages: [{ fromMillis: 0, toMillis: Math.max(0, millis - elapsed) }] }))
      resolve(first.atMillis + millis)
    }, 2)
  })

const contend = (id: ContenderId, target: FakeGrok.Started, run: Case, dir: string): Promise<Outcome> => {
  switch (id) {
    case "grok":
      return grokRun(target, run)
    case "cli":
      return runCliBatch(target, plan(run), { dir, args: run.cliArgs ?? [] })
    case "openai":
      return openai.run(target, plan(run), undefined)
    case "fetch":
      return fetchLoop.run(target, plan(run), undefined)
  }
}

const measure = async (run: Case, contender: ContenderId, dir: string): Promise<Run> => {
  const down = run.outageMillis !== undefined ? { outages: [{ fromMillis: 0, toMillis: 86_400_000 }] } : {}
  const server = await FakeGrok.start({ ...down, ...run.server })
  try {
    const recovery = run.outageMillis !== undefined ? outageFromFirstArrival(server, run.outageMillis) : undefined
    const started = performance.now()
    const outcome = await contend(contender, server, run, dir)
    const wallSeconds = (performance.now() - started) / 1000
    const arrivals = Effect.runSync(server.arrivals).filter((a) => a.path === "/v1/chat/completions")
    const recoveredAt = recovery === undefined ? undefined : await recovery
    const last = Math.max(...arrivals.map((a) => a.atMillis))
    const firstOk = arrivals.find((a) => a.status === 200)?.atMillis
    const after = (at: number | undefined) =>
      recoveredAt !== undefined && at !== undefined && at >= recoveredAt ? (at - recoveredAt) / 1000 : undefined
    return {
      contender,
      outcome,
      requests: arrivals.length,
      refused: arrivals.filter((a) => a.kind === "outage").length,
      releaseAfterRecovery: after(firstOk),
      lastAfterRecovery: after(last),
      wallSeconds
    }
  } finally {
    await server.close()
  }
}

const labels: Record<ContenderId, string> = {
  grok: "grok-resilience, default layer",
  cli: "grok-resilience CLI, --rpm 6000",
  openai: "openai SDK (defaults)",
  fetch: "fetch loop (1 s·2^n + jitter, 5 attempts)"
}

const seconds = (value: number | undefined) => (value === undefined ? "–" : `${value.toFixed(2)} s`)

const failuresText = (outcome: Outcome) =>
  Object.entries(outcome.failures)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(", ")

const table = (run: Case, runs: ReadonlyArray<Run>): string =>
  [
    `### ${run.title}`,
    "",
    `${run.calls} calls at concurrency ${run.concurrency}. Target for grok-resilience: ${run.target}.`,
    "",
    "| contender | ok / failed | requests | requests / call | refused by the outage | first answer after recovery | last request after recovery | wall (s) | failures |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ...runs.map(
      (r) =>
        `| ${labels[r.contender]} | ${r.outcome.ok} / ${r.outcome.failed} | ${r.requests} | ` +
        `${(r.requests / run.calls).toFixed(2)} | ${r.refused} | ${seconds(r.releaseAfterRecovery)} | ` +
        `${seconds(r.lastAfterRecovery)} | ` +
        `${r.wallSeconds.toFixed(2)} | ${failuresText(r.outcome)} |`
    )
  ].join("\n")

const cases: ReadonlyArray<Case> = [
  {
    id: "outage-5s",
    title: "Outage: 503 for 5 s, then recovery",
    calls: 100,
    concurrency: 20,
    outageMillis: 5_000,
    cliArgs: ["--rpm", "6000"],
    contenders: ["grok", "cli", "openai", "fetch"],
    target: "100 ok, at most 1.2 requests per call, the last request at most 1.5 s after recovery"
  },
  {
    id: "outage-30s",
    title: "Outage: 503 for 30 s, deadline 8 s per call",
    calls: 100,
    concurrency: 20,
    outageMillis: 30_000,
    grok: { deadline: "8 seconds" },
    contenders: ["grok"],
    target: "every call fails typed by its deadline, at most 1.3 requests per call"
  },
  {
    id: "model-down",
    title: 'grok-4 down for the whole run, fallbackModels ["grok-4-fast"]',
    calls: 100,
    concurrency: 20,
    server: { outages: [{ fromMillis: 0, toMillis: 86_400_000, models: ["grok-4"] }] },
    grok: { fallbackModels: ["grok-4-fast"] },
    cliArgs: ["--rpm", "6000", "--fallback-model", "grok-4-fast"],
    contenders: ["grok", "cli", "openai"],
    target: "100/100 ok, at most 25 requests to grok-4 (the column refused by the outage)"
  }
]

/** The refresh figures: 50 calls at concurrency 20 with the old key refused. */
const refreshRuns = async (): Promise<string> => {
  const rows: Array<string> = []
  for (const [label, next] of [
    ["refresh yields the accepted key", "xai-bench-new-key-000000000000"],
    ["refresh yields another refused key", "xai-bench-also-refused-0000000"]
  ] as const) {
    const server = await FakeGrok.start({ apiKey: "xai-bench-new-key-000000000000" })
    let refreshes = 0
    const refreshApiKey = Effect.sync(() => {
      refreshes++
      return Redacted.make(next)
    })
    const run: Case = { ...cases[0]!, calls: 50, grok: { refreshApiKey } }
    const outcome = await grokRun({ url: server.url, apiKey: "xai-bench-old-key-000000000000" }, run)
    const requests = Effect.runSync(server.arrivals).length
    await server.close()
    rows.push(
      `| ${label} | ${outcome.ok} / ${outcome.failed} | ${refreshes} | ${requests} | ${failuresText(outcome)} |`
    )
  }
  return [
    "### Key refresh: the old key refused, 50 calls at concurrency 20",
    "",
    "Target: 50/50 ok with one refresh; with another refused key, every call AuthError and a bounded number of requests.",
    "",
    "| case | ok / failed | refreshes | requests | failures |",
    "|---|---:|---:|---:|---|",
    ...rows
  ].join("\n")
}

export const runOutageBench = async (): Promise<void> => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "grok-outage-bench-"))
  try {
    console.log("## Containment: outages, a model down, a refused key\n")
    for (const run of cases) {
      const runs: Array<Run> = []
      for (const contender of run.contenders) {
        const measured = await measure(run, contender, dir)
        console.error(
          `  ${run.id} · ${contender}: ${measured.outcome.ok}/${run.calls} ok, ${measured.requests} requests`
        )
        runs.push(measured)
      }
      console.log(table(run, runs) + "\n")
    }
    console.log((await refreshRuns()) + "\n")
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runOutageBench().catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
