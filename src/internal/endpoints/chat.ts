/** The chat and models endpoints as pipeline descriptors: whole answers and streams of chunks. */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as GrokApi from "../../GrokApi.js"
import * as GrokError from "../../GrokError.js"
import type { Endpoint } from "../pipeline/endpoint.js"
import type { StreamEndpoint } from "../pipeline/stream.js"
import { decodeChatStream } from "../stream/chatStream.js"

export const invalidRequest = (detail: string) => new GrokError.Validation({ reason: "InvalidRequest", detail })

/** The request checked against its schema (unknown fields pass untouched). */
export const validChat = (input: GrokApi.ChatRequest): Either.Either<GrokApi.ChatRequest, GrokError.Validation> =>
  Either.mapLeft(GrokApi.decodeChatRequest(input), (issue) => invalidRequest(issue.message.slice(0, 2000)))

/** A JSON POST; a body JSON cannot encode (a BigInt, a cycle) is a typed error, not a crash. Built at once. */
export const postJson = (
  url: string,
  body: unknown
): Either.Either<HttpClientRequest.HttpClientRequest, GrokError.Validation> => {
  const request = HttpClientRequest.acceptJson(HttpClientRequest.post(url))
  try {
    return Either.right(HttpClientRequest.bodyUnsafeJson(request, body))
  } catch {
    return Either.left(invalidRequest("the request cannot be sent as JSON: JsonError"))
  }
}

export const chat = (
  baseUrl: string,
  valid: GrokApi.ChatRequest
): Either.Either<Endpoint<GrokApi.ChatCompletion>, GrokError.Validation> =>
  Either.map(postJson(`${baseUrl}/chat/completions`, { ...valid, stream: false }), (request) => ({
    kind: "chat",
    model: valid.model,
    estimatedTokens: GrokApi.estimateTokens(valid),
    admitted: true,
    request,
    decode: GrokApi.decodeChatCompletion,
    usage: (completion: GrokApi.ChatCompletion) => completion.usage ?? undefined,
    retarget: (model: string) => chat(baseUrl, { ...valid, model })
  }))

export const chatStream = (
  baseUrl: string,
  valid: GrokApi.ChatRequest
): Effect.Effect<StreamEndpoint<GrokApi.ChatCompletionChunk>, GrokError.Validation> =>
  Either.map(postJson(`${baseUrl}/chat/completions`, { ...valid, stream: true }), (request) => ({
    kind: "chat.stream",
    model: valid.model,
    estimatedTokens: GrokApi.estimateTokens(valid),
    admitted: true,
    request: HttpClientRequest.setHeader(request, "accept", "text/event-stream"),
    decode: decodeChatStream,
    usage: (chunk: GrokApi.ChatCompletionChunk) => chunk.usage ?? undefined,
    retarget: (model: string) => chatStream(baseUrl, { ...valid, model })
  }))

export const models = (baseUrl: string): Endpoint<GrokApi.ModelList> => ({
  kind: "models",
  model: "models",
  estimatedTokens: 0,
  admitted: true,
  request: HttpClientRequest.get(`${baseUrl}/models`).pipe(HttpClientRequest.acceptJson),
  decode: GrokApi.decodeModelList,
  usage: () => undefined
})
