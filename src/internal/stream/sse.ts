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

class ByteParser implements SseParser {
  private readonly decoder = new TextDecoder()
  private partial: Array<Uint8Array> = []
  private partialBytes = 0
  private afterCR = false
  private firstLine = true
  private eventName: string | undefined
  private data: Array<string> = []
  private dataBytes = 0
  private lastId: string | undefined
  private out: Array<SseEvent> = []
  /** The chunk whose next CR is remembered: CR is rare, so a chunk without one is scanned for it once. */
  private crChunk: Uint8Array | undefined
  private nextCR = -1

  constructor(private readonly maxEventBytes: number) {}

  private dispatch() {
    // A named event without data is kept (an `event: error` with no data still means an error); the standard
    // drops it, which only matters for names we ignore anyway.
    if (this.data.length > 0 || this.eventName !== undefined) {
      this.out.push({ event: this.eventName ?? "message", data: this.data.join("\n"), id: this.lastId })
    }
    this.eventName = undefined
    this.data = []
    this.dataBytes = 0
  }

  private field(line: string, size: number) {
    const colon = line.indexOf(":")
    const name = colon < 0 ? line : line.slice(0, colon)
    const raw = colon < 0 ? "" : line.slice(colon + 1)
    const value = raw.startsWith(" ") ? raw.slice(1) : raw
    if (name === "data") {
      this.data.push(value)
      this.dataBytes += size + 1
    } else if (name === "event") {
      this.eventName = value
    } else if (name === "id" && !value.includes("\u0000")) {
      this.lastId = value
    }
  }

  private line(bytes: Uint8Array) {
    let text = this.decoder.decode(bytes)
    if (this.firstLine) {
      this.firstLine = false
      if (text.startsWith(BOM)) text = text.slice(BOM.length)
    }
    if (text.length === 0) this.dispatch()
    else if (text.charCodeAt(0) !== COLON) this.field(text, bytes.length)
  }

  private wholeLine(segment: Uint8Array) {
    if (this.partialBytes === 0) return this.line(segment)
    const joined = new Uint8Array(this.partialBytes + segment.length)
    let offset = 0
    for (const piece of this.partial) {
      joined.set(piece, offset)
      offset += piece.length
    }
    joined.set(segment, offset)
    this.partial = []
    this.partialBytes = 0
    this.line(joined)
  }

  /** The next CR or LF at or after `from` in `bytes`, or -1, by native `indexOf`. */
  private lineEnd(bytes: Uint8Array, from: number) {
    if (this.crChunk !== bytes || (this.nextCR >= 0 && this.nextCR < from)) {
      this.crChunk = bytes
      this.nextCR = bytes.indexOf(CR, from)
    }
    const lf = bytes.indexOf(LF, from)
    return lf < 0 ? this.nextCR : this.nextCR < 0 ? lf : Math.min(lf, this.nextCR)
  }

  feed(bytes: Uint8Array): Either.Either<ReadonlyArray<SseEvent>, number> {
    let start = 0
    this.crChunk = undefined
    if (this.afterCR && bytes.length > 0) {
      this.afterCR = false
      if (bytes[0] === LF) start = 1
    }
    for (let end = this.lineEnd(bytes, start); end >= 0; end = this.lineEnd(bytes, start)) {
      this.wholeLine(bytes.subarray(start, end))
      start = end + 1
      if (bytes[end] === CR) {
        if (start === bytes.length) this.afterCR = true
        else if (bytes[start] === LF) start += 1
      }
      if (this.dataBytes > this.maxEventBytes) return Either.left(this.maxEventBytes)
    }
    if (start < bytes.length) {
      // A copy, so the pending tail does not pin the whole chunk it came in.
      this.partial.push(bytes.slice(start))
      this.partialBytes += bytes.length - start
    }
    if (this.partialBytes + this.dataBytes > this.maxEventBytes) return Either.left(this.maxEventBytes)
    const events = this.out
    this.out = []
    return Either.right(events)
  }
}

export const makeSseParser = (maxEventBytes: number): SseParser => new ByteParser(maxEventBytes)
