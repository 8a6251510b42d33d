/**
 * The answer the engine decides on, before a front end sends it: status, headers, and a body that is either whole
 * or a list of SSE frames with how the stream ends.
 */
import type { FaultKind, StreamFaultKind } from "./Scenario.js"

/** What an arrival turned into. */
export type ArrivalKind = "ok" | FaultKind | StreamFaultKind | "rate-limited" | "auth" | "script" | "outage" | "invalid"

/**
 * A body sent whole, or a stream of SSE frames. A stream ends with `"close"` (the server ends the body after the
 * frames) or `"stall"` (the server sends nothing more and keeps the connection open).
 */
export type Body = Whole | Streamed

export interface Whole {
  readonly _tag: "Whole"
  readonly text: string
}

export interface Streamed {
  readonly _tag: "Stream"
  readonly frames: ReadonlyArray<string>
  readonly end: "close" | "stall"
}

/** One answer: `reset` means the connection is destroyed without an answer. */
export interface Answer {
  readonly status: number
  readonly kind: ArrivalKind
  readonly body: Body
  readonly contentType: string
  readonly headers: Readonly<Record<string, string>>
  /** Waited on top of the scenario's latency (the `"slow"` fault). */
  readonly extraDelayMillis: number
  readonly reset: boolean
  readonly prompt?: string
  /** A scripted 429 on requests: the request headers report the bucket empty for this long. */
  readonly scriptedWaitMillis?: number
}

export const whole = (text: string): Body => ({ _tag: "Whole", text })

export const json = (
  status: number,
  kind: ArrivalKind,
  body: unknown,
  headers: Record<string, string> = {}
): Answer => ({
  status,
  kind,
  body: whole(JSON.stringify(body)),
  contentType: "application/json",
  headers,
  extraDelayMillis: 0,
  reset: false
})

/** An answer whose JSON body is already text (a kept answer). */
export const jsonText = (status: number, kind: ArrivalKind, text: string): Answer => ({
  ...json(status, kind, null),
  body: whole(text)
})

export const SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"

/** A 200 that streams `frames`; a stream that breaks also says `connection: close`, as a dropped upstream does. */
export const stream = (
  kind: ArrivalKind,
  frames: ReadonlyArray<string>,
  end: "close" | "stall",
  complete: boolean
): Answer => ({
  status: 200,
  kind,
  body: { _tag: "Stream", frames, end },
  contentType: SSE_CONTENT_TYPE,
  headers: complete ? { "cache-control": "no-cache" } : { "cache-control": "no-cache", connection: "close" },
  extraDelayMillis: 0,
  reset: false
})

export const reset = (kind: ArrivalKind): Answer => ({ ...json(0, kind, null), body: whole(""), reset: true })

export const withPrompt = (answer: Answer, prompt: string): Answer => ({ ...answer, prompt })
