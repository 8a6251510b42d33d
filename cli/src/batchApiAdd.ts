/**
 * The input pass of `--via batch-api`: reads the input once, writes the refusal of each invalid line, learns the
 * input ids by `batch_request_id`, and adds every call the batch does not hold yet in chunks, each chunk announced
 * in the batch journal before it is sent and confirmed after.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { GrokBatches, GrokError } from "grok-resilience"
import type { BatchJournal } from "./batchJournal.js"
import type { UsageError } from "./errors.js"
import * as Input from "./input.js"
import type * as Journal from "./journal.js"
import * as Records from "./records.js"
import type { Tally } from "./tally.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface Pass {
  readonly input: string
  readonly model: string
  /** Where to add the calls the batch does not hold; none with `--cancel`, or when every id is done already. */
  readonly target: Target | undefined
  readonly journal: Journal.Journal
  readonly tally: Tally
  /** Request ids the batch holds; the pass adds what it sends. */
  readonly known: Set<string>
  /** Keys with a line in the results file; the pass adds those it finds there and those it writes. */
  readonly written: Set<string>
  readonly chunkSize: number
  readonly onChunk: (sent: number) => void
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Target {
  readonly batches: GrokBatches.Service
  readonly batchId: string
  readonly batchJournal: BatchJournal
}

/**
 * The `batch_request_id` of an input id (`1` and `"1"` are one id, as in the results file).
 *
 * @since 0.2.0
 * @category keys
 */
export const requestIdOf = (id: Records.Id): string => Records.idText(id)

/** Writes an invalid line or notes a call; answers the calls that still need adding. */
const sorter = (pass: Pass, ids: Map<string, Records.Id>) => (item: Input.Item) =>
  Effect.suspend((): Effect.Effect<ReadonlyArray<Input.Call>, UsageError> => {
    const seen = pass.journal.finished(item.key)
    if (item._tag === "Call") ids.set(requestIdOf(item.id), item.id)
    if (seen !== undefined || pass.written.has(item.key)) {
      if (!pass.written.has(item.key)) pass.tally.skip(seen!)
      pass.written.add(item.key)
      return Effect.succeed([])
    }
    if (item._tag === "Invalid") {
      return Effect.as(
        Effect.zipRight(
          pass.journal.append(item.record),
          Effect.sync(() => {
            pass.written.add(item.key)
            pass.tally.add(item.record)
          })
        ),
        []
      )
    }
    return Effect.succeed(pass.known.has(requestIdOf(item.id)) ? [] : [item])
  })

/**
 * Runs the pass; resolves to the input ids by `batch_request_id` and the number of requests it added.
 *
 * @since 0.2.0
 * @category running
 */
export const addAll = (
  pass: Pass
): Effect.Effect<
  { readonly ids: ReadonlyMap<string, Records.Id>; readonly sent: number },
  GrokError.GrokError | UsageError
> =>
  Effect.gen(function* () {
    const ids = new Map<string, Records.Id>()
    let sent = 0
    const send = (target: Target, calls: ReadonlyArray<Input.Call>) =>
      Effect.gen(function* () {
        // The parser of this pass reads chat lines only (`--api responses` is refused with `--via batch-api`).
        const chunk = calls.filter((call): call is Input.ChatCall => call.api === "chat")
        const requestIds = chunk.map((call) => requestIdOf(call.id))
        yield* target.batchJournal.adding(requestIds)
        yield* target.batches.add(
          target.batchId,
          chunk.map((call) => ({ id: requestIdOf(call.id), request: call.request })),
          { maxChunkRequests: pass.chunkSize }
        )
        yield* target.batchJournal.added(chunk.length)
        for (const id of requestIds) pass.known.add(id)
        sent += chunk.length
        pass.onChunk(sent)
      })
    const parse = Input.parser({ model: pass.model })
    yield* Input.lines(pass.input).pipe(
      Stream.map(parse),
      Stream.filter((item): item is Input.Item => item !== undefined),
      Stream.mapEffect(sorter(pass, ids)),
      Stream.flattenIterables,
      Stream.grouped(pass.chunkSize),
      Stream.runForEach((chunk) => (pass.target !== undefined ? send(pass.target, [...chunk]) : Effect.void))
    )
    return { ids, sent }
  })
