import { Effect, Random, Stream } from "effect"
import { readFileSync } from "node:fs"
import type { StreamAnswer } from "../src/internal/stream/answer.js"

export const SECRET = "xai-test-secret-key-0123456789"

export const fixture = (name: string) => readFileSync(new URL(`./fixtures/xai/${name}`, import.meta.url), "utf8")

/** The payload lines of a `*.chunks.txt` fixture, one JSON document each. */
export const fixtureLines = (name: string) =>
  fixture(name)
    .split("\n")
    .filter((line) => line.trim().length > 0)

/** A chat chunk fixture framed as xAI sends it: one `data:` event per chunk, then `data: [DONE]`. */
export const chatSse = (name: string) =>
  fixtureLines(name)
    .map((line) => `data: ${line}\n\n`)
    .join("") + "data: [DONE]\n\n"

/** A Responses event fixture framed as xAI sends it: the `type` as the SSE event name, the JSON as its data. */
export const responsesSse = (name: string) =>
  fixtureLines(name)
    .map((line) => `event: ${(JSON.parse(line) as { type: string }).type}\ndata: ${line}\n\n`)
    .join("")

export const bytes = (text: string) => new TextEncoder().encode(text)

/** The bytes cut at the given offsets (ascending). */
export const cutAt = (data: Uint8Array, offsets: ReadonlyArray<number>): Array<Uint8Array> => {
  const pieces: Array<Uint8Array> = []
  let start = 0
  for (const offset of offsets) {
    pieces.push(data.subarray(start, offset))
    start = offset
  }
  pieces.push(data.subarray(start))
  return pieces
}

/** The bytes cut into pieces of 1 to `max` bytes, drawn from Effect's (seeded) `Random`. */
export const randomPieces = (data: Uint8Array, max: number) =>
  Effect.gen(function* () {
    const offsets: Array<number> = []
    let at = 0
    while (true) {
      at += yield* Random.nextIntBetween(1, max + 1)
      if (at >= data.length) return cutAt(data, offsets)
      offsets.push(at)
    }
  })

export const answer = (overrides: Partial<StreamAnswer> = {}): StreamAnswer => ({
  status: 200,
  contentType: "text/event-stream",
  requestId: "req-stream-1",
  secrets: [SECRET],
  idleTimeout: "2 seconds",
  ...overrides
})

export const body = (...pieces: ReadonlyArray<string | Uint8Array>) =>
  Stream.fromIterable(pieces.map((piece) => (typeof piece === "string" ? bytes(piece) : piece)))
