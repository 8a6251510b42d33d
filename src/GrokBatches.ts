/**
 * The xAI Batch API: run large jobs at batch prices without spending the per-minute rate limits. Create a batch,
 * add requests (chunked under the server's limits, never twice), watch it, and page its results as a `Stream`.
 * Every call goes through the same pipeline as `GrokClient`: retries, typed errors, metrics and spans.
 *
 * @since 0.2.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Stream from "effect/Stream"
import type * as GrokApi from "./GrokApi.js"
import * as GrokClient from "./GrokClient.js"
import type * as GrokError from "./GrokError.js"
import * as Add from "./internal/batches/add.js"
import * as Calls from "./internal/batches/calls.js"
import * as Endpoints from "./internal/batches/endpoints.js"
import type * as Results from "./internal/batches/results.js"
import * as Watch from "./internal/batches/watch.js"
import { baseUrlOf, makeClient } from "./internal/pipeline/client.js"
import type { Endpoint } from "./internal/pipeline/endpoint.js"

/**
 * The client's options: the same as `GrokClient`'s (key, base URL, retry policy, timeouts, answer size cap).
 *
 * @since 0.2.0
 * @category models
 */
export type Options = GrokClient.Options

/**
 * Per-call settings of one management call; each overrides the client's.
 *
 * @since 0.2.0
 * @category models
 */
export type CallOptions = GrokClient.CallOptions

/** Requests to add, add settings and what an add did. @since 0.2.0 @category models */
export type { AddOptions, Added, BatchRequest } from "./internal/batches/add.js"
/** Paging settings of `list`, `requests` and `results`. @since 0.2.0 @category models */
export type { PageOptions } from "./internal/batches/calls.js"
/** One result: `Succeeded` with the completion, or `Failed` with a typed error. @since 0.2.0 @category models */
export type { BatchResult, Failed, Succeeded } from "./internal/batches/results.js"
/** Settings of `watch` and `wait`: polling `schedule`, `maxWait`. @since 0.2.0 @category models */
export type { WatchOptions } from "./internal/batches/watch.js"
/** Whether a batch is done: requests and none pending, or ended with none pending. @since 0.2.0 @category guards */
export { isFinished } from "./internal/batches/watch.js"
/** Default looks of `watch` and `wait`: 1 s ×1.5 up to 30 s, jittered. @since 0.2.0 @category constants */
export { DEFAULT_WATCH_SCHEDULE as watchPolling } from "./internal/batches/watch.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface Service {
  /** Creates an empty batch named `name`. */
  readonly create: (name: string, options?: CallOptions) => Effect.Effect<GrokApi.Batch, GrokError.GrokError>
  readonly get: (batchId: string, options?: CallOptions) => Effect.Effect<GrokApi.Batch, GrokError.GrokError>
  /** Every batch of the team, newest first, paged as the stream is pulled. */
  readonly list: (options?: Calls.PageOptions) => Stream.Stream<GrokApi.Batch, GrokError.GrokError>
  /** Cancels what is still pending; finished results stay. */
  readonly cancel: (batchId: string, options?: CallOptions) => Effect.Effect<GrokApi.Batch, GrokError.GrokError>
  /** Adds requests in chunks; a chunk whose fate is unknown is reconciled with the batch before it is resent. */
  readonly add: (
    batchId: string,
    requests: Iterable<Add.BatchRequest>,
    options?: Add.AddOptions
  ) => Effect.Effect<Add.Added, GrokError.GrokError>
  /** What the server holds of each added request (id, model, state). */
  readonly requests: (
    batchId: string,
    options?: Calls.PageOptions
  ) => Stream.Stream<GrokApi.BatchRequestMetadata, GrokError.GrokError>
  /** The results so far, in the server's order. */
  readonly results: (
    batchId: string,
    options?: Calls.PageOptions
  ) => Stream.Stream<Results.BatchResult, GrokError.GrokError>
  /** The batch's state now, then on a jittered schedule until it is finished (`isFinished`). */
  readonly watch: (batchId: string, options?: Watch.WatchOptions) => Stream.Stream<GrokApi.Batch, GrokError.GrokError>
  /** The batch once it is finished. */
  readonly wait: (batchId: string, options?: Watch.WatchOptions) => Effect.Effect<GrokApi.Batch, GrokError.GrokError>
}

/**
 * @since 0.2.0
 * @category tags
 */
export class GrokBatches extends Context.Tag("grok-resilience/GrokBatches")<GrokBatches, Service>() {}

/**
 * Builds the service over an `HttpClient` (use `FetchHttpClient.layer`), like `GrokClient.make`. Batch calls are
 * not admitted by the `RateLimiter`: xAI does not count them toward the per-minute limits.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, never, HttpClient.HttpClient> =>
  Effect.map(makeClient(options), (client) => {
    const context: Calls.Context = { client, baseUrl: baseUrlOf(options) }
    const call = <A>(endpoint: Endpoint<A>, settings: CallOptions = {}) => Calls.run(context, endpoint, settings)
    return GrokBatches.of({
      create: (name, settings) =>
        call(Endpoints.create(context.baseUrl, name), settings).pipe(Effect.withSpan("grok.batch.create")),
      get: (batchId, settings) => call(Endpoints.get(context.baseUrl, batchId), settings),
      list: (settings) => Calls.list(context, settings),
      cancel: (batchId, settings) =>
        call(Endpoints.cancel(context.baseUrl, batchId), settings).pipe(
          Effect.withSpan("grok.batch.cancel", { attributes: { "grok.batch_id": batchId } })
        ),
      add: (batchId, requests, settings) => Add.add(context, batchId, requests, settings),
      requests: (batchId, settings) => Calls.requests(context, batchId, settings),
      results: (batchId, settings) => Calls.results(context, batchId, settings),
      watch: (batchId, settings) => Watch.watch(context, batchId, settings),
      wait: (batchId, settings) => Watch.wait(context, batchId, settings)
    })
  })

/**
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, Layer, Redacted, Stream } from "effect"
 * import { GrokBatches } from "grok-resilience"
 *
 * const BatchesLive = GrokBatches.layer({ apiKey: Redacted.make(process.env.XAI_API_KEY ?? "") }).pipe(
 *   Layer.provide(FetchHttpClient.layer)
 * )
 *
 * const program = Effect.gen(function* () {
 *   const batches = yield* GrokBatches.GrokBatches
 *   const batch = yield* batches.create("nightly summaries")
 *   yield* batches.add(batch.batch_id, [
 *     { id: "doc-1", request: { model: "grok-4", messages: [{ role: "user", content: "Summarise ..." }] } }
 *   ])
 *   yield* batches.wait(batch.batch_id)
 *   return yield* Stream.runCollect(batches.results(batch.batch_id))
 * }).pipe(Effect.provide(BatchesLive))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<GrokBatches, never, HttpClient.HttpClient> =>
  Layer.effect(GrokBatches, make(options))

/**
 * The client with each option read from a `Config`, as `GrokClient.layerConfig`: `apiKey` from `XAI_API_KEY`
 * (required), `baseUrl` from `XAI_BASE_URL` (default `https://api.x.ai/v1`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Partial<Options>> = {}
): Layer.Layer<GrokBatches, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    GrokBatches,
    Effect.gen(function* () {
      // `Config.unwrap` of an empty struct throws in effect 3.22: nothing to read then.
      const given: Partial<Options> =
        Config.isConfig(options) || Object.keys(options).length > 0 ? yield* Config.unwrap(options) : {}
      const apiKey = given.apiKey ?? (yield* GrokClient.apiKeyConfig())
      const baseUrl =
        given.baseUrl ?? (yield* Config.string("XAI_BASE_URL").pipe(Config.withDefault(GrokClient.DEFAULT_BASE_URL)))
      return yield* make({ ...given, apiKey, baseUrl })
    })
  )
