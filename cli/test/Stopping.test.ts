import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Path from "node:path"
import { FakeGrok } from "grok-resilience/testing"
import {
  cliCommand,
  disposeCli,
  idCounts,
  jsonSummary,
  prompts,
  readResults,
  runCli,
  startCli,
  tempDir,
  tsxLoaderCommand,
  waitForLines,
  waitUntil,
  writeInput,
  fakeServers
} from "./support.js"

let dir: string
const { closeAll: closeServers, serve } = fakeServers()
let n = 0

beforeAll(async () => {
  dir = tempDir()
  await cliCommand()
})

afterAll(async () => {
  await closeServers()
  Fs.rmSync(dir, { recursive: true, force: true })
  disposeCli()
})

const chatPrompts = (server: FakeGrok.Service) =>
  Effect.runSync(server.arrivals)
    .filter((arrival) => arrival.path === "/v1/chat/completions")
    .map((arrival) => arrival.prompt?.replace("prompt ", "") ?? "")

/** A batch of `count` prompts against `server`, with its own files. */
const batch = (server: FakeGrok.Service, count: number, ...extra: ReadonlyArray<string>) => {
  const name = `run-${n++}`
  const input = writeInput(Path.join(dir, `${name}.jsonl`), prompts(count))
  const output = Path.join(dir, `${name}-out.jsonl`)
  const args = ["batch", input, "--output", output, "--base-url", server.url, "--api-key", server.apiKey]
  return { output, args: [...args, "--rpm", "60000", "--concurrency", "4", "--json-summary", ...extra] }
}

describe("stopping a batch", () => {
  it("journals the answers already on their way when Ctrl-C comes, and the resume sends no id twice", async () => {
    const server = await serve({ latencyMillis: 1500 })
    const { output, args } = batch(server, 16, "--grace", "5s")
    const run = await startCli(args)
    await waitForLines(output, 4, 15_000)
    run.child.kill("SIGINT")
    const result = await run.done
    expect(result.code).toBe(130)
    expect(result.stderr).toMatch(/Stopping: \d calls on their way get up to 5\.0s to finish/)
    const sentBeforeResume = chatPrompts(server)
    const results = readResults(output)
    // Every request that reached the server has its answer in the results file.
    expect(results.map((r) => r.id).sort()).toEqual([...sentBeforeResume].sort())
    expect(results.length).toBeGreaterThan(4)
    expect(results.every((r) => r.ok)).toBe(true)
    const summary = jsonSummary(result.stdout)
    expect(summary).toMatchObject({ outcome: "interrupted", calls: results.length })
    // A call started but not yet on its way when the signal came is abandoned unsent (the resume sends it); on a
    // loaded machine the signal can find up to one wave of them.
    expect(summary.abandoned).toBeLessThanOrEqual(4)
    expect(Fs.existsSync(`${output}.lock`)).toBe(false)

    const resumed = await runCli(args)
    expect(resumed.code).toBe(0)
    expect(readResults(output)).toHaveLength(16)
    // Over both runs, each id was sent exactly once.
    expect([...chatPrompts(server)].sort()).toEqual(
      prompts(16)
        .map((p) => p.id)
        .sort()
    )
  })

  it("abandons the calls whose answers do not come within --grace and says so", async () => {
    const server = await serve({ latencyMillis: 8000 })
    const { output, args } = batch(server, 8, "--grace", "300ms")
    const run = await startCli(args)
    await waitUntil("4 requests at the server", () => chatPrompts(server).length >= 4, 15_000)
    run.child.kill("SIGINT")
    const result = await run.done
    expect(result.code).toBe(130)
    expect(readResults(output)).toEqual([])
    expect(jsonSummary(result.stdout)).toMatchObject({ outcome: "interrupted", abandoned: 4, calls: 0 })
    expect(result.stderr).toContain("4 calls on their way got no answer within the 0.3s; they are sent again on resume")
    expect(Fs.existsSync(`${output}.lock`)).toBe(false)
  })

  it("exits at once on a second Ctrl-C, releasing the lock", async () => {
    const server = await serve({ latencyMillis: 8000 })
    const { output, args } = batch(server, 8, "--grace", "60s")
    const run = await startCli(args)
    let stderr = ""
    run.child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
    await waitUntil("4 requests at the server", () => chatPrompts(server).length >= 4, 15_000)
    run.child.kill("SIGINT")
    await waitUntil("the stopping notice", () => stderr.includes("Stopping:"))
    run.child.kill("SIGINT")
    const result = await run.done
    expect(result.code).toBe(130)
    expect(result.stderr).toContain("SIGINT again: exiting at once")
    expect(readResults(output)).toEqual([])
    expect(Fs.existsSync(`${output}.lock`)).toBe(false)
  })

  for (const [name, command] of [
    ["the node process", undefined],
    ["node running the sources with the tsx loader", tsxLoaderCommand]
  ] as const) {
    it(`stops on SIGTERM to ${name} like on Ctrl-C: summary, lock released, exit code 143`, async () => {
      const server = await serve({ latencyMillis: 200 })
      const { output, args } = batch(server, 200)
      const run = await startCli(args, command === undefined ? {} : { command, timeoutMillis: 40_000 })
      await waitForLines(output, 5, 30_000)
      run.child.kill("SIGTERM")
      const result = await run.done
      expect(result.code).toBe(143)
      expect(result.stderr).toContain("run the same command again to resume")
      const results = readResults(output)
      expect(jsonSummary(result.stdout)).toMatchObject({ outcome: "interrupted", calls: results.length })
      expect(results.map((r) => r.id).sort()).toEqual([...chatPrompts(server)].sort())
      expect(Fs.existsSync(`${output}.lock`)).toBe(false)
    }, 60_000)
  }
})

describe("a server that only ever answers 429", () => {
  let refusing: Http.Server
  let url = ""
  let received = 0

  beforeAll(async () => {
    refusing = Http.createServer((req, res) => {
      req.resume()
      req.on("end", () => {
        received++
        res.writeHead(429, { "content-type": "application/json", "retry-after": "20" })
        res.end(JSON.stringify({ code: "Too many requests", error: "Too many requests: try again later" }))
      })
    })
    await new Promise<void>((ready) => refusing.listen(0, "127.0.0.1", ready))
    url = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}/v1`
  })

  afterAll(async () => {
    refusing.closeAllConnections()
    await new Promise((done) => refusing.close(done))
  })

  it("ends after --give-up-after with a RateLimited line for every one of 500 ids and the reason", async () => {
    const input = writeInput(Path.join(dir, "refused.jsonl"), prompts(500))
    const output = Path.join(dir, "refused-out.jsonl")
    const result = await runCli(
      ["batch", input, "--output", output, "--base-url", url, "--api-key", "xai-test", "--give-up-after", "2s"],
      { timeoutMillis: 60_000 }
    )
    expect(result.code).toBe(1)
    const results = readResults(output)
    expect(results).toHaveLength(500)
    expect([...idCounts(results).values()].every((k) => k === 1)).toBe(true)
    expect(results.every((r) => !r.ok && r.error?._tag === "RateLimited")).toBe(true)
    const notSent = results.filter((r) => r.error?.reason === "NotSent")
    expect(notSent.length).toBeGreaterThanOrEqual(500 - 8)
    expect(notSent.every((r) => r.attempts === 0)).toBe(true)
    expect(notSent[0]?.error?.message).toMatch(/^Not sent: the server answered 429 to every call for \d/)
    expect(results.filter((r) => r.error?.reason === "GaveUp").every((r) => r.attempts >= 1)).toBe(true)
    expect(result.stderr).toContain("stopped: the server answered 429 to every call")
    expect(received).toBeLessThanOrEqual(16)
  }, 60_000)
})
