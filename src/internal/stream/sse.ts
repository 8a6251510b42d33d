/**
 * A server-sent events parser over bytes (WHATWG HTML, "event stream interpretation").
 *
 * It splits lines on the bytes CR, LF and CR LF, so a chunk boundary inside a line, inside a CR LF pair or inside a
 * multi-byte UTF-8 character changes nothing: a line is decoded only once it is whole. It holds at most
 * `maxEventBytes` of one pending event (its data lines plus the unfinished line) and reports the overflow instead
 * of growing. `retry:` is ignored (we never reconnect: the retry policy decides), and so is an event cut off by the
 * end of the body, as the standard says: a truncated event must not pass for a whole one.
 */
import * as Either from "effect/Either"

export interface SseEvent {
  /** The `event:` field, `"message"` when absent. */
  readonly event: string
  /** The `data:` lines joined with `\n`. */
  readonly data: string
  readonly id: string | undefined
}

export interface SseParser {
  /** The events these bytes completed, or `Left(maxEventBytes)` when the pending event outgrew the cap. */
  readonly feed: (bytes: Uint8Array) => Either.Either<ReadonlyArray<SseEvent>, number>
}

const LF = 0x0a
const CR = 0x0d
const COLON = 0x3a
const BOM = "\uFEFF"

export const makeSseParser = (maxEventBytes: number): SseParser => {
  const decoder = new TextDecoder()
  let partial: Array<Uint8Array> = []
  let partialBytes = 0
  let afterCR = false
  let firstLine = true
  let eventName: string | undefined
  let data: Array<string> = []
  let dataBytes = 0
  let lastId: string | undefined
  let out: Array<SseEvent> = []

  const dispatch = () => {
    // A named event without data is kept (an `event: error` with no data still means an error); the standard
    // drops it, which only matters for names we ignore anyway.
    if (data.length > 0 || eventName !== undefined) {
      out.push({ event: eventName ?? "message", data: data.join("\n"), id: lastId })
    }
    eventName = undefined
    data = []
    dataBytes = 0
  }

  const field = (line: string, size: number) => {
    const colon = line.indexOf(":")
    const name = colon < 0 ? line : line.slice(0, colon)
    const raw = colon < 0 ? "" : line.slice(colon + 1)
    const value = raw.startsWith(" ") ? raw.slice(1) : raw
    if (name === "data") {
      data.push(value)
      dataBytes += size + 1
    } else if (name === "event") {
      eventName = value
    } else if (name === "id" && !value.includes("\u0000")) {
      lastId = value
    }
  }

  const line = (bytes: Uint8Array) => {
    let text = decoder.decode(bytes)
    if (firstLine) {
      firstLine = false
      if (text.startsWith(BOM)) text = text.slice(BOM.length)
    }
    if (text.length === 0) dispatch()
    else if (text.charCodeAt(0) !== COLON) field(text, bytes.length)
  }

  const wholeLine = (segment: Uint8Array) => {
    if (partialBytes === 0) return line(segment)
    const joined = new Uint8Array(partialBytes + segment.length)
    let offset = 0
    for (const piece of partial) {
      joined.set(piece, offset)
      offset += piece.length
    }
    joined.set(segment, offset)
    partial = []
    partialBytes = 0
    line(joined)
  }

  /**
   * The next CR or LF at or after `from` in `bytes`, or -1, by native `indexOf`. The CR search is remembered for
   * the chunk, since CR is rare: a chunk without one is scanned for it once, not once per line.
   */
  let crChunk: Uint8Array | undefined
  let nextCR = -1
  const lineEnd = (bytes: Uint8Array, from: number) => {
    if (crChunk !== bytes || (nextCR >= 0 && nextCR < from)) {
      crChunk = bytes
      nextCR = bytes.indexOf(CR, from)
    }
    const lf = bytes.indexOf(LF, from)
    return lf < 0 ? nextCR : nextCR < 0 ? lf : Math.min(lf, nextCR)
  }

  const feed = (bytes: Uint8Array): Either.Either<ReadonlyArray<SseEvent>, number> => {
    let start = 0
    crChunk = undefined
    if (afterCR && bytes.length > 0) {
      afterCR = false
      if (bytes[0] === LF) start = 1
    }
    for (let end = lineEnd(bytes, start); end >= 0; end = lineEnd(bytes, start)) {
      wholeLine(bytes.subarray(start, end))
      start = end + 1
      if (bytes[end] === CR) {
        if (start === bytes.length) afterCR = true
        else if (bytes[start] === LF) start += 1
      }
      if (dataBytes > maxEventBytes) return Either.left(maxEventBytes)
    }
    if (start < bytes.length) {
      // A copy, so the pending tail does not pin the whole chunk it came in.
      partial.push(bytes.slice(start))
      partialBytes += bytes.length - start
    }
    if (partialBytes + dataBytes > maxEventBytes) return Either.left(maxEventBytes)
    const events = out
    out = []
    return Either.right(events)
  }

  return { feed }
}
