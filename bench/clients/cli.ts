/**
 * The grok-resilience CLI as a contender: `grok-resilience batch` run as a child process (through tsx, from the
 * sources) on one input line per call, its counts read from `--json-summary`.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { Outcome, Plan, Target } from "./contender.js"

const writeInput = (path: string, plan: Plan) =>
  Fs.writeFileSync(
    path,
    Array.from({ length: plan.calls }, (_, index) => {
      const { model, messages } = plan.request(index)
      return `${JSON.stringify({ id: `call-${index}`, model, messages })}\n`
    }).join("")
  )

/** Runs one batch against `target` with `args` added and resolves to its counts. */
export const runCliBatch = async (
  target: Target,
  plan: Plan,
  options: { readonly dir: string; readonly args: ReadonlyArray<string> }
): Promise<Outcome> => {
  const input = Path.join(options.dir, `in-${Date.now()}.jsonl`)
  const output = Path.join(options.dir, `out-${Date.now()}.jsonl`)
  writeInput(input, plan)
  const child = spawn(
    process.execPath,
    [
      ...["--import", "tsx", "cli/src/bin.ts", "batch", input, "--output", output, "--base-url", target.url],
      ...["--concurrency", String(plan.concurrency), "--json-summary", "--quiet", ...options.args]
    ],
    { env: { ...process.env, XAI_API_KEY: target.apiKey, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "inherit"] }
  )
  let stdout = ""
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
  await new Promise((resolve) => child.on("close", resolve))
  const summary = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as {
    readonly ok?: number
    readonly failed?: Readonly<Record<string, number>>
  }
  const ok = summary.ok ?? 0
  return { ok, failed: plan.calls - ok, failures: summary.failed ?? {} }
}
