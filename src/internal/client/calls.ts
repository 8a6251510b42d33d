/**
 * The methods of the GrokClient service, each a thin call of the pipeline with its endpoint descriptor: chat
 * (whole or streamed under the hood), chatStream, models, and the Responses API.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import type * as GrokApi from "../../GrokApi.js"
import type * as GrokError from "../../GrokError.js"
import * as Responses from "../api/responses.js"
import * as ChatEndpoints from "../endpoints/chat.js"
import * as ResponseEndpoints from "../endpoints/responses.js"
import * as Pipeline from "../pipeline/pipeline.js"
import { spannedEnding } from "../pipeline/span.js"
import { runCollected, runStream } from "../pipeline/stream.js"
import { collectChatStream } from "../stream/collectChat.js"
import { collectResponseStream } from "../stream/collectResponse.js"
import { sliced, slicedLazy } from "./timeSlice.js"

/** Call options of streamed calls: the longest silence between two bytes before `Transient(StreamStalled)`. */
export interface StreamOptions extends Pipeline.Settings {
  readonly idleTimeout?: Duration.DurationInput | undefined
}

export interface ChatOptions extends StreamOptions {
  /** Stream under the hood and collect: the idle timeout replaces one long attempt timeout. Default false. */
  readonly stream?: boolean | undefined
}

export interface ChatResult {
  readonly completion: GrokApi.ChatCompletion
  readonly content: string | null
  readonly usage: GrokApi.Usage | undefined
  readonly requestId: string | undefined
  readonly attempts: number
  /** The model that answered: the request's, or one of the fallback models. */
  readonly model: string
}

export interface ResponseResult {
  readonly response: Responses.Response
  /** Every `output_text` of the output, joined. */
  readonly text: string
  readonly usage: Responses.ResponseUsage | undefined
  readonly requestId: string | undefined
  readonly attempts: number
  /** The model that answered: the request's, or one of the fallback models. */
  readonly model: string
}

const chatResult = (result: Pipeline.Success<GrokApi.ChatCompletion>): ChatResult => ({
  completion: result.value,
  content: result.value.choices[0]?.message.content ?? null,
  usage: result.value.usage ?? undefined,
  requestId: result.requestId,
  attempts: result.attempts,
  model: result.model
})

const responseResult = (result: Pipeline.Success<Responses.Response>): ResponseResult => ({
  response: result.value,
  text: Responses.responseText(result.value),
  usage: result.value.usage ?? undefined,
  requestId: result.requestId,
  attempts: result.attempts,
  model: result.model
})

export const make = (client: Pipeline.Client, baseUrl: string, idleTimeout: Duration.DurationInput) => {
  const streamed = (options: StreamOptions) => ({ ...options, idleTimeout: options.idleTimeout ?? idleTimeout })

  const chat = (
    input: GrokApi.ChatRequest,
    options: ChatOptions = {}
  ): Effect.Effect<ChatResult, GrokError.GrokError> => slicedLazy(() => chatNow(input, options))

  const chatNow = (input: GrokApi.ChatRequest, options: ChatOptions): Effect.Effect<ChatResult, GrokError.GrokError> =>
    spannedEnding("grok.chat", { "grok.model": input.model }, (ending) => {
      // The request is checked and built at once, as plain values: an effect only for what runs.
      const valid = ChatEndpoints.validChat(input)
      if (Either.isLeft(valid)) return Effect.fail(valid.left)
      if (options.stream === true)
        return Effect.flatMap(ChatEndpoints.chatStream(baseUrl, valid.right), (endpoint) =>
          Effect.map(runCollected(client, endpoint, streamed(options), collectChatStream), chatResult)
        )
      const endpoint = ChatEndpoints.chat(baseUrl, valid.right)
      return Either.isLeft(endpoint)
        ? Effect.fail(endpoint.left)
        : Effect.map(Pipeline.run(client, endpoint.right, options, ending), chatResult)
    })

  const chatStream = (
    input: GrokApi.ChatRequest,
    options: StreamOptions = {}
  ): Stream.Stream<GrokApi.ChatCompletionChunk, GrokError.GrokError> =>
    Stream.unwrap(
      Effect.map(
        Effect.flatMap(ChatEndpoints.validChat(input), (valid) => ChatEndpoints.chatStream(baseUrl, valid)),
        (endpoint) => runStream(client, endpoint, streamed(options))
      )
    ).pipe(Stream.withSpan("grok.chatStream", { attributes: { "grok.model": input.model } }))

  const models = (options: Pipeline.Settings = {}) =>
    Pipeline.run(client, ChatEndpoints.models(baseUrl), options).pipe(
      Effect.map((result) => result.value),
      Effect.withSpan("grok.models"),
      sliced
    )

  const create = (
    input: Responses.ResponseRequest,
    options: ChatOptions = {}
  ): Effect.Effect<ResponseResult, GrokError.GrokError> =>
    Effect.flatMap(ResponseEndpoints.validRequest(input), (valid) =>
      options.stream === true
        ? Effect.flatMap(ResponseEndpoints.stream(baseUrl, valid), (endpoint) =>
            Effect.map(runCollected(client, endpoint, streamed(options), collectResponseStream), responseResult)
          )
        : Effect.flatMap(ResponseEndpoints.create(baseUrl, valid), (endpoint) =>
            Effect.map(Pipeline.run(client, endpoint, options), responseResult)
          )
    ).pipe(Effect.withSpan("grok.responses.create", { attributes: { "grok.model": input.model } }), sliced)

  const stream = (
    input: Responses.ResponseRequest,
    options: StreamOptions = {}
  ): Stream.Stream<Responses.ResponseEvent, GrokError.GrokError> =>
    Stream.unwrap(
      Effect.map(
        Effect.flatMap(ResponseEndpoints.validRequest(input), (valid) => ResponseEndpoints.stream(baseUrl, valid)),
        (endpoint) => runStream(client, endpoint, streamed(options))
      )
    ).pipe(Stream.withSpan("grok.responses.stream", { attributes: { "grok.model": input.model } }))

  const get = (id: string, options: Pipeline.Settings = {}) =>
    sliced(Effect.map(Pipeline.run(client, ResponseEndpoints.get(baseUrl, id), options), responseResult))

  const remove = (id: string, options: Pipeline.Settings = {}) =>
    sliced(Effect.map(Pipeline.run(client, ResponseEndpoints.remove(baseUrl, id), options), (result) => result.value))

  return { chat, chatStream, models, responses: { create, stream, get, delete: remove } }
}
