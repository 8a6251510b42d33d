/**
 * What the engine needs from a generation request, whichever API it came through (Chat Completions or
 * Responses): the text it echoes, the tokens it serves, and how to render the answer whole or as SSE frames.
 */

/** Fresh values for one answer, from the front end's random source and clock. */
export interface Ids {
  /** A fresh unique id in UUID form. */
  readonly next: () => string
  /** Wall-clock seconds since the epoch, for `created` fields. */
  readonly createdSeconds: number
}

/** The tokens one answer serves, and what they cost in xAI's ticks (10^-10 USD). */
export interface Tokens {
  readonly prompt: number
  readonly completion: number
  readonly reasoning: number
  readonly total: number
  readonly costTicks: number
}

/** A streamed answer as SSE frames, each a complete `data:` (and `event:`) block with its blank line. */
export interface Frames {
  /** Every frame of a whole answer, the terminal ones included. */
  readonly frames: ReadonlyArray<string>
  /** How many leading frames can be sent with the answer still visibly incomplete (no finish, no terminal). */
  readonly breakable: number
  /** The error event sent after `sent` frames by the `"stream-error-event"` fault. */
  readonly errorFrame: (sent: number) => string
}

/** One rendering of an answer: its ids are drawn once, so the whole body and the frames agree. */
export interface Rendered {
  readonly json: unknown
  readonly frames: () => Frames
  /** A Responses answer the server keeps for `GET /v1/responses/{id}` (unless the request said `store: false`). */
  readonly stored?: { readonly id: string; readonly response: unknown }
  /** A deferred chat request: `json` is the `{request_id}` acknowledgement, this the completion collected later. */
  readonly deferred?: { readonly id: string; readonly completion: unknown }
}

/** A generation request that was read successfully. */
export interface Generation {
  readonly model: string
  /** Text of the last user message (or the string input). */
  readonly prompt: string
  readonly stream: boolean
  readonly tokens: Tokens
  readonly render: (ids: Ids) => Rendered
}

/** Ticks (10^-10 USD) per input and output token, by model family. */
const price = (model: string): readonly [number, number] =>
  model.startsWith("grok-4") ? [30_000, 150_000] : [3_000, 5_000]

/**
 * Usage counted from the characters sent and the answer text: about four characters a token, the completion
 * capped at `maxOutputTokens`, reasoning tokens on top.
 */
export const countTokens = (input: {
  readonly model: string
  readonly characters: number
  readonly answer: string
  readonly maxOutputTokens: number | undefined
  readonly reasoningTokens: number
}): Tokens => {
  const prompt = Math.ceil(input.characters / 4) + 1
  const natural = Math.ceil(input.answer.length / 4)
  const completion = input.maxOutputTokens !== undefined ? Math.min(natural, input.maxOutputTokens) : natural
  const [inputTicks, outputTicks] = price(input.model)
  return {
    prompt,
    completion,
    reasoning: input.reasoningTokens,
    total: prompt + completion + input.reasoningTokens,
    costTicks: prompt * inputTicks + (completion + input.reasoningTokens) * outputTicks
  }
}

/** The answer text the fake generates for a prompt. */
export const answerText = (prompt: string): string => `echo: ${prompt}`

/** The reasoning text sent when the scenario adds reasoning tokens. */
export const REASONING_TEXT = "The user wants their message echoed back."

/** At most this many deltas per stream: a huge prompt makes longer deltas, not unbounded frames. */
export const MAX_PIECES = 256

/** Splits text into the deltas of a stream: words with their spaces, never an empty piece, at most `MAX_PIECES`. */
export const pieces = (text: string): ReadonlyArray<string> => {
  const words = text.match(/\s*\S+\s*/g)
  if (words === null || words.length === 0) return [text]
  if (words.length <= MAX_PIECES) return words
  const per = Math.ceil(words.length / MAX_PIECES)
  return Array.from({ length: Math.ceil(words.length / per) }, (_, i) => words.slice(i * per, (i + 1) * per).join(""))
}

/** The smallest positive cap among the given values, if any. */
export const capOf = (...values: ReadonlyArray<unknown>): number | undefined => {
  const caps = values.filter((cap): cap is number => typeof cap === "number" && cap > 0)
  return caps.length > 0 ? Math.min(...caps) : undefined
}

/** Text of a message content: a string, or the `text` of its parts. */
export const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (Array.isArray(content)) {
    return content
      .map((part) =>
        typeof part === "object" && part !== null && "text" in part && typeof part.text === "string" ? part.text : ""
      )
      .join("")
  }
  return ""
}

/** Formats a UUID (version 4 layout) from a source of uniform numbers in [0, 1). */
export const uuidFrom = (random: () => number): string => {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16))
  hex[12] = "4"
  hex[16] = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)
  const text = hex.join("")
  return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`
}
