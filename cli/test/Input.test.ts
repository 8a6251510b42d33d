import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Input from "../src/input.js"
import { KeyTable } from "../src/keyTable.js"
import * as Logging from "../src/logging.js"
import * as Progress from "../src/progress.js"
import * as Records from "../src/records.js"
import { parseDuration } from "../src/options.js"
import { Tally } from "../src/tally.js"
import * as Duration from "effect/Duration"

const line = (number: number, value: unknown) => ({
  number,
  text: typeof value === "string" ? value : JSON.stringify(value),
  start: 0,
  end: 0,
  terminated: true,
  fault: undefined
})

describe("Input", () => {
  it("turns a prompt into a user message with the default model and copies only request fields", () => {
    const parse = Input.parser({ model: "grok-4" })
    const item = parse(line(1, { id: "a", prompt: "hi", temperature: 0.5, label: "mine", priority: "low" }))
    expect(item).toMatchObject({
      _tag: "Call",
      id: { json: '"a"' },
      priority: "low",
      request: { model: "grok-4", messages: [{ role: "user", content: "hi" }], temperature: 0.5 }
    })
    expect(item?._tag === "Call" && "label" in item.request).toBe(false)
  })

  it("keeps a line's own model and messages", () => {
    const parse = Input.parser({ model: "grok-4" })
    const messages = [
      { role: "system", content: "be brief" },
      { role: "user", content: "hi" }
    ]
    expect(parse(line(1, { id: "a", messages, model: "grok-3-mini" }))).toMatchObject({
      _tag: "Call",
      request: { model: "grok-3-mini", messages }
    })
  })

  it("refuses a line with both prompt and messages, or an invalid request, under the line's id", () => {
    const parse = Input.parser({ model: "grok-4" })
    const both = parse(line(1, { id: "a", prompt: "x", messages: [] }))
    expect(both).toMatchObject({ _tag: "Invalid", record: { id: { json: '"a"' }, error: { reason: "InvalidInput" } } })
    const hot = parse(line(2, { id: "b", prompt: "x", temperature: 9 }))
    expect(hot).toMatchObject({ _tag: "Invalid", record: { id: { json: '"b"' }, error: { _tag: "Validation" } } })
    expect(hot?._tag === "Invalid" && hot.record.error.message).toBe(
      "Line 2: not a valid request: temperature: Expected a number between 0 and 2, actual 9"
    )
    const role = parse(line(3, { id: "c", messages: [{ role: "robot", content: "x" }] }))
    expect(role?._tag === "Invalid" && role.record.error.message).toMatch(
      /^Line 3: not a valid request: messages\[0\]\.role: /
    )
  })

  it('treats 1 and "1" as the same id and answers the repeat without an id', () => {
    const parse = Input.parser({ model: "grok-4" })
    expect(parse(line(1, { id: 1, prompt: "x" }))?._tag).toBe("Call")
    expect(parse(line(2, { id: "1", prompt: "y" }))).toMatchObject({
      _tag: "Invalid",
      record: { id: null, line: 2 }
    })
  })

  it("finds a repeated id when every id has the same hash, and repeats no other", () => {
    const parse = Input.parser({ model: "grok-4", hash: () => 0 })
    expect(parse(line(1, { id: "a", prompt: "x" }))?._tag).toBe("Call")
    expect(parse(line(2, { id: "b", prompt: "x" }))?._tag).toBe("Call")
    const again = parse(line(3, { id: "b", prompt: "y" }))
    expect(again?._tag === "Invalid" && again.record.error.message).toBe('Line 3: duplicate id "b" (first on line 2)')
    expect(parse(line(4, { id: "c", prompt: "x" }))?._tag).toBe("Call")
  })

  it("gives nothing for a line skip takes, and never decodes its request", () => {
    const asked: Array<string> = []
    const parse = Input.parser({ model: "grok-4", skip: (key) => (asked.push(key), key === "idone" || key === "l3") })
    // The request of "done" is not valid; skipped, it is never decoded, so it is not refused either.
    expect(parse(line(1, { id: "done", prompt: "x", temperature: 9 }))).toBeUndefined()
    expect(parse(line(2, { id: "open", prompt: "x" }))?._tag).toBe("Call")
    expect(parse(line(3, "not json"))).toBeUndefined()
    expect(parse(line(4, "not json"))).toMatchObject({ _tag: "Invalid", key: "l4" })
    expect(asked).toEqual(["idone", "iopen", "l3", "l4"])
  })

  it("notes ids in a shared table: an id only its other user holds is no repeat, a repeated one still is", () => {
    const ids = new KeyTable(() => 0)
    // What the journal leaves there: entries tagged, value 0.
    ids.setTagAt(ids.add("idone"), 1)
    const done = (key: string) => ids.entryOf(key) >= 0 && ids.tagAt(ids.entryOf(key)) !== 0
    const parse = Input.parser({ model: "grok-4", ids, skip: done })
    expect(parse(line(1, { id: "done", prompt: "x" }))).toBeUndefined()
    expect(parse(line(2, { id: "open", prompt: "x" }))?._tag).toBe("Call")
    const again = parse(line(3, { id: "done", prompt: "y" }))
    expect(again?._tag === "Invalid" && again.record.error.message).toBe(
      'Line 3: duplicate id "done" (first on line 1)'
    )
    expect(parse(line(4, { id: "open", prompt: "y" }))).toMatchObject({ _tag: "Invalid", record: { id: null } })
    expect([ids.size, ids.tagAt(ids.entryOf("iopen")), ids.get("iopen")]).toEqual([2, 0, 2])
  })

  it("skips blank lines", () => {
    expect(Input.parser({ model: "grok-4" })(line(1, "   "))).toBeUndefined()
  })
})

describe("options", () => {
  it("parses durations with and without units", () => {
    expect(parseDuration("500ms")).toEqual(Duration.millis(500))
    expect(parseDuration("30")).toEqual(Duration.millis(30_000))
    expect(parseDuration("2m")).toEqual(Duration.millis(120_000))
    expect(parseDuration("1.5 hours")).toEqual(Duration.millis(5_400_000))
    expect(parseDuration("soon")).toBeUndefined()
    expect(parseDuration("0s")).toBeUndefined()
  })
})

describe("Progress", () => {
  it("shows done/total, rate, ETA, retries, 429s, tokens and cost", () => {
    const tally = new Tally()
    tally.total = 10
    tally.add({
      id: Records.stringId("a"),
      ok: true,
      content: "",
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5, cost_in_usd_ticks: 1e8 },
      attempts: 3,
      requestId: null
    })
    tally.rateLimited429 = 2
    const text = Progress.line(tally, tally.startedAt + 1000)
    expect(text).toContain("1/10 (10%)")
    expect(text).toContain("1.0/s")
    expect(text).toContain("ETA 9.0s")
    expect(text).toContain("retries 2")
    expect(text).toContain("429s 2")
    expect(text).toContain("tokens 5")
    expect(text).toContain("$0.0100")
  })
})

describe("logging", () => {
  it("shows run-wide warnings and hides the per-call lines the results file already records", () => {
    const lines: Array<string> = []
    const program = Effect.gen(function* () {
      yield* Effect.logWarning("grok call failed: retrying")
      yield* Effect.logWarning("RateLimiter: cooldown started")
      yield* Effect.logInfo("RateLimiter: cooldown ended")
      yield* Effect.logWarning("Redis unavailable (timeout): limiting locally at 50% of the quota")
    })
    Effect.runSync(program.pipe(Logging.withLogging({ verbose: false, write: (line) => lines.push(line), tty: false })))
    expect(lines).toEqual(["warning: Redis unavailable (timeout): limiting locally at 50% of the quota\n"])
  })
})
