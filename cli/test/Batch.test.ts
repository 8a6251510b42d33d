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
  waitForLines,
  writeInput,
  fakeServers
} from "./support.js"

let dir: string
const { closeAll: closeServers, serve } = fakeServers()

const arrivals = (server: FakeGrok.Service) => Effect.runSync(server.arrivals)
const chatArrivals = (server: FakeGrok.Service) =>
  arrivals(server).filter((arrival) => arrival.path === "/v1/chat/completions")

/** The arguments that point the CLI at a test server. */
const against = (server: FakeGrok.Service, apiKey = server.apiKey) => ["--base-url", server.url, "--api-key", apiKey]

const files = (name: string) => ({
  input: Path.join(dir, `${name}.jsonl`),
  output: Path.join(dir, `${name}-out.jsonl`)
})

beforeAll(async () => {
  dir = tempDir()
  await cliCommand()
})

afterAll(async () => {
  await closeServers()
  Fs.rmSync(dir, { recursive: true, force: true })
  disposeCli()
})

describe("grok-resilience batch", () => {
  it("lists every option with --help", async () => {
    const result = await runCli(["batch", "--help"])
    expect(result.code).toBe(0)
    for (const option of [
      "--output",
      "--base-url",
      "--api-key",
      "--fake",
      "--fake-scenario",
      "--model",
      "--fallback-model",
      "--concurrency",
      "--rpm",
      "--tpm",
      "--max-attempts",
      "--max-wait",
      "--timeout",
      "--grace",
      "--give-up-after",
      "--redis",
      "--limiter-key",
      "--json-summary",
      "--retry-failed",
      "--fresh"
    ]) {
      expect(result.stdout).toContain(option)
    }
  })

  it("writes exactly one line per id through injected faults and prints the counts with --json-summary", async () => {
    const server = await serve({ faultRate: 0.2, seed: 7 })
    const { input, output } = files("faults")
    writeInput(input, prompts(60))
    const result = await runCli([
      "batch",
      input,
      "--output",
      output,
      ...against(server),
      "--rpm",
      "60000",
      "--json-summary"
    ])
    expect(result.stderr).not.toContain(server.apiKey)
    const results = readResults(output)
    expect(results).toHaveLength(60)
    expect([...idCounts(results).values()].every((n) => n === 1)).toBe(true)
    expect(results.every((r) => r.ok && r.content === `echo: prompt ${r.id}`)).toBe(true)
    expect(result.code).toBe(0)

    const summary = jsonSummary(result.stdout)
    const sent = chatArrivals(server)
    expect(summary).toMatchObject({ outcome: "complete", total: 60, calls: 60, ok: 60, failed: {}, remaining: 0 })
    expect(summary.attempts).toBe(results.reduce((sum, r) => sum + r.attempts, 0))
    expect(summary.attempts).toBe(sent.length)
    expect(summary.attempts).toBeGreaterThan(60)
    expect(summary.tokens.total).toBeGreaterThan(0)
    expect(summary.costUsd).toBeGreaterThan(0)
    expect(typeof summary.wallMillis).toBe("number")
  })

  it("resumes after SIGKILL without sending a finished id again", async () => {
    const server = await serve({ latencyMillis: 150 })
    const { input, output } = files("killed")
    writeInput(input, prompts(80))
    const args = ["batch", input, "--output", output, ...against(server), "--rpm", "60000", "--concurrency", "4"]

    const first = await startCli(args)
    await waitForLines(output, 10)
    first.child.kill("SIGKILL")
    expect((await first.done).signal).toBe("SIGKILL")
    // Let requests the killed process had on the wire reach the server's log before it is read (harness, not timing).
    await new Promise((resolve) => setTimeout(resolve, 100))
    const finishedBeforeKill = new Set(readResults(output, { allowTornLast: true }).map((r) => r.id))
    const sentBeforeRerun = chatArrivals(server).length
    expect(finishedBeforeKill.size).toBeGreaterThanOrEqual(10)
    expect(finishedBeforeKill.size).toBeLessThan(80)

    await Effect.runPromise(server.setScenario({}))
    const second = await runCli([...args, "--json-summary"])
    expect(second.code).toBe(0)
    const results = readResults(output)
    expect(results).toHaveLength(80)
    expect([...idCounts(results).values()].every((n) => n === 1)).toBe(true)
    const resent = chatArrivals(server)
      .slice(sentBeforeRerun)
      .filter((arrival) => finishedBeforeKill.has(arrival.prompt?.replace("prompt ", "") ?? ""))
    expect(resent).toEqual([])
    expect(jsonSummary(second.stdout).skippedAlreadyDone).toBe(finishedBeforeKill.size)
  })

  it("cuts off a torn last line and sends that id again", async () => {
    const server = await serve()
    const { input, output } = files("torn")
    writeInput(input, prompts(3))
    Fs.writeFileSync(
      output,
      '{"id":"p0","ok":true,"content":"earlier","usage":null,"attempts":1,"requestId":null}\n{"id":"p1","ok":tr'
    )
    const result = await runCli(["batch", input, "--output", output, ...against(server), "--rpm", "60000"])
    expect(result.code).toBe(0)
    expect(result.stderr).toContain("torn last line")
    const results = readResults(output)
    expect(results.map((r) => r.id).sort()).toEqual(["p0", "p1", "p2"])
    expect(results.find((r) => r.id === "p0")?.content).toBe("earlier")
    expect(
      chatArrivals(server)
        .map((a) => a.prompt)
        .sort()
    ).toEqual(["prompt p1", "prompt p2"])
  })

  it("answers malformed, id-less, duplicate and prompt-less lines with Validation lines and sends the rest", async () => {
    const server = await serve()
    const { input, output } = files("malformed")
    writeInput(input, [
      { id: "a", prompt: "first" },
      "{not json",
      { prompt: "no id" },
      { id: "a", prompt: "again" },
      { id: "b" },
      "",
      {
        id: "c",
        messages: [
          { role: "system", content: "terse" },
          { role: "user", content: "third" }
        ],
        priority: "high"
      },
      { id: "d", prompt: "bad priority", priority: "urgent" },
      { id: 7, prompt: "numeric id", model: "grok-3-mini", max_completion_tokens: 50 }
    ])
    const args = ["batch", input, "--output", output, ...against(server), "--rpm", "60000", "--json-summary"]
    const result = await runCli(args)
    expect(result.code).toBe(1)
    const results = readResults(output)
    const byLine = (line: number) => results.find((r) => r.id === null && r.line === line)
    expect(byLine(2)?.error).toMatchObject({ _tag: "Validation", reason: "InvalidInput" })
    expect(byLine(3)?.error?.message).toContain('"id"')
    expect(byLine(4)?.error?.message).toContain("duplicate id")
    expect(results.find((r) => r.id === "b")?.error?._tag).toBe("Validation")
    expect(results.find((r) => r.id === "d")?.error?.message).toContain("priority")
    expect(
      results
        .filter((r) => r.ok)
        .map((r) => r.id)
        .sort()
    ).toEqual([7, "a", "c"])
    expect(results).toHaveLength(8)
    expect(
      chatArrivals(server)
        .map((a) => a.prompt)
        .sort()
    ).toEqual(["first", "numeric id", "third"])
    expect(jsonSummary(result.stdout)).toMatchObject({ calls: 8, ok: 3, failed: { Validation: 5 } })

    const again = await runCli(args)
    expect(readResults(output)).toHaveLength(8)
    expect(jsonSummary(again.stdout)).toMatchObject({ calls: 0, skippedAlreadyDone: 8 })
    expect(again.code).toBe(1)
  })

  it("stops calling after the key is refused, gives every id an AuthError line, and --retry-failed resends them", async () => {
    const server = await serve()
    const { input, output } = files("wrong-key")
    writeInput(input, prompts(50))
    const args = ["batch", input, "--output", output, "--base-url", server.url, "--concurrency", "4"]
    const result = await runCli([...args, "--api-key", "xai-wrong-key-123", "--rpm", "60000"])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("--retry-failed")
    expect(result.stderr + result.stdout).not.toContain("xai-wrong-key-123")
    const results = readResults(output)
    expect(results).toHaveLength(50)
    expect(results.every((r) => !r.ok && r.error?._tag === "AuthError")).toBe(true)
    expect(chatArrivals(server).length).toBeLessThanOrEqual(4)
    expect(Fs.readFileSync(output, "utf8")).not.toContain("xai-wrong-key-123")

    const retried = await runCli([...args, "--api-key", server.apiKey, "--rpm", "60000", "--retry-failed"])
    expect(retried.code).toBe(0)
    const final = readResults(output)
    expect(final).toHaveLength(50)
    expect(final.every((r) => r.ok)).toBe(true)
  })

  it("answers from --fallback-model while the lines' own model is down, and counts those calls", async () => {
    const server = await serve({ outages: [{ fromMillis: 0, toMillis: 600_000, models: ["grok-4"] }] })
    const { input, output } = files("fallback")
    writeInput(input, prompts(40))
    const args = ["batch", input, "--output", output, ...against(server), "--rpm", "6000", "--concurrency", "20"]
    const result = await runCli([
      ...args,
      "--fallback-model",
      "grok-3",
      "--fallback-model",
      "grok-4-fast",
      "--json-summary"
    ])
    expect(result.code).toBe(0)
    const results = readResults(output)
    expect(results.every((r) => r.ok && r.fallbackModel === "grok-3")).toBe(true)
    const summary = jsonSummary(result.stdout)
    expect(summary).toMatchObject({ ok: 40, answeredByFallback: 40, refusedByOpenBreaker: 0 })
    expect(result.stderr).toContain("40 answered by a fallback model")
    // The first wave reaches grok-4; its breaker then sends every call on to the fallback at once.
    expect(chatArrivals(server).filter((a) => a.kind === "outage").length).toBeLessThanOrEqual(25)
    expect(summary.attempts).toBe(chatArrivals(server).length)
  })

  it("rides out an outage with the breaker on: every id ok, the cold start's failures and a few probes", async () => {
    // The script fails the first sends whatever the machine's speed; the outage fails what follows for 800 ms.
    const server = await serve({
      script: Array.from({ length: 5 }, () => "503" as const),
      outages: [{ fromMillis: 0, toMillis: 800 }]
    })
    const { input, output } = files("outage")
    writeInput(input, prompts(100))
    const args = ["batch", input, "--output", output, ...against(server), "--rpm", "6000", "--concurrency", "20"]
    const result = await runCli([...args, "--json-summary"])
    expect(result.code).toBe(0)
    expect(jsonSummary(result.stdout)).toMatchObject({ ok: 100, refusedByOpenBreaker: 0 })
    // 5 cold sends open the breaker before the rest of the first wave goes; probes every 500 ms find it back.
    expect(chatArrivals(server).length).toBeLessThanOrEqual(120)
  })

  it("stops calling when the credits run out and answers the rest with Not sent lines", async () => {
    const server = await serve({ script: ["quota-exhausted-429"], latencyMillis: 20 })
    const { input, output } = files("no-credits")
    writeInput(input, prompts(30))
    const args = ["batch", input, "--output", output, ...against(server), "--rpm", "60000", "--concurrency", "2"]
    const result = await runCli([...args, "--json-summary"])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("stopped")
    const results = readResults(output)
    expect(results).toHaveLength(30)
    expect(jsonSummary(result.stdout).outcome).toBe("stopped")
    const notSent = results.filter((r) => r.error?.reason === "NotSent")
    // The other call in flight may finish first and free its slot for one more before the stop is known.
    expect(notSent.length).toBeGreaterThanOrEqual(30 - 4)
    expect(notSent.every((r) => r.error?._tag === "QuotaExhausted" && r.attempts === 0)).toBe(true)
    expect(chatArrivals(server).length).toBeLessThanOrEqual(4)
  })

  it("gives every id a result under a tight quota with faults", async () => {
    const server = await serve({ requestsPerSecond: 25, burst: 2, faultRate: 0.1, retryAfter: "ms", seed: 3 })
    const { input, output } = files("quota")
    writeInput(input, prompts(50))
    const result = await runCli([
      "batch",
      input,
      "--output",
      output,
      ...against(server),
      "--rpm",
      "2400",
      "--concurrency",
      "8",
      "--json-summary"
    ])
    const results = readResults(output)
    expect(results).toHaveLength(50)
    expect([...idCounts(results).values()].every((n) => n === 1)).toBe(true)
    const summary = jsonSummary(result.stdout)
    const sent = chatArrivals(server)
    expect(summary.rateLimited429).toBe(sent.filter((a) => a.status === 429).length)
    expect(summary.rateLimited429).toBeGreaterThan(0)
    expect(summary.attempts).toBe(sent.length)
    expect(summary.ok + Object.values<number>(summary.failed).reduce((a, b) => a + b, 0)).toBe(50)
  })

  // SIGINT is Ctrl-C; SIGTERM is what a service manager or `docker stop` sends to the plain-node bin itself.
  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143]
  ] as const)(
    "stops on %s with exit code %i, keeps every result received and says how to resume",
    async (signal, code) => {
      const server = await serve({ latencyMillis: 200 })
      const { input, output } = files(signal)
      writeInput(input, prompts(60))
      const run = await startCli([
        "batch",
        input,
        "--output",
        output,
        ...against(server),
        "--rpm",
        "60000",
        "--concurrency",
        "4",
        "--json-summary"
      ])
      await waitForLines(output, 5)
      run.child.kill(signal)
      const result = await run.done
      expect(result.code).toBe(code)
      expect(result.stderr).toContain("run the same command again to resume")
      const results = readResults(output)
      const summary = jsonSummary(result.stdout)
      expect(summary.outcome).toBe("interrupted")
      expect(summary.calls).toBe(results.length)
      expect(summary.remaining).toBe(60 - results.length)
      expect(Fs.existsSync(`${output}.lock`)).toBe(false)
    }
  )

  it("falls back to the embedded fake server, with a notice, when no key is given", async () => {
    const { input, output } = files("no-key")
    writeInput(input, prompts(5))
    const result = await runCli(["batch", input, "--output", output, "--rpm", "60000"])
    expect(result.code).toBe(0)
    expect(result.stderr).toContain("No API key")
    expect(readResults(output).map((r) => r.content)).toContain("echo: prompt p0")
  })

  it("exits with code 2 and names the problem for an invalid fake scenario", async () => {
    const { input, output } = files("bad-scenario")
    writeInput(input, prompts(1))
    const result = await runCli(["batch", input, "--output", output, "--fake-scenario", '{"faultRate": 3}'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("faultRate")
  })
})
