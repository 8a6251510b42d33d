/**
 * xAI's error bodies as the fake Grok server sends them: the gRPC-style `{"code", "error"}` form, the OpenAI-style
 * form for malformed requests, and the error events of a broken stream.
 */

/**
 * The team id xAI error messages name.
 */
export const TEAM_ID = "00000000-0000-0000-0000-000000000000"

/**
 * xAI's `{"code", "error"}` body.
 */
export interface CodeBody {
  readonly code: string
  readonly error: string
}

/** gRPC status descriptions, which xAI sends as `code`. */
export const Code = {
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
 */
export const maskKey = (key: string): string => (key.length <= 4 ? "***" : `${key.slice(0, 2)}***${key.slice(-2)}`)

/**
 * xAI's 400 for a wrong API key, or for none at all.
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
 */
export const creditsExhausted = (status: 429 | 403): CodeBody => ({
  code: status === 403 ? "permission-denied" : Code.exhausted,
  error:
    `Your team ${TEAM_ID} has either used all available credits or reached its monthly spending limit. ` +
    "To continue making API requests, please purchase more credits or raise your spending limit."
})

/**
 * Which limit a 429 names.
 */
export interface LimitHit {
  readonly kind: "requests" | "tokens"
  readonly per: "Second" | "Minute"
  readonly actual: number
  readonly limit: number
}

/**
 * xAI's 429 body, naming the limit (`limitInBody`) or generic.
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
 */
export const errorWith200: CodeBody = { code: Code.unavailable, error: "Timed out waiting for first token" }

/**
 * An xAI-style body for any error status.
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
 */
export const noSuchPath = (method: string, path: string): CodeBody => ({
  code: Code.notFound,
  error: `No route for ${method} ${path}.`
})

/**
 * The OpenAI-style 400 for a request that is not valid JSON or misses required fields.
 */
export const invalidRequest = (message: string) => ({
  error: { message, type: "invalid_request_error", code: "invalid_value" }
})

/**
 * The HTML page a proxy sends for a 502.
 */
export const badGatewayHtml =
  "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n" +
  "<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>cloudflare</center>\n</body>\n</html>\n"

/** The 404 for a stored response that does not exist (never stored, deleted, or evicted). */
export const noSuchResponse = (id: string): CodeBody => ({
  code: Code.notFound,
  error: `Response with id ${id} not found.`
})

/** The 404 for a deferred completion that is unknown, expired, or already collected. */
export const noSuchDeferred = (id: string): CodeBody => ({
  code: Code.notFound,
  error: `Deferred completion with request id ${id} not found. It may have expired or already been retrieved.`
})

/** The `data:` payload of an error that breaks a chat stream: xAI's `{"code", "error"}` body. */
export const streamError: CodeBody = {
  code: Code.unavailable,
  error: "The model server stopped while streaming the response. Please try again."
}

/** The payload of a Responses `error` event (`sequence_number` is added by the stream). */
export const responsesStreamError = {
  type: "error",
  code: Code.unavailable,
  message: streamError.error,
  param: null
} as const
