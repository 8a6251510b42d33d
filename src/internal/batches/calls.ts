/**
 * The Batch API calls over one `Pipeline.Client`: each is a pipeline run (retried, classified, measured), paged
 * lists are `Stream`s.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as GrokError from "../../GrokError.js"
import type * as Api from "../api/batches.js"
import type { Endpoint } from "../pipeline/endpoint.js"
import * as Pipeline from "../pipeline/pipeline.js"
import * as Endpoints from "./endpoints.js"
import { pages } from "./paging.js"
import { type BatchResult, resultOf } from "./results.js"

export interface Context {
  readonly client: Pipeline.Client
  readonly baseUrl: string
}

/** Paging settings: the pipeline's for every page, and the page size asked for. */
export interface PageOptions extends Pipeline.Settings {
  /** Items per page asked of the server (`limit`). Default: the server's. */
  readonly pageSize?: number | undefined
}

export const run = <A>(
  context: Context,
  endpoint: Endpoint<A>,
  settings: Pipeline.Settings
): Effect.Effect<A, GrokError.GrokError> =>
  Effect.map(Pipeline.run(context.client, endpoint, settings), (success) => success.value)

const settingsOf = ({ pageSize: _pageSize, ...settings }: PageOptions): Pipeline.Settings => settings

export const list = (context: Context, options: PageOptions = {}): Stream.Stream<Api.Batch, GrokError.GrokError> =>
  pages("batch", (token) =>
    Effect.map(
      run(context, Endpoints.list(context.baseUrl, { limit: options.pageSize, token }), settingsOf(options)),
      (page) => ({ items: page.batches, next: page.pagination_token })
    )
  )

export const requests = (
  context: Context,
  batchId: string,
  options: PageOptions = {}
): Stream.Stream<Api.BatchRequestMetadata, GrokError.GrokError> =>
  pages("batch request", (token) =>
    Effect.map(
      run(
        context,
        Endpoints.requests(context.baseUrl, batchId, { limit: options.pageSize, token }),
        settingsOf(options)
      ),
      (page) => ({ items: page.batch_request_metadata, next: page.pagination_token })
    )
  )

export const results = (
  context: Context,
  batchId: string,
  options: PageOptions = {}
): Stream.Stream<BatchResult, GrokError.GrokError> =>
  pages("batch result", (token) =>
    Effect.map(
      run(
        context,
        Endpoints.results(context.baseUrl, batchId, { limit: options.pageSize, token }),
        settingsOf(options)
      ),
      (page) => ({
        items: page.results.map((item) => resultOf(item, context.client.transport.secrets)),
        next: page.pagination_token
      })
    )
  )
