/**
 * The state of the fake Batch API: batches, their requests, and when each request finishes. Time is whatever the
 * caller passes in; a request settles (succeeds, fails, or is cancelled) lazily, the first time the state is looked
 * at after its finish time, in finish order, so that results keep a stable order for paging.
 */

import * as Schema from "effect/Schema"

/** How the fake processes batch requests. Every field has a default. */
export interface BatchOptions {
  /** Least time from being added to finishing. Default 1000 ms. */
  readonly processMillis?: number
  /** Extra time, drawn uniformly in [0, spread). Default 2000 ms. */
  readonly spreadMillis?: number
  /** Share of requests whose result is an error. Default 0. */
  readonly errorRate?: number
  /** Most requests one add call accepts; more is a 400. Default 1000. */
  readonly maxRequestsPerAdd?: number
  /** Largest add body, in characters; more is a 413. Default 25 MiB, xAI's limit. */
  readonly maxAddBytes?: number
  /** Page size when the caller sets no `limit`, and the largest `limit` honoured. Defaults 100 and 1000. */
  readonly pageSize?: number
  readonly maxPageSize?: number
}

const exact = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })
const Millis = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())
const Size = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))

/** `BatchOptions` as JSON, for the scenario's `batches` field. */
export const BatchOptionsSchema = Schema.Struct({
  processMillis: exact(Millis),
  spreadMillis: exact(Millis),
  errorRate: exact(Schema.Number.pipe(Schema.between(0, 1))),
  maxRequestsPerAdd: exact(Size),
  maxAddBytes: exact(Size),
  pageSize: exact(Size),
  maxPageSize: exact(Size)
})

export interface ResolvedBatchOptions {
  readonly processMillis: number
  readonly spreadMillis: number
  readonly errorRate: number
  readonly maxRequestsPerAdd: number
  readonly maxAddBytes: number
  readonly pageSize: number
  readonly maxPageSize: number
}

export const resolveOptions = (options: BatchOptions = {}): ResolvedBatchOptions => ({
  processMillis: options.processMillis ?? 1000,
  spreadMillis: options.spreadMillis ?? 2000,
  errorRate: options.errorRate ?? 0,
  maxRequestsPerAdd: options.maxRequestsPerAdd ?? 1000,
  maxAddBytes: options.maxAddBytes ?? 25 * 1024 * 1024,
  pageSize: options.pageSize ?? 100,
  maxPageSize: options.maxPageSize ?? 1000
})

/** Batches kept, and requests over all batches: beyond them creating or adding is refused, memory stays bounded. */
export const MAX_BATCHES = 1000
export const MAX_REQUESTS = 200_000

export type ItemState = "pending" | "succeeded" | "failed" | "cancelled"

/** Renders the completion of a chat request, or says why it cannot. */
export type Complete = (
  request: unknown,
  id: string,
  wallMillis: number
) => { readonly completion: unknown } | { readonly error: string }

export interface Item {
  readonly id: string
  readonly model: string
  readonly addedWall: number
  readonly finishAt: number
  readonly fails: boolean
  request: unknown
  state: ItemState
  finishedWall?: number
  /** The result JSON text, once settled as succeeded or failed. */
  result?: string
}

export interface Batch {
  readonly id: string
  readonly name: string
  readonly createdWall: number
  cancelledWall?: number
  readonly items: Map<string, Item>
  /** In the order added. */
  readonly added: Array<Item>
  /** Not yet settled, by finish time. */
  pending: Array<Item>
  /** Settled as succeeded or failed, in settle order: the order of results. */
  readonly finished: Array<Item>
  readonly counts: { success: number; error: number; cancelled: number }
}

export interface State {
  readonly options: ResolvedBatchOptions
  readonly complete: Complete
  readonly batches: Map<string, Batch>
  /** Newest first. */
  readonly order: Array<Batch>
  sequence: number
  requests: number
}

export const initial = (options: BatchOptions | undefined, complete: Complete): State => ({
  options: resolveOptions(options),
  complete,
  batches: new Map(),
  order: [],
  sequence: 0,
  requests: 0
})

/** A batch id shaped like xAI's: `batch_` and a UUID-like hex string, unique within the state. */
export const nextBatchId = (state: State, random: () => number): string => {
  state.sequence++
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join("")
  return `batch_${state.sequence.toString(16).padStart(8, "0")}-${hex(4)}-${hex(4)}-${hex(12)}`
}

const settleItem = (state: State, item: Item, wallMillis: number) => {
  item.finishedWall = wallMillis
  const rendered = item.fails
    ? { error: "Internal error while processing the request." }
    : state.complete(item.request, item.id, wallMillis)
  item.request = undefined
  if ("completion" in rendered) {
    item.state = "succeeded"
    item.result = JSON.stringify({
      batch_request_id: item.id,
      batch_result: { response: { chat_get_completion: rendered.completion } }
    })
  } else {
    item.state = "failed"
    item.result = JSON.stringify({ batch_request_id: item.id, batch_result: { error: rendered.error } })
  }
}

/** Settles every request of `batch` whose finish time has come. */
export const settle = (state: State, batch: Batch, nowMillis: number, wallMillis: number): void => {
  let done = 0
  while (done < batch.pending.length && batch.pending[done]!.finishAt <= nowMillis) {
    const item = batch.pending[done]!
    settleItem(state, item, wallMillis - (nowMillis - item.finishAt))
    batch.finished.push(item)
    if (item.state === "succeeded") batch.counts.success++
    else batch.counts.error++
    done++
  }
  if (done > 0) batch.pending = batch.pending.slice(done)
}

/** Cancels what is still pending. */
export const cancel = (batch: Batch, wallMillis: number): void => {
  batch.cancelledWall ??= wallMillis
  for (const item of batch.pending) {
    item.state = "cancelled"
    item.request = undefined
    item.finishedWall = wallMillis
    batch.counts.cancelled++
  }
  batch.pending = []
}

/** Adds requests already checked: their finish times and failures are drawn now. */
export const addItems = (
  state: State,
  batch: Batch,
  requests: ReadonlyArray<{ readonly id: string; readonly model: string; readonly request: unknown }>,
  clock: { readonly nowMillis: number; readonly wallMillis: number },
  random: () => number
): void => {
  const { processMillis, spreadMillis, errorRate } = state.options
  for (const request of requests) {
    const item: Item = {
      id: request.id,
      model: request.model,
      addedWall: clock.wallMillis,
      finishAt: clock.nowMillis + processMillis + Math.floor(random() * spreadMillis),
      fails: random() < errorRate,
      request: request.request,
      state: "pending"
    }
    batch.items.set(item.id, item)
    batch.added.push(item)
    batch.pending.push(item)
  }
  batch.pending.sort((a, b) => a.finishAt - b.finishAt)
  state.requests += requests.length
}

export const counters = (batch: Batch) => ({
  num_requests: batch.added.length,
  num_pending: batch.pending.length,
  num_success: batch.counts.success,
  num_error: batch.counts.error,
  num_cancelled: batch.counts.cancelled
})
