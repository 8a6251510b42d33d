/**
 * The bodies the fake Grok server sends: completions shaped like the recorded xAI fixtures, and xAI's error
 * bodies (the gRPC-style `{"code", "error"}` form, and the OpenAI-style form for malformed requests).
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"

/**
 * The team id xAI error messages name.
 *
 * @since 0.1.0
 * @category constants
 */
export const TEAM_ID = "00000000-0000-0000-0000-000000000000"

/**
 * xAI's `{"code", "error"}` body.
 *
 * @since 0.1.0
 * @category models
 */
export interface CodeBody {
  readonly code: string
  readonly error: string
}

/** gRPC status descriptions, which xAI sends as `code`. */
const Code = {
  invalidArgument: "Client specified an invalid argument",
  exhausted: "Some resource has been exhausted",
  unavailable: "The service is currently unavailable",
  notFound: "Some requested entity was not found",
  permissionDenied: "The caller does not have permission to execute the specified operation",
  unauthenticated: "The request does not have valid authentication credentials",
  deadline: "Deadline expired before operation could complete",
  aborted: "The operation was aborted",
  unimplemented: "Operation is not implemented or not supported",
  internal: "Internal error"
} as const

const consoleHint = "You can obtain an API key from https://console.x.ai."

/**
 * The key as xAI quotes it: first and last two characters.
 *
 * @since 0.1.0
 * @category formatting
 */
export const maskKey = (key: string): string => (key.length <= 4 ? "***" : `${key.slice(0, 2)}***${key.slice(-2)}`)

/**
 * xAI's 400 for a wrong API key, or for none at all.
 *
 * @since 0.1.0
 * @category errors
 */
export const wrongKey = (provided: string | undefined): CodeBody => ({
  code: Code.invalidArgument,
  error:
    provided === undefined || provided === ""
      ? `No API key provided. ${consoleHint}`
      : `Incorrect API key provided: ${maskKey(provided)}. ${consoleHint}`
})

/**
 * xAI's body for spent credits or a reached spending limit (sent as 429 or 403).
 *
 * @since 0.1.0
 * @category errors
 */
export const creditsExhausted = (status: 429 | 403): CodeBody => ({
  code: status === 403 ? "permission-denied" : Code.exhausted,
  error:
    `Your team ${TEAM_ID} has either used all available credits or reached its monthly spending limit. ` +
    "To continue making API requests, please purchase more credits or raise your spending limit."
})

/**
 * Which limit a 429 names.
 *
 * @since 0.1.0
 * @category models
 */
export interface LimitHit {
  readonly kind: "requests" | "tokens"
  readonly per: "Second" | "Minute"
  readonly actual: number
  readonly limit: number
}

/**
 * xAI's 429 body, naming the limit (`limitInBody`) or generic.
 *
 * @since 0.1.0
 * @category errors
 */
export const rateLimited = (model: string, hit: LimitHit | undefined): CodeBody => {
  if (hit === undefined) return { code: Code.exhausted, error: "Too many requests" }
  const what = hit.kind === "requests" ? "Requests" : "Tokens"
  return {
    code: Code.exhausted,
    error:
      `Too many ${hit.kind} for team ${TEAM_ID} and model ${model}. Your team's rate limit is — ` +
      `${what} per ${hit.per} (actual/limit): ${hit.actual}/${hit.limit}. ` +
      "You can view your team rate limits at https://console.x.ai."
  }
}

/**
 * xAI's answer to HTTP 200 that is really an error.
 *
 * @since 0.1.0
 * @category errors
 */
export const errorWith200: CodeBody = { code: Code.unavailable, error: "Timed out waiting for first token" }

/**
 * An xAI-style body for any error status.
 *
 * @since 0.1.0
 * @category errors
 */
export const forStatus = (status: number, model: string): CodeBody => {
  switch (status) {
    case 400:
      return {
        code: Code.invalidArgument,
        error: "This model's maximum prompt length is 131072 but the request contains 179111 tokens."
      }
    case 401:
      return { code: Code.unauthenticated, error: "The bearer token could not be authenticated." }
    case 403:
      return { code: Code.permissionDenied, error: `The API key does not have permission to use model ${model}.` }
    case 404:
      return {
        code: Code.notFound,
        error: `The model ${model} does not exist or your team does not have access to it.`
      }
    case 405:
      return { code: Code.unimplemented, error: "Method not allowed." }
    case 408:
      return { code: Code.deadline, error: "The request timed out before it was processed." }
    case 409:
      return { code: Code.aborted, error: "The request conflicted with another request. Please try again." }
    case 413:
      return { code: Code.invalidArgument, error: "The request body is too large: the limit is 10485760 bytes." }
    case 415:
      return { code: Code.invalidArgument, error: "Unsupported media type: the body must be application/json." }
    case 422:
      return {
        code: Code.invalidArgument,
        error: "Failed to deserialize the JSON body into the target type: messages[0]: unknown variant `robot`."
      }
    case 429:
      return rateLimited(model, undefined)
    case 500:
      return { code: Code.internal, error: "An internal error occurred while processing the request." }
    case 502:
      return { code: Code.unavailable, error: "Bad gateway: the upstream model server closed the connection." }
    case 503:
      return { code: Code.unavailable, error: "The service is temporarily overloaded. Please try again later." }
    case 529:
      return { code: Code.unavailable, error: "The model is overloaded. Please try again later." }
    default:
      return status >= 500
        ? { code: Code.unavailable, error: `The service answered ${status}. Please try again later.` }
        : { code: Code.invalidArgument, error: `The request was refused with status ${status}.` }
  }
}

/**
 * The 404 for a path the API does not have.
 *
 * @since 0.1.0
 * @category errors
 */
export const noSuchPath = (method: string, path: string): CodeBody => ({
  code: Code.notFound,
  error: `No route for ${method} ${path}.`
})

/**
 * The OpenAI-style 400 for a request that is not valid JSON or misses required fields.
 *
 * @since 0.1.0
 * @category errors
 */
export const invalidRequest = (message: string) => ({
  error: { message, type: "invalid_request_error", code: "invalid_value" }
})

/**
 * The HTML page a proxy sends for a 502.
 *
 * @since 0.1.0
 * @category errors
 */
export const badGatewayHtml =
  "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n" +
  "<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>cloudflare</center>\n</body>\n</html>\n"

const textOf = (content: unknown): string => {
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

/**
 * What the server reads from a chat request.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChatInput {
  readonly model: string
  /** Text of the last user message. */
  readonly prompt: string
  /** Characters of all message contents. */
  readonly characters: number
  readonly maxCompletionTokens: number | undefined
}

/**
 * Reads a parsed request body, or says what is wrong with it.
 *
 * @since 0.1.0
 * @category parsing
 */
export const readChatInput = (body: unknown): ChatInput | string => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "The request body must be a JSON object."
  const request = body as Record<string, unknown>
  if (typeof request.model !== "string" || request.model === "") return "Missing required field: model."
  const messages = request.messages
  if (!Array.isArray(messages) || messages.length === 0) return "Missing required field: messages (at least one)."
  let characters = 0
  let prompt = ""
  for (const message of messages) {
    if (typeof message !== "object" || message === null) return "Each message must be an object."
    const text = textOf((message as Record<string, unknown>).content)
    characters += text.length
    if ((message as Record<string, unknown>).role === "user") prompt = text
  }
  const caps = [request.max_completion_tokens, request.max_tokens].filter(
    (cap): cap is number => typeof cap === "number" && cap > 0
  )
  return {
    model: request.model,
    prompt,
    characters,
    maxCompletionTokens: caps.length > 0 ? Math.min(...caps) : undefined
  }
}

/**
 * A normal answer: its body and the tokens it serves.
 *
 * @since 0.1.0
 * @category models
 */
export interface Completion {
  readonly body: Record<string, unknown>
  readonly totalTokens: number
}

/** Ticks (10^-10 USD) per input and output token, by model family. */
const price = (model: string): readonly [number, number] =>
  model.startsWith("grok-4") ? [30_000, 150_000] : [3_000, 5_000]

/**
 * The completion for a request: content `"echo: " + prompt`, usage counted from the characters sent.
 *
 * @since 0.1.0
 * @category constructors
 */
export const completion = (input: ChatInput, reasoningTokens: number): Completion => {
  const content = `echo: ${input.prompt}`
  const promptTokens = Math.ceil(input.characters / 4) + 1
  const natural = Math.ceil(content.length / 4)
  const completionTokens =
    input.maxCompletionTokens !== undefined ? Math.min(natural, input.maxCompletionTokens) : natural
  const totalTokens = promptTokens + completionTokens + reasoningTokens
  const [inputTicks, outputTicks] = price(input.model)
  const body = {
    id: randomUUID(),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: input.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content,
          reasoning_content: reasoningTokens > 0 ? "The user wants their message echoed back." : null,
          refusal: null
        },
        finish_reason: "stop"
      }
    ],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: totalTokens,
      prompt_tokens_details: { text_tokens: promptTokens, audio_tokens: 0, image_tokens: 0, cached_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: reasoningTokens,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0
      },
      num_sources_used: 0,
      cost_in_usd_ticks: promptTokens * inputTicks + (completionTokens + reasoningTokens) * outputTicks
    },
    system_fingerprint: "fp_fakegrok01"
  }
  return { body, totalTokens }
}

/**
 * The `/v1/models` list.
 *
 * @since 0.1.0
 * @category constructors
 */
export const modelList = (models: ReadonlyArray<string>) => ({
  object: "list",
  data: models.map((id) => ({ id, object: "model", created: 1_735_689_600, owned_by: "xai" }))
})
