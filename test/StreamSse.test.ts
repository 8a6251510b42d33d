import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { makeSseParser, type SseEvent } from "../src/internal/stream/sse.js"
import { bytes, cutAt } from "./StreamSupport.js"

const parse = (pieces: ReadonlyArray<string | Uint8Array>, max = 1 << 20): Either.Either<Array<SseEvent>, number> => {
  const parser = makeSseParser(max)
  const events: Array<SseEvent> = []
  for (const piece of pieces) {
    const fed = parser.feed(typeof piece === "string" ? bytes(piece) : piece)
    if (Either.isLeft(fed)) return Either.left(fed.left)
    events.push(...fed.right)
  }
  return Either.right(events)
}

const events = (pieces: ReadonlyArray<string | Uint8Array>) => Either.getOrThrow(parse(pieces))
const event = (data: string, name = "message", id?: string): SseEvent => ({ event: name, data, id })

describe("SSE parser", () => {
  it("ends lines on LF, CR and CR LF alike", () => {
    expect(events(["data: a\n\ndata: b\r\rdata: c\r\n\r\n"])).toEqual([event("a"), event("b"), event("c")])
  })

  it("joins multi-line data with LF, also when CR LF is split across chunks", () => {
    expect(events(["data: one\r\ndata: two\r\n\r\n"])).toEqual([event("one\ntwo")])
    expect(events(["data: one\r", "\ndata: two\r", "\n\r", "\n"])).toEqual([event("one\ntwo")])
  })

  it("skips comments, keeps event names and ids, and strips one space after the colon", () => {
    const parsed = events([": keep-alive\n\nevent: error\nid: 7\ndata:  two spaces\ndata:none\n\n"])
    expect(parsed).toEqual([event(" two spaces\nnone", "error", "7")])
  })

  it("reports a named event without data, which the standard would drop", () => {
    expect(events(["event: ping\n\n"])).toEqual([event("", "ping")])
  })

  it("ignores retry and unknown fields", () => {
    expect(events(["retry: 100000\nfoo: bar\ndata: x\n\n"])).toEqual([event("x")])
  })

  it("strips a UTF-8 byte order mark at the start of the stream, even split across chunks", () => {
    const data = bytes("\uFEFFdata: x\n\n")
    expect(events([data.subarray(0, 1), data.subarray(1, 2), data.subarray(2)])).toEqual([event("x")])
  })

  it("decodes a multi-byte character cut between chunks", () => {
    const data = bytes("data: sautéed ’ 🌮\n\n")
    for (let offset = 1; offset < data.length; offset++) {
      expect(events(cutAt(data, [offset]))).toEqual([event("sautéed ’ 🌮")])
    }
  })

  it("does not dispatch an event until its blank line arrives", () => {
    const parser = makeSseParser(1024)
    expect(Either.getOrThrow(parser.feed(bytes('data: {"a":1}\n')))).toEqual([])
    expect(Either.getOrThrow(parser.feed(bytes("\n")))).toEqual([event('{"a":1}')])
  })

  it("fails with the cap when a line never ends, without holding more than one chunk past it", () => {
    const parser = makeSseParser(1000)
    const chunk = bytes("x".repeat(400))
    expect(Either.isRight(parser.feed(bytes("data: ")))).toBe(true)
    expect(Either.isRight(parser.feed(chunk))).toBe(true)
    expect(Either.isRight(parser.feed(chunk))).toBe(true)
    expect(parser.feed(chunk)).toEqual(Either.left(1000))
  })

  it("fails with the cap when one event's data lines add up past it", () => {
    const line = `data: ${"y".repeat(90)}\n`
    expect(parse([line.repeat(20)], 1000)).toEqual(Either.left(1000))
    expect(Either.isRight(parse([line.repeat(5) + "\n", line.repeat(5) + "\n"], 1000))).toBe(true)
  })
})
