/**
 * Streamed calls on the same stages. An attempt is admitted, sent and retried like any call until its first item
 * arrives: a 429, a 503, a reset or a stall before it is judged by the retry stage, and nothing has reached the
 * consumer. After the first item nothing is replayed: a failure ends the stream with its typed error. The permit is
 * held until the stream ends, and the usage the stream carries settles it. The breaker judges an attempt by its
 * opening (its first items, or the failure before them), and a fallback model takes over only before them.
 */
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as GrokApi from "../../GrokApi.js"
import * as GrokError from "../../GrokError.js"
import * as RateLimitHeaders from "../../RateLimitHeaders.js"
import type * as RateLimiter from "../../RateLimiter.js"
import type { StreamAnswer } from "../stream/answer.js"
import { recordStream } from "../streamMetrics.js"
import { admit } from "./admission.js"
import * as Attempt from "./attempt.js"
import * as Breaker from "./breaker.js"
import { report } from "./feedback.js"
import * as Pipeline from "./pipeline.js"
import { retrying } from "./retry.js"

/** A streamed endpoint: like `Endpoint`, with a decoder of the body instead of a decoder of one JSON value. */
export interface StreamEndpoint<A> {
  readonly kind: string
  readonly model: string
  readonly estimatedTokens: number
  readonly admitted: boolean
  readonly request: HttpClientRequest.HttpClientRequest
  readonly decode: (
    body: Stream.Stream<Uint8Array, unknown>,
    answer: StreamAnswer
  ) => Stream.Stream<A, GrokError.GrokError>
  /** The usage an item carries (the last chunk of a chat stream, `response.completed`), if any. */
  readonly usage: (item: A) => GrokApi.Usage | undefined
  /** The same call for another model, for fallback models. */
  readonly retarget?: (model: string) => Effect.Effect<StreamEndpoint<A>, GrokError.Validation>
}

export interface StreamSettings extends Pipeline.Settings {
  readonly idleTimeout: Duration.DurationInput
}

type Pull<A> = Effect.Effect<Chunk.Chunk<A>, Option.Option<GrokError.GrokError>>

/** An attempt whose first items arrived: the rest is pulled by the consumer; `close` settles and frees it. */
interface Opened<A> {
  readonly requestId: string | undefined
  readonly first: Chunk.Chunk<A>
  readonly pull: Pull<A>
  readonly close: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
}

const ended = (answer: StreamAnswer) =>
  new GrokError.Transient({
    reason: "StreamCut",
    status: answer.status,
    detail: "the stream ended before its first item",
    ...(answer.requestId !== undefined ? { requestId: answer.requestId } : {})
  })

/** Pulls until a non-empty chunk: the stream's first items, or its failure. */
const pullFirst = <A>(pull: Pull<A>, answer: StreamAnswer): Effect.Effect<Chunk.Chunk<A>, GrokError.GrokError> =>
  Effect.flatMap(
    Effect.mapError(pull, (error) => Option.getOrElse(error, () => ended(answer))),
    (chunk) => (Chunk.isEmpty(chunk) ? pullFirst(pull, answer) : Effect.succeed(chunk))
  )

interface Attempting<A> {
  readonly client: Pipeline.Client
  readonly endpoint: StreamEndpoint<A>
  readonly limiter: RateLimiter.Service
  readonly ticket: RateLimiter.Ticket
  readonly timeout: Duration.DurationInput
  readonly idleTimeout: Duration.DurationInput
  /** The breaker pass of an attempt, computed when it starts. */
  readonly gate: Effect.Effect<Breaker.Gate>
  readonly used: Attempt.KeyUse
}

/** Tracks what the consumer received, for the usage settle and the stream metrics. */
const observer = <A>(endpoint: StreamEndpoint<A>, sentAt: number, firstAt: number) => {
  let usage: GrokApi.Usage | undefined
  const see = (chunk: Chunk.Chunk<A>) =>
    Chunk.forEach(chunk, (item) => {
      usage = endpoint.usage(item) ?? usage
    })
  return {
    see,
    usage: () => usage,
    record: Effect.flatMap(Clock.currentTimeMillis, (now) =>
      recordStream({ model: endpoint.model, firstItemMillis: firstAt - sentAt, streamMillis: now - firstAt, usage })
    )
  }
}

/** One attempt, opened up to its first items; every failure before them is reported and closes the attempt. */
const openOnce = <A>(ctx: Attempting<A>): Effect.Effect<Opened<A>, GrokError.GrokError> =>
  Effect.gen(function* () {
    const { client, endpoint } = ctx
    const scope = yield* Scope.make()
    const inScope = <B, E>(effect: Effect.Effect<B, E, Scope.Scope>) =>
      Scope.extend(effect, scope).pipe(Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))))
    const pass = yield* inScope(Effect.flatMap(ctx.gate, Breaker.enter))
    const permit = endpoint.admitted ? yield* inScope(admit(ctx.limiter, ctx.ticket)) : Pipeline.unlimitedPermit
    const sentAt = yield* Clock.currentTimeMillis
    let head: { status: number | undefined; requestId: string | undefined; info: RateLimitHeaders.RateLimitInfo } = {
      status: undefined,
      requestId: undefined,
      info: RateLimitHeaders.empty
    }
    const settle = (result: Either.Either<unknown, GrokError.GrokError>, usage: GrokApi.Usage | undefined) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        report({
          permit,
          exchange: { ...head, result },
          usage: () => usage,
          model: endpoint.model,
          durationMillis: now - sentAt
        })
      )
    const opening = Effect.gen(function* () {
      const transport = { ...client.transport, timeout: ctx.timeout }
      const response = yield* Scope.extend(Attempt.open(transport, endpoint.request, ctx.used), scope)
      const { info, requestId } = Attempt.headOf(response, yield* Clock.currentTimeMillis, client.transport.secrets)
      head = { status: response.status, requestId, info }
      const headers = response.headers
      const answer: StreamAnswer = {
        status: response.status,
        contentType: RateLimitHeaders.header(headers, "content-type"),
        requestId,
        headers,
        secrets: client.transport.secrets,
        idleTimeout: ctx.idleTimeout
      }
      const pull = yield* Scope.extend(Stream.toPull(endpoint.decode(response.stream, answer)), scope)
      return { pull, first: yield* pullFirst(pull, answer) }
    })
    const { first, pull } = yield* opening.pipe(
      Effect.tapError((error) => Effect.zipRight(settle(Either.left(error), undefined), Breaker.judge(pass, error))),
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
    )
    yield* Breaker.judge(pass)
    const seen = observer(endpoint, sentAt, yield* Clock.currentTimeMillis)
    seen.see(first)
    return {
      requestId: head.requestId,
      first,
      pull: Effect.tap(pull, (chunk) => Effect.sync(() => seen.see(chunk))),
      close: (exit) => {
        const failure = Exit.isFailure(exit)
          ? Option.filter(Cause.failureOption(exit.cause), GrokError.isGrokError)
          : Option.none()
        const result = Exit.isSuccess(exit)
          ? Either.right(undefined)
          : Either.left(Option.getOrElse(failure, () => interrupted))
        return Effect.all([settle(result, seen.usage()), Exit.isSuccess(exit) ? seen.record : Effect.void], {
          discard: true
        }).pipe(Effect.ensuring(Scope.close(scope, exit)))
      }
    } satisfies Opened<A>
  })

const interrupted = new GrokError.Transient({ reason: "StreamCut", detail: "the consumer stopped reading" })

/** Runs `perAttempt` under the outer stages and the retry stage, and records the call. */
const attempting = <A, B>(
  client: Pipeline.Client,
  endpoint: StreamEndpoint<A>,
  call: StreamSettings,
  perAttempt: (ctx: Attempting<A>) => Effect.Effect<B, GrokError.GrokError>
): Effect.Effect<{ readonly value: B; readonly attempts: number; readonly model: string }, GrokError.GrokError> =>
  Effect.gen(function* () {
    const prepared = yield* Pipeline.prepare(client, endpoint.model, call)
    const { limiter, timeout, used } = prepared
    const models = Pipeline.modelsOf(client, call, endpoint.model, endpoint.retarget !== undefined)
    const onModel = (model: string, fallbackNext: boolean) =>
      Effect.gen(function* () {
        const target =
          model === endpoint.model || endpoint.retarget === undefined ? endpoint : yield* endpoint.retarget(model)
        const ticket = yield* Pipeline.ticketOf(prepared, call, target)
        const gate = Pipeline.gateOf(client, prepared, model, fallbackNext)
        const ctx: Attempting<A> = {
          client,
          endpoint: target,
          limiter,
          ticket,
          timeout,
          idleTimeout: call.idleTimeout,
          gate,
          used
        }
        return yield* retrying(Pipeline.retryOptions(client, prepared, model), (n) =>
          perAttempt(ctx).pipe(
            Effect.withSpan("grok.attempt", {
              attributes: { "grok.model": model, "grok.call": endpoint.kind, "grok.attempt": n },
              // The call site would be this file, never the caller's: not worth an Error and its stack per attempt.
              captureStackTrace: false
            })
          )
        )
      })
    const value = yield* Pipeline.finish(client, prepared, Pipeline.outer(client, prepared, models, onModel))
    return { value, attempts: prepared.progress.attempts, model: prepared.model }
  })

const itemsOf = <A>(open: Opened<A>): Stream.Stream<A, GrokError.GrokError> =>
  Stream.concat(Stream.fromChunk(open.first), Stream.repeatEffectChunkOption(open.pull))

/** A streamed call: retried until its first items, then each item as it arrives. */
export const runStream = <A>(
  client: Pipeline.Client,
  endpoint: StreamEndpoint<A>,
  call: StreamSettings
): Stream.Stream<A, GrokError.GrokError> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const { value: open } = yield* attempting(client, endpoint, call, openOnce)
      yield* Effect.addFinalizer((exit) => open.close(exit))
      return itemsOf(open)
    })
  )

/**
 * A streamed call consumed whole inside each attempt and folded with `collect`: nothing reaches the caller before
 * the end, so a failure mid-stream is retried whole by the policy.
 */
export const runCollected = <A, B>(
  client: Pipeline.Client,
  endpoint: StreamEndpoint<A>,
  call: StreamSettings,
  collect: (items: Stream.Stream<A, GrokError.GrokError>) => Effect.Effect<B, GrokError.GrokError>
): Effect.Effect<Pipeline.Success<B>, GrokError.GrokError> =>
  Effect.map(
    attempting(client, endpoint, call, (ctx) =>
      Effect.acquireUseRelease(
        openOnce(ctx),
        (open) => Effect.map(collect(itemsOf(open)), (value) => ({ value, requestId: open.requestId })),
        (open, exit) => open.close(exit)
      )
    ),
    ({ attempts, model, value }) => ({ ...value, attempts, model })
  )
