/**
 * Tells an event stream from a body that is not one, and cuts the bytes into frames: SSE events, or the whole
 * body once it has ended. A JSON (or HTML) body in place of a stream is how an error often arrives, even with
 * HTTP 200; it is read whole, within the same cap as one event, so classification can judge it.
 */
import * as Either from "effect/Either"
import { makeSseParser, type SseEvent } from "./sse.js"

export type Frame =
  { readonly _tag: "Event"; readonly event: SseEvent } | { readonly _tag: "Body"; readonly text: string }

export interface Framer {
  /** Frames completed by these bytes, or `Left(maxBytes)` when what is held outgrew the cap. */
  readonly feed: (bytes: Uint8Array) => Either.Either<ReadonlyArray<Frame>, number>
  /** Frames left when the body ended: the whole body in body mode, nothing for an event stream. */
  readonly end: () => ReadonlyArray<Frame>
}

/** Bytes that may precede the first field of an event stream: blanks, line ends and a UTF-8 byte order mark. */
const LEADING: ReadonlySet<number> = new Set([0x20, 0x09, 0x0a, 0x0d, 0xef, 0xbb, 0xbf])
/** First bytes no event stream starts with: `{`, `[` and `<` (JSON object, JSON array, HTML). */
const NOT_SSE: ReadonlySet<number> = new Set([0x7b, 0x5b, 0x3c])

export const makeFramer = (options: { readonly wholeBody: boolean; readonly maxBytes: number }): Framer => {
  const parser = makeSseParser(options.maxBytes)
  let mode: "sniff" | "events" | "body" = options.wholeBody ? "body" : "sniff"
  const body: Array<Uint8Array> = []
  let bodyBytes = 0

  const toEvents = (events: ReadonlyArray<SseEvent>): ReadonlyArray<Frame> =>
    events.map((event) => ({ _tag: "Event", event }))

  const keep = (bytes: Uint8Array): Either.Either<ReadonlyArray<Frame>, number> => {
    bodyBytes += bytes.length
    if (bodyBytes > options.maxBytes) return Either.left(options.maxBytes)
    body.push(bytes)
    return Either.right([])
  }

  const feed = (bytes: Uint8Array): Either.Either<ReadonlyArray<Frame>, number> => {
    if (mode === "body") return keep(bytes)
    if (mode === "sniff") {
      const first = bytes.findIndex((byte) => !LEADING.has(byte))
      if (first < 0) return Either.map(parser.feed(bytes), toEvents)
      mode = NOT_SSE.has(bytes[first]!) ? "body" : "events"
      if (mode === "body") return keep(bytes.subarray(first))
    }
    return Either.map(parser.feed(bytes), toEvents)
  }

  const end = (): ReadonlyArray<Frame> => {
    if (mode !== "body") return []
    const joined = new Uint8Array(bodyBytes)
    let offset = 0
    for (const piece of body) {
      joined.set(piece, offset)
      offset += piece.length
    }
    return [{ _tag: "Body", text: new TextDecoder().decode(joined) }]
  }

  return { feed, end }
}
