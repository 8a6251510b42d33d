/**
 * Child processes of the benchmark: the fake server in a process of its own, and a measured command whose CPU
 * time and peak RSS the usage probe writes at exit.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { createInterface } from "node:readline"

export interface RemoteServer {
  readonly url: string
  readonly apiKey: string
  readonly close: () => Promise<void>
}

/** Starts `bench/support/fake-server.ts` with `scenario` and waits for its address. */
export const startRemoteServer = async (scenario: object): Promise<RemoteServer> => {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/support/fake-server.ts", JSON.stringify(scenario)], {
    stdio: ["pipe", "pipe", "inherit"]
  })
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve)
    child.once("exit", (code) => reject(new Error(`fake server exited with ${code}`)))
  })
  const { url, apiKey } = JSON.parse(first) as { url: string; apiKey: string }
  const closed = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  return {
    url,
    apiKey,
    close: () => {
      child.stdin!.end()
      return closed
    }
  }
}

export interface Usage {
  readonly code: number | null
  readonly cpuMillis: number
  readonly peakRssMiB: number
  readonly wallSeconds: number
}

/**
 * Runs `node --import <probe> ...args` (with the TypeScript loader first unless `compiled`) and reads its CPU time
 * and peak RSS.
 */
export const runMeasured = async (
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
  options: { readonly compiled?: boolean } = {}
): Promise<Usage> => {
  const usageFile = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "grok-bench-usage-")), "usage.json")
  const started = performance.now()
  const loader = options.compiled === true ? [] : ["--import", "tsx"]
  const child = spawn(process.execPath, [...loader, "--import", "./bench/support/usage-probe.mjs", ...args], {
    env: { ...process.env, ...env, BENCH_USAGE_FILE: usageFile },
    stdio: ["ignore", "ignore", "inherit"]
  })
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve))
  const wallSeconds = (performance.now() - started) / 1000
  const usage = JSON.parse(Fs.readFileSync(usageFile, "utf8")) as { cpuMillis: number; maxRssKiB: number }
  Fs.rmSync(Path.dirname(usageFile), { recursive: true, force: true })
  return { code, cpuMillis: usage.cpuMillis, peakRssMiB: usage.maxRssKiB / 1024, wallSeconds }
}
