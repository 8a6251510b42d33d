/**
 * The results of a finished batch, paged into the results file in the same line format as the synchronous lane:
 * an `ok` line per completion, an error line with the typed tag per failed item, and for ids the batch holds no
 * result for, a line saying why (cancelled, or no result). Each id gets one line: ids already in the file (a run
 * killed while writing) are skipped.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { GrokBatches, GrokError } from "grok-resilience"
import type { UsageError } from "./errors.js"
import type * as Journal from "./journal.js"
import * as Records from "./records.js"
import type { Tally } from "./tally.js"

/**
 * What the results phase works from: the journal, the ids of the input by batch request id, and the ids written.
 *
 * @since 0.2.0
 * @category models
 */
export interface Sink {
  readonly journal: Journal.Journal
  readonly tally: Tally
  /** Input ids by `batch_request_id`. */
  readonly ids: ReadonlyMap<string, Records.Id>
  /** Keys (`Records.idKey`) with a line in the results file: read back, or written by this run. */
  readonly written: Set<string>
}

/**
 * The line of one result.
 *
 * @since 0.2.0
 * @category constructors
 */
export const recordOf = (id: Records.Id, result: GrokBatches.BatchResult): Records.ResultLine =>
  result._tag === "Succeeded"
    ? Records.ok(id, {
        content: result.content,
        usage: result.usage,
        requestId: undefined,
        attempts: 1
      })
    : { ...Records.failed(id, result.error), attempts: 1 }

/** The line of an id the finished batch has no result for. */
const unanswered = (id: Records.Id, batchId: string, cancelled: boolean): Records.ErrorRecord => ({
  id,
  ok: false,
  error: cancelled
    ? {
        _tag: "Rejected",
        reason: "BatchCancelled",
        message: `Not run: batch ${batchId} was cancelled first; send it again with --via sync --retry-failed`
      }
    : {
        _tag: "Transient",
        reason: "NoResult",
        message: `Batch ${batchId} finished without a result for this id; send it again with --via sync --retry-failed`
      },
  attempts: 0
})

const write = (sink: Sink, record: Records.ResultLine, key: string) =>
  Effect.zipRight(
    sink.journal.append(record),
    Effect.sync(() => {
      sink.written.add(key)
      sink.tally.add(record)
    })
  )

/**
 * Writes every result of the batch not yet in the file, then a line for each input id still without one. Resolves
 * to the number of results whose id is not in the input (another program's requests in the batch), which are
 * left out.
 *
 * @since 0.2.0
 * @category running
 */
export const writeResults = (
  batches: GrokBatches.Service,
  batch: { readonly batchId: string; readonly cancelled: boolean },
  sink: Sink
): Effect.Effect<number, GrokError.GrokError | UsageError> =>
  Effect.gen(function* () {
    let strangers = 0
    yield* Stream.runForEach(batches.results(batch.batchId, { pageSize: 1000 }), (result) => {
      const id = sink.ids.get(result.id)
      if (id === undefined) return Effect.sync(() => void strangers++)
      const key = Records.idKey(id)
      return sink.written.has(key) ? Effect.void : write(sink, recordOf(id, result), key)
    })
    for (const id of sink.ids.values()) {
      if (sink.written.has(Records.idKey(id))) continue
      yield* write(sink, unanswered(id, batch.batchId, batch.cancelled), Records.idKey(id))
    }
    return strangers
  })
