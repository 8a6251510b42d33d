/** The Responses API endpoints (`/v1/responses`) as pipeline descriptors. */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type * as GrokApi from "../../GrokApi.js"
import type * as GrokError from "../../GrokError.js"
import * as Responses from "../api/responses.js"
import type { Endpoint } from "../pipeline/endpoint.js"
import type { StreamEndpoint } from "../pipeline/stream.js"
import { decodeResponseStream } from "../stream/responseStream.js"
import { invalidRequest, postJson } from "./chat.js"

/** Output tokens assumed when the request sets no `max_output_tokens`, for the admission estimate. */
const DEFAULT_OUTPUT_ESTIMATE = 1024

const inputChars = (input: Responses.ResponseRequest["input"]): number =>
  typeof input === "string" ? input.length : JSON.stringify(input).length

/** A rough token estimate (4 characters a token), as for chat. */
export const estimateTokens = (request: Responses.ResponseRequest): number =>
  Math.ceil((inputChars(request.input) + (request.instructions?.length ?? 0)) / 4) +
  (request.max_output_tokens ?? DEFAULT_OUTPUT_ESTIMATE)

/** The usage of a response in chat's terms, so that the limiter and the metrics settle it the same way. */
const chatUsageOf = (usage: Responses.ResponseUsage | null | undefined): GrokApi.Usage | undefined => {
  if (usage === null || usage === undefined) return undefined
  const summary = Responses.responseUsageSummary(usage)
  return {
    prompt_tokens: summary.prompt,
    completion_tokens: summary.completion,
    total_tokens: summary.total,
    prompt_tokens_details: { cached_tokens: summary.cached },
    completion_tokens_details: { reasoning_tokens: summary.reasoning },
    ...(usage.cost_in_usd_ticks !== undefined ? { cost_in_usd_ticks: usage.cost_in_usd_ticks } : {})
  }
}

export const validRequest = (
  input: Responses.ResponseRequest
): Effect.Effect<Responses.ResponseRequest, GrokError.Validation> =>
  Either.mapLeft(Responses.decodeResponseRequest(input), (issue) => invalidRequest(issue.message.slice(0, 2000)))

export const create = (
  baseUrl: string,
  valid: Responses.ResponseRequest
): Effect.Effect<Endpoint<Responses.Response>, GrokError.Validation> =>
  Either.map(postJson(`${baseUrl}/responses`, { ...valid, stream: false }), (request) => ({
    kind: "responses.create",
    model: valid.model,
    estimatedTokens: estimateTokens(valid),
    admitted: true,
    request,
    decode: Responses.decodeResponse,
    usage: (response: Responses.Response) => chatUsageOf(response.usage),
    retarget: (model: string) => create(baseUrl, { ...valid, model })
  }))

export const stream = (
  baseUrl: string,
  valid: Responses.ResponseRequest
): Effect.Effect<StreamEndpoint<Responses.ResponseEvent>, GrokError.Validation> =>
  Either.map(postJson(`${baseUrl}/responses`, { ...valid, stream: true }), (request) => ({
    kind: "responses.stream",
    model: valid.model,
    estimatedTokens: estimateTokens(valid),
    admitted: true,
    request: HttpClientRequest.setHeader(request, "accept", "text/event-stream"),
    decode: decodeResponseStream,
    usage: (event: Responses.ResponseEvent) => {
      const response = (event as { readonly response?: { readonly usage?: Responses.ResponseUsage | null } }).response
      return Responses.terminalTypes.has(event.type) ? chatUsageOf(response?.usage) : undefined
    },
    retarget: (model: string) => stream(baseUrl, { ...valid, model })
  }))

/** A stored response, by id; management calls do not count toward the model's quota. */
export const get = (baseUrl: string, id: string): Endpoint<Responses.Response> => ({
  kind: "responses.get",
  model: "responses",
  estimatedTokens: 0,
  admitted: false,
  request: HttpClientRequest.get(`${baseUrl}/responses/${encodeURIComponent(id)}`).pipe(HttpClientRequest.acceptJson),
  decode: Responses.decodeResponse,
  usage: () => undefined
})

const Deleted = Schema.Struct(
  { id: Schema.String, deleted: Schema.Boolean },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)

/** What deleting a stored response answers. */
type Deleted = typeof Deleted.Type

export const remove = (baseUrl: string, id: string): Endpoint<Deleted> => ({
  kind: "responses.delete",
  model: "responses",
  estimatedTokens: 0,
  admitted: false,
  request: HttpClientRequest.del(`${baseUrl}/responses/${encodeURIComponent(id)}`).pipe(HttpClientRequest.acceptJson),
  decode: Schema.decodeUnknownEither(Deleted),
  usage: () => undefined
})
