/**
 * What one kind of call is, for the pipeline: how to build its request, how to decode its answer, what it costs
 * and how its usage settles. Chat, models (and later streams, Responses, deferred and batch calls) are descriptors
 * run by the same stages.
 */
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Option from "effect/Option"
import type * as GrokApi from "../../GrokApi.js"
import type { Validation } from "../../GrokError.js"

export interface Endpoint<A> {
  /** Names the call in spans, metrics and error text: "chat", "models", … */
  readonly kind: string
  /** The budget key's model; "models" for calls that are not about a model. */
  readonly model: string
  /** Tokens reserved at admission before the answer says what was used. */
  readonly estimatedTokens: number
  /** Whether the rate limiter admits it (management calls that do not count toward the quota skip it). */
  readonly admitted: boolean
  /** The request without credentials: the attempt stage adds the key, so that a refreshed key is used. */
  readonly request: HttpClientRequest.HttpClientRequest
  readonly decode: (json: unknown) => Either.Either<A, unknown>
  /**
   * An answer this endpoint takes as a success before classification, which would refuse it: a 202 with an empty
   * body (a deferred completion still pending), a 200 with none (requests added to a batch).
   */
  readonly accept?: (answer: { readonly status: number; readonly body: string }) => Option.Option<A>
  /** Usage to settle the token reservation and the metrics with. */
  readonly usage: (value: A) => GrokApi.Usage | undefined
  /** The same call for another model, for fallback models; absent for calls that are not about a model. */
  readonly retarget?: (model: string) => Effect.Effect<Endpoint<A>, Validation>
}
