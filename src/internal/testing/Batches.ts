/**
 * The fake xAI Batch API, as pure answer functions over `BatchState`: create, get, list, cancel, add requests,
 * list requests and page results, with xAI's wire shapes. Requests finish some time after they are added and a
 * share of them fail (`BatchOptions`). It reads no clock and draws no randomness of its own: the front end passes
 * the time and the PRNG in, so the socket and the in-process front ends answer alike.
 */
import type { Answer } from "./Answer.js"
import { json, jsonText } from "./Answer.js"
import * as S from "./BatchState.js"
import * as Chat from "./Chat.js"
import * as Errors from "./Errors.js"

export type { BatchOptions, Complete } from "./BatchState.js"

/** One request, as the Batch API sees it. */
export interface BatchIncoming {
  readonly method: string
  /** The path without query, e.g. `/v1/batches/batch_1/results`. */
  readonly path: string
  /** The query string, with or without its `?`. */
  readonly query: string
  readonly body: string
}

export interface Clock {
  /** Monotonic milliseconds: finish times are measured on it. */
  readonly nowMillis: number
  /** Milliseconds since the epoch, for `create_time` and the other timestamps. */
  readonly wallMillis: number
}

/** The answer: a status and a JSON body. */
export interface BatchAnswer {
  readonly status: number
  readonly body: string
}

const answer = (status: number, body: unknown): BatchAnswer => ({ status, body: JSON.stringify(body) })
const invalid = (message: string) => answer(400, { code: "Client specified an invalid argument", error: message })
const notFound = (message: string) => answer(404, { code: "Some requested entity was not found", error: message })
const iso = (wallMillis: number | undefined) => (wallMillis === undefined ? null : new Date(wallMillis).toISOString())

const DAY_MILLIS = 24 * 3600 * 1000
/** Longest `batch_request_id` the fake accepts. */
const MAX_REQUEST_ID = 256

const batchJson = (batch: S.Batch) => ({
  batch_id: batch.id,
  name: batch.name,
  create_time: iso(batch.createdWall),
  expire_time: iso(batch.createdWall + DAY_MILLIS),
  create_api_key_id: "fake-api-key",
  cancel_time: iso(batch.cancelledWall),
  cancel_by_xai_message: null,
  state: S.counters(batch)
})

const parseBody = (body: string): unknown => {
  try {
    return JSON.parse(body)
  } catch {
    return undefined
  }
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** The page `query` asks for: an offset from its `pagination_token` and a size from its `limit`. */
const pageOf = (state: S.State, query: string, scope: string): { offset: number; size: number } | string => {
  const params = new URLSearchParams(query)
  const limitText = params.get("limit")
  const limit = limitText === null ? state.options.pageSize : Number(limitText)
  if (!Number.isInteger(limit) || limit < 1) return `limit must be a positive integer, got "${limitText}"`
  const token = params.get("pagination_token")
  if (token === null || token === "") return { offset: 0, size: Math.min(limit, state.options.maxPageSize) }
  const match = /^([a-z]+):(\d{1,9})$/.exec(token)
  if (match === null || match[1] !== scope) return "invalid pagination_token"
  return { offset: Number(match[2]), size: Math.min(limit, state.options.maxPageSize) }
}

const paged = <A>(
  state: S.State,
  query: string,
  scope: string,
  items: ReadonlyArray<A>,
  render: (items: ReadonlyArray<A>, token: string | null) => unknown
): BatchAnswer => {
  const page = pageOf(state, query, scope)
  if (typeof page === "string") return invalid(page)
  const end = page.offset + page.size
  return answer(200, render(items.slice(page.offset, end), end < items.length ? `${scope}:${end}` : null))
}

const create = (state: S.State, body: string, clock: Clock, random: () => number): BatchAnswer => {
  const parsed = parseBody(body)
  if (!isRecord(parsed) || typeof parsed.name !== "string" || parsed.name.trim() === "") {
    return invalid('A batch needs a name: send {"name": "..."}.')
  }
  if (state.batches.size >= S.MAX_BATCHES) return invalid(`The fake keeps at most ${S.MAX_BATCHES} batches.`)
  const batch: S.Batch = {
    id: S.nextBatchId(state, random),
    name: parsed.name.slice(0, 1000),
    createdWall: clock.wallMillis,
    items: new Map(),
    added: [],
    pending: [],
    finished: [],
    counts: { success: 0, error: 0, cancelled: 0 }
  }
  state.batches.set(batch.id, batch)
  state.order.unshift(batch)
  return answer(200, batchJson(batch))
}

type Checked = { readonly id: string; readonly model: string; readonly request: unknown }

/** Checks one entry of `batch_requests`: an id and a chat request. */
const checkEntry = (entry: unknown, index: number): Checked | string => {
  if (!isRecord(entry)) return `batch_requests[${index}] must be an object`
  const id = entry.batch_request_id
  if (typeof id !== "string" || id === "" || id.length > MAX_REQUEST_ID) {
    return `batch_requests[${index}].batch_request_id must be a string of 1 to ${MAX_REQUEST_ID} characters`
  }
  const request = isRecord(entry.batch_request) ? entry.batch_request.chat_get_completion : undefined
  if (!isRecord(request)) return `batch_requests[${index}].batch_request.chat_get_completion must be an object`
  if (typeof request.model !== "string" || request.model === "") return `batch_requests[${index}]: missing model`
  return { id, model: request.model, request }
}

/** Checks a whole add call; it is applied all or nothing. */
const checkAdd = (state: S.State, batch: S.Batch, body: string): ReadonlyArray<Checked> | BatchAnswer => {
  if (body.length > state.options.maxAddBytes) {
    return answer(413, {
      code: "Payload too large",
      error: `An add call may carry ${state.options.maxAddBytes} bytes.`
    })
  }
  if (batch.cancelledWall !== undefined) return invalid(`Batch ${batch.id} is cancelled: no requests can be added.`)
  const parsed = parseBody(body)
  const entries = isRecord(parsed) ? parsed.batch_requests : undefined
  if (!Array.isArray(entries) || entries.length === 0) return invalid("batch_requests must be a non-empty array.")
  if (entries.length > state.options.maxRequestsPerAdd) {
    return invalid(`At most ${state.options.maxRequestsPerAdd} requests per add call, got ${entries.length}.`)
  }
  if (state.requests + entries.length > S.MAX_REQUESTS)
    return invalid(`The fake keeps at most ${S.MAX_REQUESTS} requests.`)
  const checked: Array<Checked> = []
  const seen = new Set<string>()
  const repeated: Array<string> = []
  for (const [index, entry] of entries.entries()) {
    const result = checkEntry(entry, index)
    if (typeof result === "string") return invalid(result)
    if (seen.has(result.id) || batch.items.has(result.id)) repeated.push(result.id)
    seen.add(result.id)
    checked.push(result)
  }
  if (repeated.length > 0) {
    const named = repeated.slice(0, 5).join(", ")
    return invalid(`batch_request_id must be unique within the batch; already present: ${named}`)
  }
  return checked
}

const add = (state: S.State, batch: S.Batch, body: string, clock: Clock, random: () => number): BatchAnswer => {
  const checked = checkAdd(state, batch, body)
  if ("status" in checked) return checked
  S.addItems(state, batch, checked, clock, random)
  return answer(200, {})
}

const metadata = (item: S.Item) => ({
  batch_request_id: item.id,
  endpoint: "/v1/chat/completions",
  model: item.model,
  state: item.state,
  create_time: iso(item.addedWall),
  finish_time: iso(item.finishedWall)
})

/** `/v1/batches/{id}`, `/v1/batches/{id}:cancel`, `/v1/batches/{id}/requests`, `/v1/batches/{id}/results`. */
const parsePath = (path: string): { readonly id: string; readonly rest: string } | undefined => {
  const match = /^\/v1\/batches\/([^/:]+)(:cancel|\/requests|\/results)?$/.exec(path)
  if (match === null) return undefined
  let id = match[1]!
  try {
    id = decodeURIComponent(id)
  } catch {
    // An id that is not valid percent-encoding is looked up as sent, and not found.
  }
  return { id, rest: match[2] ?? "" }
}

const onBatch = (
  state: S.State,
  batch: S.Batch,
  request: BatchIncoming,
  rest: string,
  clock: Clock,
  random: () => number
) => {
  const { method } = request
  if (method === "GET" && rest === "") return answer(200, batchJson(batch))
  if (method === "POST" && rest === ":cancel") {
    S.cancel(batch, clock.wallMillis)
    return answer(200, batchJson(batch))
  }
  if (method === "POST" && rest === "/requests") return add(state, batch, request.body, clock, random)
  if (method === "GET" && rest === "/requests") {
    return paged(state, request.query, "requests", batch.added, (items, token) => ({
      batch_request_metadata: items.map(metadata),
      pagination_token: token
    }))
  }
  if (method === "GET" && rest === "/results") {
    return paged(state, request.query, "results", batch.finished, (items, token) => ({
      results: items.map((item) => JSON.parse(item.result!) as unknown),
      pagination_token: token
    }))
  }
  return undefined
}

/** Whether a path belongs to the Batch API. */
export const isBatchPath = (path: string): boolean => path === "/v1/batches" || path.startsWith("/v1/batches/")

/**
 * Answers a Batch API request (after the front end checked the key), or `undefined` for a method and path the Batch
 * API does not have.
 */
export const handle = (
  state: S.State,
  request: BatchIncoming,
  clock: Clock,
  random: () => number
): BatchAnswer | undefined => {
  const { method, path } = request
  if (path === "/v1/batches") {
    if (method === "POST") return create(state, request.body, clock, random)
    if (method !== "GET") return undefined
    for (const batch of state.order) S.settle(state, batch, clock.nowMillis, clock.wallMillis)
    return paged(state, request.query, "batches", state.order, (items, token) => ({
      batches: items.map(batchJson),
      pagination_token: token
    }))
  }
  const target = parsePath(path)
  if (target === undefined) return undefined
  const batch = state.batches.get(target.id)
  if (batch === undefined) return notFound(`Batch ${target.id} not found.`)
  S.settle(state, batch, clock.nowMillis, clock.wallMillis)
  return onBatch(state, batch, request, target.rest, clock, random)
}

/** The fake's own chat answer for a request of a batch, its completion id derived from the batch request id. */
const chatCompletion =
  (reasoningTokens: number): S.Complete =>
  (request, id, wallMillis) => {
    const body =
      typeof request === "object" && request !== null ? { ...request, stream: false, deferred: false } : request
    const generation = Chat.read(body, reasoningTokens)
    if (typeof generation === "string") return { error: `Invalid request: ${generation}` }
    const ids = { next: () => `batch-${id}`, createdSeconds: Math.floor(wallMillis / 1000) }
    return { completion: generation.render(ids).json }
  }

/** Fresh state, answering with the fake's chat completions. */
export const makeState = (options: S.BatchOptions | undefined, reasoningTokens = 0): S.State =>
  S.initial(options, chatCompletion(reasoningTokens))

/** The engine's answer to a Batch API request whose key was accepted. */
export const route = (
  state: S.State,
  incoming: BatchIncoming & { readonly tooLarge?: boolean | undefined },
  env: { readonly nowMillis: number; readonly wallMillis: number },
  random: () => number
): Answer => {
  if (incoming.tooLarge) return json(413, "invalid", Errors.forStatus(413, ""))
  const answer = handle(state, incoming, env, random)
  if (answer === undefined) return json(404, "invalid", Errors.noSuchPath(incoming.method, incoming.path))
  return jsonText(answer.status, answer.status < 300 ? "ok" : "invalid", answer.body)
}

export type { State as BatchesState } from "./BatchState.js"
