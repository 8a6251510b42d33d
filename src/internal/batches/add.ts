/**
 * Adding requests to a batch: each request is checked with the chat request schema and encoded once, the encoded
 * requests are sent in chunks under the server's limits (count and bytes), one chunk at a time.
 *
 * A chunk whose fate is unknown (it failed after a retry, or with a transient failure: the server may have taken
 * an earlier attempt) is reconciled with the batch's request list before anything is sent again, so that no
 * request is added twice and none is lost.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as GrokApi from "../../GrokApi.js"
import * as GrokError from "../../GrokError.js"
import type * as Pipeline from "../pipeline/pipeline.js"
import { type Context, requests, run } from "./calls.js"
import * as Endpoints from "./endpoints.js"

/** One request to add: its `batch_request_id` (unique within the batch) and the chat request. */
export interface BatchRequest {
  readonly id: string
  readonly request: GrokApi.ChatRequest
}

/** Settings of an add: the pipeline's, for every add call, and the chunk limits. */
export interface AddOptions extends Pipeline.Settings {
  /** Requests per add call at most. Default 1000. */
  readonly maxChunkRequests?: number | undefined
  /** Bytes of one add call's body at most. Default 10 MiB (xAI accepts 25 MB). */
  readonly maxChunkBytes?: number | undefined
}

/** What an add did. */
export interface Added {
  /** Requests of this call now in the batch. */
  readonly added: number
  /** Add calls that the server accepted. */
  readonly calls: number
  /** Requests found already in the batch when a chunk's fate was unknown, and not sent again. */
  readonly alreadyPresent: number
}

export const DEFAULT_MAX_CHUNK_REQUESTS = 1000
export const DEFAULT_MAX_CHUNK_BYTES = 10 * 1024 * 1024
const ENVELOPE_BYTES = '{"batch_requests":[]}'.length

interface Encoded {
  readonly id: string
  readonly json: string
  readonly bytes: number
}

const utf8 = new TextEncoder()
const invalid = (detail: string) => new GrokError.Validation({ reason: "InvalidRequest", detail })

const encode = (
  entry: BatchRequest,
  seen: Set<string>,
  maxBytes: number
): Either.Either<Encoded, GrokError.Validation> => {
  if (typeof entry.id !== "string" || entry.id.length === 0)
    return Either.left(invalid("a batch request needs a non-empty id"))
  if (seen.has(entry.id)) return Either.left(invalid(`batch request id ${entry.id} is given twice`))
  seen.add(entry.id)
  return Either.flatMap(
    Either.mapLeft(GrokApi.decodeChatRequest(entry.request), (issue) =>
      invalid(`batch request ${entry.id}: ${issue.message.slice(0, 2000)}`)
    ),
    (valid) => {
      let json: string
      try {
        json = JSON.stringify({ batch_request_id: entry.id, batch_request: { chat_get_completion: valid } })
      } catch (error) {
        return Either.left(invalid(`batch request ${entry.id} cannot be sent as JSON: ${String(error).slice(0, 200)}`))
      }
      const bytes = utf8.encode(json).length
      return bytes + ENVELOPE_BYTES > maxBytes
        ? Either.left(invalid(`batch request ${entry.id} is ${bytes} bytes encoded, over maxChunkBytes (${maxBytes})`))
        : Either.right({ id: entry.id, json, bytes })
    }
  )
}

const bodyOf = (chunk: ReadonlyArray<Encoded>) => `{"batch_requests":[${chunk.map((e) => e.json).join(",")}]}`

const attemptsIn = (error: GrokError.GrokError): number =>
  "attempts" in error && typeof error.attempts === "number" ? error.attempts : 1

/** Whether the server may have taken the chunk although the call failed. */
const mayHaveLanded = (error: GrokError.GrokError) => attemptsIn(error) > 1 || error._tag === "Transient"

/** Finds which requests of `chunk` the batch holds, and sends the rest once more. */
const reconcile = (
  context: Context,
  batchId: string,
  chunk: ReadonlyArray<Encoded>,
  settings: Pipeline.Settings,
  failure: GrokError.GrokError
): Effect.Effect<Added, GrokError.GrokError> =>
  Effect.gen(function* () {
    const wanted = new Set(chunk.map((e) => e.id))
    const present = yield* requests(context, batchId, settings).pipe(
      Stream.filter((meta) => wanted.has(meta.batch_request_id)),
      Stream.runFold(new Set<string>(), (set, meta) => set.add(meta.batch_request_id)),
      Effect.orElseFail(() => failure)
    )
    const missing = chunk.filter((e) => !present.has(e.id))
    yield* Effect.logInfo("grok batch add failed; reconciled with the batch's request list").pipe(
      Effect.annotateLogs({ batchId, chunk: chunk.length, present: present.size, error: failure.message })
    )
    if (missing.length === chunk.length) return yield* Effect.fail(failure)
    if (missing.length > 0) yield* run(context, Endpoints.add(context.baseUrl, batchId, bodyOf(missing)), settings)
    return { added: chunk.length, calls: missing.length > 0 ? 1 : 0, alreadyPresent: present.size }
  })

const sendChunk = (context: Context, batchId: string, chunk: ReadonlyArray<Encoded>, settings: Pipeline.Settings) =>
  run(context, Endpoints.add(context.baseUrl, batchId, bodyOf(chunk)), settings).pipe(
    Effect.as<Added>({ added: chunk.length, calls: 1, alreadyPresent: 0 }),
    Effect.catchAll((error) =>
      mayHaveLanded(error) ? reconcile(context, batchId, chunk, settings, error) : Effect.fail(error)
    )
  )

/**
 * Adds `entries` to the batch, chunk by chunk. A request that fails its schema stops the add before its chunk is
 * sent (the chunks before it are in the batch).
 */
export const add = (
  context: Context,
  batchId: string,
  entries: Iterable<BatchRequest>,
  options: AddOptions = {}
): Effect.Effect<Added, GrokError.GrokError> =>
  Effect.gen(function* () {
    const { maxChunkRequests, maxChunkBytes, ...settings } = options
    const maxRequests = Math.max(1, Math.floor(maxChunkRequests ?? DEFAULT_MAX_CHUNK_REQUESTS))
    const maxBytes = maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES
    const seen = new Set<string>()
    const total = { added: 0, calls: 0, alreadyPresent: 0 }
    let chunk: Array<Encoded> = []
    let bytes = ENVELOPE_BYTES
    const flush = Effect.suspend(() => {
      const sending = chunk
      chunk = []
      bytes = ENVELOPE_BYTES
      return Effect.map(sendChunk(context, batchId, sending, settings), (done) => {
        total.added += done.added
        total.calls += done.calls
        total.alreadyPresent += done.alreadyPresent
      })
    })
    for (const entry of entries) {
      const encoded = yield* encode(entry, seen, maxBytes)
      if (chunk.length >= maxRequests || (chunk.length > 0 && bytes + 1 + encoded.bytes > maxBytes)) yield* flush
      chunk.push(encoded)
      bytes += encoded.bytes + (chunk.length > 1 ? 1 : 0)
    }
    if (chunk.length > 0) yield* flush
    return total as Added
  }).pipe(Effect.withSpan("grok.batch.add", { attributes: { "grok.batch_id": batchId } }))
