/**
 * One batch result as the caller sees it: the completion, or a typed error. xAI reports a failed item as a bare
 * `error` string with no status, so its tag is read from the wording with the rules `GrokError.classify` uses for
 * bodies (a wrong key, spent credits), plus the wording of rate limits and server faults; anything else is a
 * `Validation`, the request's own fault.
 */
import type * as GrokApi from "../../GrokApi.js"
import * as GrokError from "../../GrokError.js"
import { scrub } from "../../Redaction.js"
import type { BatchResultItem } from "../api/batches.js"
import { decodeChatCompletionOf } from "./decode.js"
import { CREDITS, truncate, WRONG_KEY } from "../classifyRules.js"

/** A result that holds a completion. */
export interface Succeeded {
  readonly _tag: "Succeeded"
  /** The `batch_request_id` the request was added with. */
  readonly id: string
  readonly completion: GrokApi.ChatCompletion
  /** The first choice's text, or null for a tool call or refusal. */
  readonly content: string | null
  readonly usage: GrokApi.Usage | undefined
}

/** A result that holds an error. */
export interface Failed {
  readonly _tag: "Failed"
  readonly id: string
  readonly error: GrokError.GrokError
}

export type BatchResult = Succeeded | Failed

const RATE = /\b(rate limit|too many requests|resource has been exhausted)\b/i
const SERVER = /\b(internal|unavailable|overloaded|timed? ?out|deadline exceeded|try again)\b/i

/** The typed error of a failed item's message. */
export const errorOf = (message: string, secrets: ReadonlyArray<string>): GrokError.GrokError => {
  const detail = truncate(scrub(message, secrets))
  if (WRONG_KEY.test(message)) return new GrokError.AuthError({ reason: "InvalidKey", detail })
  if (CREDITS.test(message)) return new GrokError.QuotaExhausted({ detail })
  if (RATE.test(message)) return new GrokError.RateLimited({ limit: "unknown", detail })
  if (SERVER.test(message)) return new GrokError.Transient({ reason: "ServerError", detail })
  return new GrokError.Validation({ reason: "BadRequest", detail })
}

/** Reads one item: a completion that matches the schema, or a typed error saying what arrived instead. */
export const resultOf = (item: BatchResultItem, secrets: ReadonlyArray<string>): BatchResult => {
  const outcome = decodeChatCompletionOf(item.batch_result)
  const id = item.batch_request_id
  if (outcome._tag === "Error") {
    const error = outcome.fromServer
      ? errorOf(outcome.message, secrets)
      : new GrokError.Transient({ reason: "MalformedBody", detail: outcome.message })
    return { _tag: "Failed", id, error }
  }
  const { completion } = outcome
  return {
    _tag: "Succeeded",
    id,
    completion,
    content: completion.choices[0]?.message.content ?? null,
    usage: completion.usage ?? undefined
  }
}
