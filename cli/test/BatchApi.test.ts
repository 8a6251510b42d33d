import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
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
  writeInput,
  fakeServers
} from "./support.js"

let dir: string
const { closeAll: closeServers, serve } = fakeServers()

const arrivals = (server: FakeGrok.Service) => Effect.runSync(server.arrivals)
const against = (server: FakeGrok.Service) => ["--base-url", server.url, "--api-key", server.apiKey]
const files = (name: string) => ({
  input: Path.join(dir, `${name}.jsonl`),
  output: Path.join(dir, `${name}-out.jsonl`)
})

const creations = (server: FakeGrok.Service) =>
  arrivals(server).filter((a) => a.method === "POST" && a.path === "/v1/batches")
const adds = (server: FakeGrok.Service) =>
  arrivals(server).filter((a) => a.method === "POST" && a.path.endsWith("/requests"))
const chatCalls = (server: FakeGrok.Service) => arrivals(server).filter((a) => a.path === "/v1/chat/completions")

/** The server's own view of a batch (a direct call, not through the CLI). */
const serverBatch = async (server: FakeGrok.Service, batchId: string) => {
  const response = await fetch(`${server.url}/batches/${batchId}`, {
    headers: { authorization: `Bearer ${server.apiKey}` }
  })
  return (await response.json()) as { state: Record<string, number>; cancel_time: string | null }
}

const journalOf = (output: string) =>
  Fs.existsSync(`${output}.batch`)
    ? Fs.readFileSync(`${output}.batch`, "utf8")
        .split("\n")
        .filter((line) => line.endsWith("}"))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
    : []
const batchIdOf = (output: string) => journalOf(output).find((e) => typeof e.batch_id === "string")?.batch_id as string

/** Polls (real time, harness only) until `check` holds. */
const until = async (check: () => boolean, timeoutMillis = 15_000) => {
  const end = Date.now() + timeoutMillis
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not reached in time")
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const everyIdOnce = (output: string, n: number) => {
  const results = readResults(output)
  expect(results).toHaveLength(n)
  expect([...idCounts(results).values()].every((count) => count === 1)).toBe(true)
  return results
}

beforeAll(async () => {
  dir = tempDir()
  await cliCommand()
}, 60_000)

afterAll(async () => {
  await closeServers()
  disposeCli()
  Fs.rmSync(dir, { recursive: true, force: true })
})

describe("grok-resilience batch --via batch-api", () => {
  it("runs 500 prompts through one batch: 500 added once, 500 ok, no synchronous chat call", async () => {
    const server = await serve({ batches: { processMillis: 500, spreadMillis: 1000 } })
    const { input, output } = files("five-hundred")
    writeInput(input, prompts(500))
    const result = await runCli([
      "batch",
      input,
      "--output",
      output,
      ...against(server),
      "--via",
      "batch-api",
      "--json-summary"
    ])
    expect(result.code).toBe(0)
    const results = everyIdOnce(output, 500)
    expect(results.every((r) => r.ok && r.content === `echo: prompt ${r.id}`)).toBe(true)
    expect(creations(server)).toHaveLength(1)
    expect(adds(server).map((a) => a.status)).toEqual([200])
    expect((await serverBatch(server, batchIdOf(output))).state).toMatchObject({ num_requests: 500, num_success: 500 })
    expect(chatCalls(server)).toEqual([])
    expect(jsonSummary(result.stdout)).toMatchObject({ total: 500, ok: 500 })
    expect(result.stderr).toMatch(/500\/500 \(100%\)/)
  })

  it("resumes after SIGKILL while adding, and again while polling: one batch, each request added once", async () => {
    const server = await serve({ latencyMillis: 40, batches: { processMillis: 2500, spreadMillis: 500 } })
    const { input, output } = files("killed-twice")
    writeInput(input, prompts(500))
    const args = ["batch", input, "--output", output, ...against(server), "--via", "batch-api", "--chunk-size", "10"]

    const first = await startCli(args)
    await until(() => journalOf(output).filter((e) => "added" in e).length >= 5)
    first.child.kill("SIGKILL")
    expect((await first.done).signal).toBe("SIGKILL")
    const addedBeforeKill = adds(server).length
    expect(addedBeforeKill).toBeLessThan(50)

    const second = await startCli(args)
    const batchId = batchIdOf(output)
    const looks = () => arrivals(server).filter((a) => a.method === "GET" && a.path === `/v1/batches/${batchId}`)
    await until(() => looks().length >= 2)
    second.child.kill("SIGKILL")
    expect((await second.done).signal).toBe("SIGKILL")

    const third = await runCli(args)
    expect(third.code).toBe(0)
    expect((await second.done).stderr).toContain(`Resuming batch ${batchId}`)
    expect(third.stderr).toContain(`Resuming batch ${batchId}`)
    everyIdOnce(output, 500)
    expect(creations(server)).toHaveLength(1)
    expect(adds(server).every((a) => a.status === 200)).toBe(true)
    expect((await serverBatch(server, batchId)).state.num_requests).toBe(500)
    expect(chatCalls(server)).toEqual([])
  }, 60_000)

  it("finds the batch of a run killed before it wrote the batch id down", async () => {
    const server = await serve({ batches: { processMillis: 100, spreadMillis: 100 } })
    const { input, output } = files("adopted")
    writeInput(input, prompts(20))
    const name = "grok-resilience adopted-out.jsonl 0123456789ab"
    await fetch(`${server.url}/batches`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name })
    })
    Fs.writeFileSync(`${output}.batch`, `${JSON.stringify({ creating: name })}\n`)
    const result = await runCli(["batch", input, "--output", output, ...against(server), "--via", "batch-api"])
    expect(result.code).toBe(0)
    expect(result.stderr).toContain("created by an interrupted run")
    everyIdOnce(output, 20)
    expect(creations(server)).toHaveLength(1)
  })

  it("adds only what the batch lacks when the journal says a chunk's fate is unknown", async () => {
    const server = await serve({ batches: { processMillis: 100, spreadMillis: 100 } })
    const { input, output } = files("unsure")
    writeInput(input, prompts(20))
    const post = (path: string, body: unknown) =>
      fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify(body)
      }).then((response) => response.json() as Promise<Record<string, any>>)
    const { batch_id } = await post("/batches", { name: "unsure" })
    const landed = prompts(10).map((p) => ({
      batch_request_id: p.id,
      batch_request: { chat_get_completion: { model: "grok-4", messages: [{ role: "user", content: p.prompt }] } }
    }))
    await post(`/batches/${batch_id}/requests`, { batch_requests: landed })
    const chunk = prompts(20).map((p) => p.id)
    Fs.writeFileSync(
      `${output}.batch`,
      [{ batch_id, name: "unsure" }, { adding: chunk }].map((e) => JSON.stringify(e)).join("\n") + "\n"
    )
    const result = await runCli(["batch", input, "--output", output, ...against(server), "--via", "batch-api"])
    expect(result.code).toBe(0)
    expect(result.stderr).toContain("it holds 10 requests")
    everyIdOnce(output, 20)
    expect(adds(server).map((a) => a.status)).toEqual([200, 200])
    expect((await serverBatch(server, batch_id)).state.num_requests).toBe(20)
  })

  it("leaves the batch running on Ctrl-C and says how to resume; --cancel then cancels it", async () => {
    const server = await serve({ batches: { processMillis: 600_000 } })
    const { input, output } = files("cancelled")
    writeInput(input, prompts(20))
    const args = ["batch", input, "--output", output, ...against(server), "--via", "batch-api"]
    const first = await startCli(args)
    await until(() => arrivals(server).some((a) => a.method === "GET" && a.path.startsWith("/v1/batches/batch_")))
    first.child.kill("SIGINT")
    const interrupted = await first.done
    expect(interrupted.code).toBe(130)
    expect(interrupted.stderr).toContain("keeps running on xAI")
    expect(interrupted.stderr).toContain("--cancel")
    const batchId = batchIdOf(output)
    expect((await serverBatch(server, batchId)).cancel_time).toBeNull()

    const cancel = await runCli([...args, "--cancel"])
    expect(cancel.code).toBe(1)
    const results = everyIdOnce(output, 20)
    expect(results.every((r) => r.error?._tag === "Rejected" && r.error.reason === "BatchCancelled")).toBe(true)
    expect((await serverBatch(server, batchId)).state).toMatchObject({ num_cancelled: 20, num_pending: 0 })
    expect(creations(server)).toHaveLength(1)
  }, 30_000)

  it("writes failed items as error lines with their typed tag, and the key nowhere", async () => {
    const apiKey = "xai-batch-secret-0123456789"
    const server = await serve({ apiKey, seed: 5, batches: { processMillis: 100, spreadMillis: 400, errorRate: 0.2 } })
    const { input, output } = files("failing")
    writeInput(input, [...prompts(100), { id: "bad" }])
    const result = await runCli(["batch", input, "--output", output, ...against(server), "--via", "batch-api"])
    expect(result.code).toBe(1)
    const results = everyIdOnce(output, 101)
    const failed = results.filter((r) => !r.ok && r.id !== "bad")
    expect(failed.length).toBeGreaterThan(5)
    expect(failed.every((r) => r.error?._tag === "Transient" && /internal error/i.test(r.error.message))).toBe(true)
    expect(results.find((r) => r.id === "bad")?.error?.reason).toBe("InvalidInput")
    for (const text of [Fs.readFileSync(output, "utf8"), Fs.readFileSync(`${output}.batch`, "utf8"), result.stderr]) {
      expect(text).not.toContain(apiKey)
    }
  })

  it("refuses --retry-failed with --via batch-api and --cancel without a batch", async () => {
    const server = await serve()
    const { input, output } = files("refused")
    writeInput(input, prompts(2))
    const base = ["batch", input, "--output", output, ...against(server), "--via", "batch-api"]
    const retry = await runCli([...base, "--retry-failed"])
    expect(retry.code).toBe(2)
    expect(retry.stderr).toContain("--via sync")
    const cancel = await runCli([...base, "--cancel"])
    expect(cancel.code).toBe(2)
    expect(cancel.stderr).toContain("no batch to cancel")
    expect(arrivals(server)).toEqual([])
  })
})
