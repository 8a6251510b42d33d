/**
 * The two calls of a deferred completion as pipeline endpoints: the submission (`POST /chat/completions` with
 * `deferred: true`, answered with a `request_id`) and one poll (`GET /chat/deferred-completion/{id}`: 202 with an
 * empty body while pending, 200 with the completion, which xAI gives once).
 *
 * The submission is admitted by the rate limiter like any chat call, since xAI counts it against the chat limits
 * and it carries the prompt's tokens. A poll is not: it carries no tokens, its pace is set by the polling schedule,
 * and holding it behind a queue of synchronous calls would only delay collecting an answer that is already paid for.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as GrokApi from "../../GrokApi.js"
import * as GrokError from "../../GrokError.js"
import { type DeferredAck, decodeDeferredAck } from "../api/batches.js"
import type { Endpoint } from "../pipeline/endpoint.js"

/** The kind of the poll call in metrics and spans; its budget key, since a poll does not know its model. */
export const POLL_KIND = "deferred-poll"

const invalidRequest = (detail: string) => new GrokError.Validation({ reason: "InvalidRequest", detail })

/** The submission of a request that passed its schema. */
export const submitEndpoint = (
  baseUrl: string,
  valid: GrokApi.ChatRequest
): Effect.Effect<Endpoint<DeferredAck>, GrokError.Validation> =>
  HttpClientRequest.post(`${baseUrl}/chat/completions`).pipe(
    HttpClientRequest.acceptJson,
    HttpClientRequest.bodyJson({ ...valid, deferred: true }),
    Effect.mapBoth({
      onFailure: (error) => invalidRequest(`the request cannot be sent as JSON: ${error.reason._tag}`),
      onSuccess: (request) => ({
        kind: "chat-deferred",
        model: valid.model,
        estimatedTokens: GrokApi.estimateTokens(valid),
        admitted: true,
        request,
        decode: decodeDeferredAck,
        usage: () => undefined
      })
    })
  )

/** One poll: `None` while pending. */
export const pollEndpoint = (baseUrl: string, requestId: string): Endpoint<Option.Option<GrokApi.ChatCompletion>> => ({
  kind: POLL_KIND,
  model: POLL_KIND,
  estimatedTokens: 0,
  admitted: false,
  request: HttpClientRequest.get(`${baseUrl}/chat/deferred-completion/${encodeURIComponent(requestId)}`).pipe(
    HttpClientRequest.acceptJson
  ),
  decode: (json) => Either.map(GrokApi.decodeChatCompletion(json), Option.some),
  accept: (answer) => (answer.status === 202 ? Option.some(Option.none()) : Option.none()),
  usage: (completion) => Option.getOrUndefined(Option.flatMapNullable(completion, (c) => c.usage))
})
