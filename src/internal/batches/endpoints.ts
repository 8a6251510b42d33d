/**
 * The Batch API calls as pipeline endpoints. None is admitted by the rate limiter: xAI does not count batch
 * requests toward the per-minute limits, and the management calls have limits of their own (one creation per second,
 * 100 add calls per 30 s) that the server enforces with 429s, which the retry stage honours. Charging them to the
 * synchronous budget would slow chat calls for nothing and queue a cheap status check behind them.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Api from "../api/batches.js"
import type { Endpoint } from "../pipeline/endpoint.js"

/** The budget key and metrics label of every Batch API call. */
export const BATCHES = "batches"

export interface Page {
  readonly limit?: number | undefined
  readonly token?: string | undefined
}

const endpoint = <A>(
  kind: string,
  request: HttpClientRequest.HttpClientRequest,
  decode: (json: unknown) => Either.Either<A, unknown>
): Endpoint<A> => ({
  kind,
  model: BATCHES,
  estimatedTokens: 0,
  admitted: false,
  request: HttpClientRequest.acceptJson(request),
  decode,
  usage: () => undefined
})

const path = (baseUrl: string, batchId: string, rest = "") => `${baseUrl}/batches/${encodeURIComponent(batchId)}${rest}`

const paged = (request: HttpClientRequest.HttpClientRequest, page: Page) =>
  HttpClientRequest.setUrlParams(request, {
    ...(page.limit !== undefined ? { limit: String(page.limit) } : {}),
    ...(page.token !== undefined ? { pagination_token: page.token } : {})
  })

export const create = (baseUrl: string, name: string): Endpoint<Api.Batch> =>
  endpoint(
    "batch-create",
    HttpClientRequest.bodyText(
      HttpClientRequest.post(`${baseUrl}/batches`),
      JSON.stringify({ name }),
      "application/json"
    ),
    Api.decodeBatch
  )

export const get = (baseUrl: string, batchId: string): Endpoint<Api.Batch> =>
  endpoint("batch-get", HttpClientRequest.get(path(baseUrl, batchId)), Api.decodeBatch)

export const cancel = (baseUrl: string, batchId: string): Endpoint<Api.Batch> =>
  endpoint("batch-cancel", HttpClientRequest.post(path(baseUrl, batchId, ":cancel")), Api.decodeBatch)

export const list = (baseUrl: string, page: Page): Endpoint<Api.BatchList> =>
  endpoint("batch-list", paged(HttpClientRequest.get(`${baseUrl}/batches`), page), Api.decodeBatchList)

export const requests = (baseUrl: string, batchId: string, page: Page): Endpoint<Api.BatchRequestMetadataList> =>
  endpoint(
    "batch-requests",
    paged(HttpClientRequest.get(path(baseUrl, batchId, "/requests")), page),
    Api.decodeBatchRequestMetadataList
  )

export const results = (baseUrl: string, batchId: string, page: Page): Endpoint<Api.BatchResultList> =>
  endpoint(
    "batch-results",
    paged(HttpClientRequest.get(path(baseUrl, batchId, "/results")), page),
    Api.decodeBatchResultList
  )

/** Adds requests already encoded as `{"batch_requests": [...]}`. Any JSON answer, or none, is a success. */
export const add = (baseUrl: string, batchId: string, body: string): Endpoint<void> => ({
  ...endpoint<void>(
    "batch-add",
    HttpClientRequest.bodyText(HttpClientRequest.post(path(baseUrl, batchId, "/requests")), body, "application/json"),
    () => Either.right(undefined)
  ),
  accept: (answer) =>
    answer.status >= 200 && answer.status <= 299 && answer.body.trim() === "" ? Option.some(undefined) : Option.none()
})
