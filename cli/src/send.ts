/**
 * How one call is sent (`--api`, `--stream`): chat completions or the Responses API, whole or streamed and collected,
 * and the answer in the one shape the results file takes, whichever API gave it.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import type { GrokError } from "grok-resilience"
import { GrokApi, GrokClient } from "grok-resilience"
import type * as Input from "./input.js"

/**
 * What a successful call gives the results file: `content` is the text of the answer.
 *
 * @since 0.2.0
 * @category models
 */
export interface Answer {
  /** The first choice's text (chat) or every `output_text` joined (Responses); null when the answer has no text. */
  readonly content: string | null
  /** In the chat completions shape, whichever API answered. */
  readonly usage: GrokApi.Usage | undefined
  readonly requestId: string | undefined
  readonly attempts: number
  /** The model that answered: the line's, or a fallback model. */
  readonly model: string
}

/**
 * Sends one call with its per-call options.
 *
 * @since 0.2.0
 * @category models
 */
export type Send = (call: Input.Call, options: GrokClient.CallOptions) => Effect.Effect<Answer, GrokError.GrokError>

/**
 * The Responses API's usage named as in chat completions: `completion_tokens` without the reasoning tokens (the
 * Responses API counts them in `output_tokens`, chat completions apart), and xAI's cost in ticks kept.
 *
 * @since 0.2.0
 * @category conversions
 */
export const chatUsage = (usage: GrokApi.ResponseUsage): GrokApi.Usage => {
  const reasoning = usage.output_tokens_details?.reasoning_tokens ?? 0
  const cached = usage.input_tokens_details?.cached_tokens
  return {
    prompt_tokens: usage.input_tokens,
    completion_tokens: Math.max(0, usage.output_tokens - reasoning),
    total_tokens: usage.total_tokens ?? usage.input_tokens + usage.output_tokens,
    ...(cached !== undefined ? { prompt_tokens_details: { cached_tokens: cached } } : {}),
    completion_tokens_details: { reasoning_tokens: reasoning },
    ...(usage.num_sources_used !== undefined ? { num_sources_used: usage.num_sources_used } : {}),
    ...(usage.cost_in_usd_ticks !== undefined ? { cost_in_usd_ticks: usage.cost_in_usd_ticks } : {})
  }
}

/** Whether the response holds a text part at all: a response of only a function call has none. */
const hasText = (response: GrokApi.Response): boolean =>
  response.output.some(
    (item) =>
      item.type === "message" &&
      "content" in item &&
      Array.isArray(item.content) &&
      item.content.some((part: { readonly type?: unknown }) => part.type === "output_text")
  )

/**
 * The answer of a Responses API call.
 *
 * @since 0.2.0
 * @category conversions
 */
export const fromResponse = (result: GrokClient.ResponseResult): Answer => ({
  content: hasText(result.response) ? result.text : null,
  usage: result.usage !== undefined ? chatUsage(result.usage) : undefined,
  requestId: result.requestId,
  attempts: result.attempts,
  model: result.model
})

/**
 * The sender of a run: every call through `api`, streamed and collected when `stream` is set (the client's
 * `idleTimeout` then applies to each silence of a stream).
 *
 * @since 0.2.0
 * @category constructors
 */
export const make =
  (grok: GrokClient.Service, settings: { readonly stream: boolean }): Send =>
  (call, options) => {
    const chatOptions: GrokClient.ChatOptions = { ...options, stream: settings.stream }
    return call.api === "responses"
      ? Effect.map(grok.responses.create(call.request, chatOptions), fromResponse)
      : grok.chat(call.request, chatOptions)
  }
