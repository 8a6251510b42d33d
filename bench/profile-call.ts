/**
 * Profiling aid (not a row of `npm run bench`): one side of `bench/cpu.ts` in one mode against the fake server in
 * another process, to run under `node --cpu-prof`. Run: `npx tsx bench/profile-call.ts [raw|grok|limited]
 * [concurrency] [calls]`.
 */
import * as Effect from "effect/Effect"
import { startRemoteServer } from "./support/child.js"
import { grokCallsFor, rawCallsFor } from "./cpu.js"
const [side = "grok", conc = "1", calls = "3000"] = process.argv.slice(2)
const server = await startRemoteServer({})
const program = (n: number) =>
  side === "raw" ? rawCallsFor(server, n, Number(conc)) : grokCallsFor(server, n, Number(conc), side === "limited")
await Effect.runPromise(program(2000))
const before = process.cpuUsage()
await Effect.runPromise(program(Number(calls)))
const used = process.cpuUsage(before)
console.log(side, conc, ((used.user + used.system) / 1000 / Number(calls)).toFixed(3), "ms/call")
await server.close()
