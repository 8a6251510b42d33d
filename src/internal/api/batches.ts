/**
 * Schemas of xAI's Batch API (`/v1/batches`) and of the deferred-completion acknowledgement. Structs keep the
 * fields they do not name; only what this toolkit reads is required. A result item is read leniently (its
 * `batch_result` is interpreted item by item, in internal/batches), so that one strange item fails alone, not its
 * whole page.
 */
import * as Schema from "effect/Schema"

const keepUnknown = { onExcessProperty: "preserve" } as const
const rest = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const optionalNullable = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(Schema.NullOr(schema))
const Count = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

/** The counters of a batch. */
export const BatchState = Schema.Struct(
  {
    num_requests: Count,
    num_pending: Count,
    num_success: Count,
    num_error: Count,
    num_cancelled: Count
  },
  rest
)
export type BatchState = typeof BatchState.Type

/** A batch as `POST /v1/batches`, `GET /v1/batches/{id}` and `:cancel` return it. */
export const Batch = Schema.Struct(
  {
    batch_id: Schema.String.pipe(Schema.nonEmptyString()),
    name: Schema.optional(Schema.String),
    create_time: optionalNullable(Schema.String),
    expire_time: optionalNullable(Schema.String),
    create_api_key_id: optionalNullable(Schema.String),
    cancel_time: optionalNullable(Schema.String),
    cancel_by_xai_message: optionalNullable(Schema.String),
    state: BatchState
  },
  rest
)
export type Batch = typeof Batch.Type

/** A page of `GET /v1/batches`. */
export const BatchList = Schema.Struct(
  { batches: Schema.Array(Batch), pagination_token: optionalNullable(Schema.String) },
  rest
)
export type BatchList = typeof BatchList.Type

/** What the server knows of one request added to a batch. */
export const BatchRequestMetadata = Schema.Struct(
  {
    batch_request_id: Schema.String,
    endpoint: optionalNullable(Schema.String),
    model: optionalNullable(Schema.String),
    /** `unknown`, `pending`, `succeeded`, `cancelled` or `failed`; kept open for states xAI adds. */
    state: optionalNullable(Schema.String),
    create_time: optionalNullable(Schema.String),
    finish_time: optionalNullable(Schema.String)
  },
  rest
)
export type BatchRequestMetadata = typeof BatchRequestMetadata.Type

/** A page of `GET /v1/batches/{id}/requests`. */
export const BatchRequestMetadataList = Schema.Struct(
  { batch_request_metadata: Schema.Array(BatchRequestMetadata), pagination_token: optionalNullable(Schema.String) },
  rest
)
export type BatchRequestMetadataList = typeof BatchRequestMetadataList.Type

/** One result as received: `batch_result` is `{ response: { chat_get_completion } }` or `{ error }`. */
export const BatchResultItem = Schema.Struct({ batch_request_id: Schema.String, batch_result: Schema.Unknown }, rest)
export type BatchResultItem = typeof BatchResultItem.Type

/** A page of `GET /v1/batches/{id}/results`. */
export const BatchResultList = Schema.Struct(
  { results: Schema.Array(BatchResultItem), pagination_token: optionalNullable(Schema.String) },
  rest
)
export type BatchResultList = typeof BatchResultList.Type

/** The answer to a chat request sent with `deferred: true`. */
export const DeferredAck = Schema.Struct({ request_id: Schema.String.pipe(Schema.nonEmptyString()) }, rest)
export type DeferredAck = typeof DeferredAck.Type

export const decodeBatch = Schema.decodeUnknownEither(Batch, keepUnknown)
export const decodeBatchList = Schema.decodeUnknownEither(BatchList, keepUnknown)
export const decodeBatchRequestMetadataList = Schema.decodeUnknownEither(BatchRequestMetadataList, keepUnknown)
export const decodeBatchResultList = Schema.decodeUnknownEither(BatchResultList, keepUnknown)
export const decodeDeferredAck = Schema.decodeUnknownEither(DeferredAck, keepUnknown)
