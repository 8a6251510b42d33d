/**
 * The stream scenario: 100 streamed calls at concurrency 10 against the socket fake, 10% of the answers a fault
 * before the stream (429 with `Retry-After: 1`, 503, a reset connection) and 30% a broken stream of every kind (cut
 * after two chunks, stalled after two chunks, an error event after two chunks, a JSON error body sent with 200).
 *
 * The faults are a script shuffled once from a seeded PRNG, so every contender meets the same sequence of answers in
 * the order its requests arrive, and the fake's answer is deterministic: `echo: <prompt>`, which is how a text is
 * judged whole.
 */
import type { FakeGrok } from "../../src/testing/index.js"

export const CALLS = 100
export const CONCURRENCY = 10
/** Our client's idle timeout in the benchmark: a stall resolves in a second instead of the default 120 s. */
export const IDLE_TIMEOUT_MILLIS = 1_000
/** The openai SDK's `timeout` option (which, in 6.30, ends when the answer's headers arrive). */
export const OPENAI_TIMEOUT_MILLIS = 2_000
/**
 * A call that makes no progress for this long is counted hung and stopped (its connection closed): 5 × our idle
 * timeout and 2.5 × the openai SDK's timeout. For a stream, progress is an item; for a collected call, the result.
 */
export const HANG_MILLIS = 5_000
/** A collected call may wait out retries (backoff, `Retry-After`): it is counted hung only after this long. */
export const COLLECTED_HANG_MILLIS = 30_000
/** Pause before each chunk or event, so that a stream takes some time, as a model's does. */
export const CHUNK_MILLIS = 10

/**
 * One block of 100 answers: 10 faults before the stream, 30 broken streams, 60 whole answers. The script is such
 * blocks, each shuffled: any 100 answers in a row hold the shares closely, and the first 100 exactly.
 */
const BLOCK: ReadonlyArray<readonly [FakeGrok.ScriptStep, number]> = [
  [429, 4],
  ["503", 3],
  ["reset", 3],
  ["stream-cut", 8],
  ["stream-stall", 7],
  ["stream-error-event", 8],
  ["stream-json-error", 7],
  ["ok", 60]
]

/** How many answers of one block are `step`. */
const inBlock = (step: FakeGrok.ScriptStep): number => BLOCK.find(([s]) => s === step)?.[1] ?? 0
const PRE_STREAM_FAULTS = inBlock(429) + inBlock("503") + inBlock("reset")
const STREAM_FAULTS =
  inBlock("stream-cut") + inBlock("stream-stall") + inBlock("stream-error-event") + inBlock("stream-json-error")
/** 1,000 answers: more than any contender sends (the openai SDK at most 3 per call, ours about 1.7). */
const BLOCKS = 10
const SEED = 2024

/** mulberry32: small, seeded, the same draws on every machine. */
const prng = (seed: number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const drawScript = (): ReadonlyArray<FakeGrok.ScriptStep> => {
  const random = prng(SEED)
  const block = BLOCK.flatMap(([step, n]) => Array.from({ length: n }, () => step))
  return Array.from({ length: BLOCKS }, () => {
    const shuffled = [...block]
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
    }
    return shuffled
  }).flat()
}

export const script = drawScript()

export const server: FakeGrok.Scenario = { script, chunkMillis: CHUNK_MILLIS, streamFaultAfter: 2 }

export const MODEL = "grok-4"
export const prompt = (index: number): string => `bench stream call ${index} of the benchmark`
/** The fake's answer to a prompt: the only text that counts as whole. */
export const expected = (index: number): string => `echo: ${prompt(index)}`

export const description =
  `${CALLS} streamed calls at concurrency ${CONCURRENCY} against the socket fake; of every 100 answers ` +
  `${PRE_STREAM_FAULTS} fail before the stream (${inBlock(429)} × 429 with Retry-After 1 s, ${inBlock("503")} × 503, ` +
  `${inBlock("reset")} × reset) and ${STREAM_FAULTS} break it (${inBlock("stream-cut")} cut after two chunks, ` +
  `${inBlock("stream-stall")} stalled after two chunks, ${inBlock("stream-error-event")} with an error event after ` +
  `two chunks, ${inBlock("stream-json-error")} a JSON error body with HTTP 200), in an order shuffled once from a ` +
  "seeded PRNG: every contender meets the same sequence of answers. " +
  `Chunks ${CHUNK_MILLIS} ms apart. Whole means the text equals the fake's answer \`echo: <prompt>\``
