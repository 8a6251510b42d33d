/**
 * Checks that `grok-resilience batch` runs in bounded memory: it runs the CLI (a child process) on 10,000 and on
 * 100,000 input lines against a fake server in this process, samples the child's RSS from /proc (Linux), and
 * prints the peak of each. Only the sets of ids grow with the input; prompts and results are never buffered.
 *
 * Run: `npx tsx bench/cli-memory.ts [lines...]` (default 10000 100000). With `HEAP_MB=96` the child runs with
 * `--max-old-space-size=96`: finishing 100,000 lines under that cap shows that nothing per line is retained (peak
 * RSS alone also reflects how lazily V8 collects).
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as FakeGrok from "../src/testing/FakeGrok.js"

const rssOf = (pid: number): number => {
  try {
    const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const match = /VmRSS:\s+(\d+) kB/.exec(status)
    return match ? Number(match[1]) * 1024 : 0
  } catch {
    return 0
  }
}

const runOnce = async (lines: number, dir: string) => {
  const input = Path.join(dir, `in-${lines}.jsonl`)
  const output = Path.join(dir, `out-${lines}.jsonl`)
  const stream = Fs.createWriteStream(input)
  for (let i = 0; i < lines; i++) {
    stream.write(`${JSON.stringify({ id: `id-${i}`, prompt: `Prompt number ${i}: ${"lorem ipsum ".repeat(20)}` })}\n`)
  }
  await new Promise((resolve) => stream.end(resolve))
  const server = await FakeGrok.start({})
  const started = Date.now()
  const child = spawn(
    process.execPath,
    [
      ...(process.env.HEAP_MB ? [`--max-old-space-size=${process.env.HEAP_MB}`] : []),
      ...["--import", "tsx", "cli/src/bin.ts", "batch", input, "--output", output, "--base-url", server.url],
      ...["--rpm", "6000000", "--concurrency", "64", "--quiet"]
    ],
    {
      env: { ...process.env, XAI_API_KEY: server.apiKey, NO_COLOR: "1" },
      stdio: ["ignore", "ignore", "inherit"]
    }
  )
  let peak = 0
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(child.pid!))), 100)
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve))
  clearInterval(sampler)
  await server.close()
  const written = Fs.readFileSync(output, "utf8").split("\n").length - 1
  return { lines, code, written, peakMiB: Math.round(peak / 2 ** 20), seconds: (Date.now() - started) / 1000 }
}

const main = async () => {
  const sizes = process.argv.slice(2).map(Number)
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "grok-cli-memory-"))
  try {
    for (const lines of sizes.length > 0 ? sizes : [10_000, 100_000]) {
      const result = await runOnce(lines, dir)
      console.log(JSON.stringify(result))
    }
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

void main()
