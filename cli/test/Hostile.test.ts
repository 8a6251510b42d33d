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
  waitForLines,
  writeInput
} from "./support.js"

let dir: string
let server: FakeGrok.Started

beforeAll(async () => {
  dir = tempDir()
  ;[server] = await Promise.all([FakeGrok.start(), cliCommand()])
})

afterAll(async () => {
  await server.close()
  Fs.rmSync(dir, { recursive: true, force: true })
  disposeCli()
})

const against = () => ["--base-url", server.url, "--api-key", server.apiKey, "--rpm", "60000"]
const sentPrompts = () =>
  Effect.runSync(server.arrivals)
    .filter((arrival) => arrival.path === "/v1/chat/completions")
    .map((arrival) => arrival.prompt)

/** The id of each results line exactly as its bytes read in the file. */
const rawIds = (path: string): Array<string> =>
  Fs.readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => /^\{"id":(null|"(?:[^"\\]|\\.)*"|[^,]*),/.exec(line)?.[1] ?? `unreadable: ${line}`)

const nested = (depth: number): string => "[".repeat(depth) + "]".repeat(depth)
/** An object nesting `depth` levels in all, itself included. */
const nestedObject = (depth: number): string => '{"a":'.repeat(depth - 1) + "{}" + "}".repeat(depth - 1)

describe("grok-resilience batch with hostile input", () => {
  it("answers lines nesting 4,000 and 100,000 levels with Validation lines and finishes the others", async () => {
    await Effect.runPromise(server.clearArrivals)
    const input = Path.join(dir, "deep.jsonl")
    const output = Path.join(dir, "deep-out.jsonl")
    writeInput(input, [
      { id: "before", prompt: "before" },
      `{"id":"messages-4k","messages":${nested(4_000)}}`,
      `{"id":"content-100k","messages":[{"role":"user","content":${nested(100_000)}}]}`,
      `{"id":"label-100k","prompt":"local field","label":${nestedObject(100_000)}}`,
      // The line object is level 1: 64 levels in all is the limit, 65 is refused.
      `{"id":"at-limit","prompt":"at the limit","label":${nestedObject(63)}}`,
      `{"id":"past-limit","prompt":"past the limit","label":${nestedObject(64)}}`,
      { id: "after", prompt: "after" }
    ])
    const args = ["batch", input, "--output", output, ...against(), "--json-summary"]
    const result = await runCli(args)
    expect(result.stderr).not.toContain("Maximum call stack")
    expect(result.code).toBe(1)
    const results = readResults(output)
    expect(results).toHaveLength(7)
    const refused = results.filter((r) => !r.ok)
    expect(refused.map((r) => r.line).sort()).toEqual([2, 3, 4, 6])
    for (const r of refused) {
      expect(r).toMatchObject({ id: null, attempts: 0, error: { _tag: "Validation", reason: "InvalidInput" } })
      expect(r.error?.message).toBe(`Line ${r.line}: nests arrays and objects deeper than 64 levels`)
    }
    expect(results.filter((r) => r.ok).map((r) => r.id)).toEqual(expect.arrayContaining(["before", "at-limit"]))
    expect(sentPrompts().sort()).toEqual(["after", "at the limit", "before"])

    const again = await runCli(args)
    expect(jsonSummary(again.stdout)).toMatchObject({ calls: 0, skippedAlreadyDone: 7 })
    expect(sentPrompts()).toHaveLength(3)
  })

  it("refuses lines that are not UTF-8, saying where, and never merges two ids", async () => {
    await Effect.runPromise(server.clearArrivals)
    const input = Path.join(dir, "utf8.jsonl")
    const output = Path.join(dir, "utf8-out.jsonl")
    const lines = [
      Buffer.from('{"id":"u\xff","prompt":"one"}', "latin1"),
      Buffer.from('{"id":"u\xfe","prompt":"two"}', "latin1"),
      Buffer.from('{"id":"u\\ufffd","prompt":"three"}'),
      Buffer.concat([Buffer.from('{"id":"overlong","prompt":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
      Buffer.concat([Buffer.from('{"id":"surrogate","prompt":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
      Buffer.from('{"id":"café","prompt":"ünïcode ✓ 𝄞"}')
    ]
    Fs.writeFileSync(input, Buffer.concat(lines.flatMap((line) => [line, Buffer.from("\n")])))
    const result = await runCli(["batch", input, "--output", output, ...against()])
    expect(result.code).toBe(1)
    const results = readResults(output)
    expect(results).toHaveLength(6)
    const byLine = (line: number) => results.find((r) => r.line === line)
    const startOf = (line: number) => lines.slice(0, line - 1).reduce((sum, bytes) => sum + bytes.length + 1, 0)
    expect(byLine(1)?.error?.message).toBe(
      `Line 1: not UTF-8: byte 0xFF at byte offset 8 of the line (offset ${startOf(1) + 8} of the file); ` +
        "JSON text must be UTF-8"
    )
    expect(byLine(2)?.error?.message).toContain(`byte 0xFE at byte offset 8 of the line (offset ${startOf(2) + 8} `)
    expect(byLine(4)?.error?.message).toContain("byte 0xC0 at byte offset 27 of the line")
    expect(byLine(5)?.error?.message).toContain("byte 0xED at byte offset 28 of the line")
    for (const line of [1, 2, 4, 5]) expect(byLine(line)).toMatchObject({ id: null, error: { _tag: "Validation" } })
    expect(
      results
        .filter((r) => r.ok)
        .map((r) => r.id)
        .sort()
    ).toEqual(["café", "u\ufffd"])
    expect(JSON.stringify(results)).not.toContain("duplicate")
    expect(sentPrompts().sort()).toEqual(["three", "ünïcode ✓ 𝄞"])
  })

  it("refuses a line over 16 MiB without reading it into memory and finishes the others", async () => {
    await Effect.runPromise(server.clearArrivals)
    const input = Path.join(dir, "long.jsonl")
    const output = Path.join(dir, "long-out.jsonl")
    const long = `{"id":"long","prompt":"${"x".repeat(16 * 1024 * 1024)}"}`
    Fs.writeFileSync(input, `{"id":"a","prompt":"short"}\n${long}\n{"id":"b","prompt":"after"}\n`)
    const result = await runCli(["batch", input, "--output", output, ...against()])
    expect(result.code).toBe(1)
    const results = readResults(output)
    expect(results.find((r) => r.line === 2)?.error?.message).toBe(
      `Line 2: ${long.length} bytes long, over the limit of 16777216 bytes per line; not read`
    )
    expect(sentPrompts().sort()).toEqual(["after", "short"])
  })

  it("writes every id back exactly as given and keeps numbers that JSON.parse would merge apart", async () => {
    await Effect.runPromise(server.clearArrivals)
    const input = Path.join(dir, "ids.jsonl")
    const output = Path.join(dir, "ids-out.jsonl")
    const ids = ["12345678901234567890", "12345678901234567891", "-0", "0", "1e21", "1E21", "1.0", "1", '"x\\u0079"']
    writeInput(input, [
      ...ids.map((id, i) => `{"id": ${id} , "prompt": "p${i}"}`),
      '{"id":"1","prompt":"the same id as 1"}',
      '{"id":"xy","prompt":"the same id as x\\u0079"}',
      '{"id":"a","id":"b","prompt":"two ids"}'
    ])
    const args = ["batch", input, "--output", output, ...against(), "--json-summary"]
    const result = await runCli(args)
    expect(result.code).toBe(1)
    expect(
      rawIds(output)
        .filter((id) => id !== "null")
        .sort()
    ).toEqual([...ids].sort())
    const refused = readResults(output).filter((r) => !r.ok)
    expect(refused.map((r) => r.error?.message).sort()).toEqual([
      'Line 10: duplicate id "1" (first on line 8)',
      'Line 11: duplicate id "xy" (first on line 9)',
      'Line 12: more than one "id" member'
    ])
    expect(sentPrompts()).toHaveLength(ids.length)

    const again = await runCli(args)
    expect(jsonSummary(again.stdout)).toMatchObject({ calls: 0, skippedAlreadyDone: ids.length + 3 })
    expect(sentPrompts()).toHaveLength(ids.length)
  })
})

describe("the results file lock", () => {
  const slow = async () => {
    const slowServer = await FakeGrok.start({ latencyMillis: 1000 })
    return slowServer
  }

  it("refuses a second run that reaches the same results file through a symbolic link", async () => {
    const slowServer = await slow()
    try {
      const input = writeInput(Path.join(dir, "lock-in.jsonl"), prompts(30))
      Fs.mkdirSync(Path.join(dir, "real"))
      const real = Path.join(dir, "real", "results.jsonl")
      Fs.symlinkSync(real, Path.join(dir, "file-link.jsonl"))
      Fs.symlinkSync(Path.join(dir, "real"), Path.join(dir, "dir-link"))
      const args = (output: string) => [
        "batch",
        input,
        "--output",
        output,
        "--base-url",
        slowServer.url,
        "--api-key",
        slowServer.apiKey,
        "--rpm",
        "60000",
        "--concurrency",
        "2"
      ]
      // The first run creates the file through a link to a file that does not exist yet.
      const first = await startCli(args(Path.join(dir, "file-link.jsonl")), { timeoutMillis: 50_000 })
      await waitForLines(real, 2)
      for (const other of [real, Path.join(dir, "dir-link", "results.jsonl")]) {
        // 30 ids at 1 s each, two at a time: the first run is still writing (about 15 s, room for two slow CLI
        // starts on a loaded machine) while these start.
        expect(first.child.exitCode).toBeNull()
        const second = await runCli(args(other))
        expect(second.code).toBe(2)
        expect(second.stderr).toContain(`is being written by another run (pid ${first.child.pid})`)
      }
      expect((await first.done).code).toBe(0)
      const results = readResults(real)
      expect(results).toHaveLength(30)
      expect([...idCounts(results).values()].every((n) => n === 1)).toBe(true)
      expect(Fs.lstatSync(Path.join(dir, "file-link.jsonl")).isSymbolicLink()).toBe(true)
      expect(Fs.readdirSync(Path.join(dir, "real"))).toEqual(["results.jsonl"])
    } finally {
      await slowServer.close()
    }
  }, 60_000)

  it("repairs a results file reached through a link in place and leaves the link a link", async () => {
    const input = writeInput(Path.join(dir, "relink-in.jsonl"), prompts(3))
    const real = Path.join(dir, "relink-real.jsonl")
    const link = Path.join(dir, "relink.jsonl")
    Fs.writeFileSync(real, '{"id":"p0","ok":true,"content":"x","usage":null,"attempts":1,"requestId":null}\ngarbage\n')
    Fs.symlinkSync(real, link)
    const result = await runCli(["batch", input, "--output", link, ...against()])
    expect(result.code).toBe(0)
    expect(result.stderr).toContain("Removed 1 unreadable lines")
    expect(Fs.lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readResults(real).map((r) => r.id)).toEqual(["p0", expect.any(String), expect.any(String)])
  })
})

describe("a hostile answer", () => {
  it("whose usage nests 100,000 levels is written without its usage, and the run goes on", async () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000)
    const body =
      '{"id":"c","object":"chat.completion","created":0,"model":"grok-4","choices":[{"index":0,"message":' +
      `{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,` +
      `"total_tokens":2,"extra":${deep}}}`
    const hostile = Http.createServer((req, res) => {
      req.resume()
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(body)
      })
    })
    await new Promise<void>((ready) => hostile.listen(0, "127.0.0.1", ready))
    try {
      const url = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}/v1`
      const input = writeInput(Path.join(dir, "deep-usage.jsonl"), prompts(3))
      const output = Path.join(dir, "deep-usage-out.jsonl")
      const result = await runCli(["batch", input, "--output", output, "--base-url", url, "--api-key", "xai-test"])
      expect(result.stderr).not.toContain("Maximum call stack")
      expect(result.code).toBe(0)
      const results = readResults(output)
      expect(results).toHaveLength(3)
      expect(results.every((r) => r.ok && r.content === "hi" && r.usage === null)).toBe(true)
    } finally {
      hostile.closeAllConnections()
      await new Promise((done) => hostile.close(done))
    }
  })
})
