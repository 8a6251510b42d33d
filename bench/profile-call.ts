/**
 * Profiling aid (not a row of `npm run bench`): one side of `bench/cpu.ts` in one mode against the fake server in
 * another process, to run under `node --cpu-prof`. Run: `npx tsx bench/profile-call.ts [raw|grok|limited]
 * [concurrency] [calls]`.
 */
import { startRemoteServer } from "./support/child.js"
import { sidesFor } from "./cpu.js"
import { builtLibrary } from "./support/builtLibrary.js"
const [side = "grok", conc = "1", calls = "3000"] = process.argv.slice(2)
const server = await startRemoteServer({})
const sides = sidesFor(await builtLibrary(), server, side === "limited")
const run = side === "raw" ? sides.raw : sides.grok
await run(2000, Number(conc))
const millis = await run(Number(calls), Number(conc))
console.log(side, conc, (millis / Number(calls)).toFixed(3), "ms/call")
await sides.dispose()
await server.close()
