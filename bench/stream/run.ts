/**
 * The stream part of `npm run bench` (alone: `npm run bench -- stream`): every row on a fresh socket fake with the
 * scenario's script, after one unmeasured round per client on a fault-free fake; prints the table on stdout and a
 * line per row on stderr.
 */
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import { FakeGrok } from "../../src/testing/index.js"
import * as Grok from "./grok.js"
import * as OpenAi from "./openai.js"
import { type CallRecord, count } from "./outcome.js"
import { type RowResult, table, type Target } from "./report.js"
import * as Scenario from "./scenario.js"

type Server = { readonly url: string; readonly apiKey: string }

interface Row {
  readonly label: string
  readonly streamed: boolean
  readonly path: string
  readonly target: Target | undefined
  readonly run: (server: Server, calls: number) => Promise<ReadonlyArray<CallRecord>>
}

const rows: ReadonlyArray<Row> = [
  ...Grok.rows.map((row) => ({ ...row, run: (server: Server, calls: number) => Grok.runRow(row, server, calls) })),
  { label: OpenAi.label, streamed: true, path: "/v1/chat/completions", target: undefined, run: OpenAi.runRow }
]

const WARM_UP_CALLS = 20

/** The first calls of a cold process load and compile the HTTP stack; every client gets the same warm-up. */
const warmUp = async (): Promise<void> => {
  for (const row of rows) {
    const server = await FakeGrok.start({})
    try {
      await row.run(server, WARM_UP_CALLS)
    } finally {
      await server.close()
    }
  }
}

const measure = async (row: Row): Promise<RowResult> => {
  const server = await FakeGrok.start(Scenario.server)
  const stalls = monitorEventLoopDelay({ resolution: 10 })
  try {
    stalls.enable()
    const started = performance.now()
    const records = await row.run(server, Scenario.CALLS)
    const wallSeconds = (performance.now() - started) / 1000
    stalls.disable()
    const arrivals = (await Effect.runPromise(server.arrivals)).filter((a) => a.path === row.path).length
    return {
      label: row.label,
      streamed: row.streamed,
      target: row.target,
      counts: count(records),
      calls: Scenario.CALLS,
      arrivals,
      wallSeconds,
      maxStallMillis: stalls.max / 1e6
    }
  } finally {
    stalls.disable()
    await server.close()
  }
}

const progress = (result: RowResult) => {
  const { counts } = result
  console.error(
    `  stream · ${result.label}: ${counts.whole} whole, ${counts.partial} partial, ${counts.failed} errors, ` +
      `${counts.defects} defects, ${counts.hung} hung, ${result.arrivals} arrivals, ${result.wallSeconds.toFixed(2)} s`
  )
}

/** Runs every row and prints the table. */
export const runStreamBench = async (): Promise<ReadonlyArray<RowResult>> => {
  console.error("5. Streams with faults")
  await warmUp()
  const results: Array<RowResult> = []
  for (const row of rows) {
    const result = await measure(row)
    progress(result)
    results.push(result)
  }
  console.log(table(results) + "\n")
  return results
}
