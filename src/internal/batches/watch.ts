/**
 * Watching a batch: its state now, then again on a jittered schedule until no request is pending. A batch can take
 * up to a day, so the default schedule settles at one look every 30 s.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as GrokError from "../../GrokError.js"
import type * as Api from "../api/batches.js"
import * as Poll from "../deferred/poll.js"
import type * as Pipeline from "../pipeline/pipeline.js"
import { type Context, run } from "./calls.js"
import * as Endpoints from "./endpoints.js"

/** Settings of a watch: the pipeline's, for every look, and the polling rules. */
export interface WatchOptions extends Pipeline.Settings {
  /** When to look again. Default `DEFAULT_WATCH_SCHEDULE`. */
  readonly schedule?: Poll.PollSchedule | undefined
  /** How long to watch before failing with `Rejected(DeadlineExceeded)`. Default none (a batch may take 24 h). */
  readonly maxWait?: Duration.DurationInput | undefined
}

/** Looks after about 1 s, 1.5 s, 2.25 s, … (×1.5) up to one every 30 s, each delay jittered to [0.8, 1.2). */
export const DEFAULT_WATCH_SCHEDULE: Poll.PollSchedule = Poll.backoff({
  first: "1 second",
  factor: 1.5,
  max: "30 seconds"
})

/**
 * Whether the batch is done: it has requests and none is pending, or it ended (cancelled by the caller or by xAI,
 * or expired) with none pending. A batch that has no requests yet is not done: its requests may still come.
 */
export const isFinished = (batch: Api.Batch, nowMillis: number): boolean => {
  if (batch.state.num_pending > 0) return false
  if (batch.state.num_requests > 0) return true
  const expired = batch.expire_time != null && Date.parse(batch.expire_time) <= nowMillis
  return batch.cancel_time != null || batch.cancel_by_xai_message != null || expired
}

const tooLong = (batchId: string, maxWait: Duration.DurationInput | undefined, batch: Api.Batch) =>
  new GrokError.Rejected({
    reason: "DeadlineExceeded",
    detail:
      `batch ${batchId} still had ${batch.state.num_pending} pending requests after ` +
      `${maxWait === undefined ? "the schedule ended" : Duration.format(Duration.decode(maxWait))}; ` +
      "it keeps running on xAI"
  })

interface Step {
  readonly cursor: Poll.Cursor
  readonly last: Api.Batch | undefined
}

const looker = (context: Context, batchId: string, settings: Pipeline.Settings) =>
  Effect.flatMap(run(context, Endpoints.get(context.baseUrl, batchId), settings), (batch) =>
    Effect.map(Clock.currentTimeMillis, (now) => ({ batch, done: isFinished(batch, now) }))
  )

/** Every state seen, the first at once, the last one finished. */
export const watch = (
  context: Context,
  batchId: string,
  options: WatchOptions = {}
): Stream.Stream<Api.Batch, GrokError.GrokError> => {
  const { schedule: given, maxWait, ...settings } = options
  const schedule = given ?? DEFAULT_WATCH_SCHEDULE
  const look = looker(context, batchId, settings)
  const step = ({ cursor, last }: Step) =>
    Effect.gen(function* () {
      let due = cursor
      if (last !== undefined) {
        const next = yield* Poll.next(schedule, cursor)
        if (Option.isNone(next)) return yield* Effect.fail(tooLong(batchId, maxWait, last))
        due = next.value
      }
      const { batch, done } = yield* look
      return [batch, done ? Option.none<Step>() : Option.some<Step>({ cursor: due, last: batch })] as const
    })
  return Stream.unwrap(
    Effect.map(Poll.start(schedule, maxWait), (cursor) =>
      Stream.paginateEffect<Step, Api.Batch, GrokError.GrokError, never>({ cursor, last: undefined }, step)
    )
  ).pipe(Stream.withSpan("grok.batch.watch", { attributes: { "grok.batch_id": batchId } }))
}

/** The finished state of the batch: looks at once, then on the schedule (see `watch`). */
export const wait = (
  context: Context,
  batchId: string,
  options: WatchOptions = {}
): Effect.Effect<Api.Batch, GrokError.GrokError> => {
  const { schedule, maxWait, ...settings } = options
  const look = looker(context, batchId, settings)
  return Effect.flatMap(look, (first) => {
    let last = first.batch
    return first.done
      ? Effect.succeed(first.batch)
      : Effect.map(
          Poll.until({
            schedule: schedule ?? DEFAULT_WATCH_SCHEDULE,
            maxWait,
            poll: () =>
              Effect.map(look, ({ batch, done }) => {
                last = batch
                return done ? Option.some(batch) : Option.none()
              }),
            exhausted: () => tooLong(batchId, maxWait, last)
          }),
          (polled) => polled.value
        )
  }).pipe(Effect.withSpan("grok.batch.wait", { attributes: { "grok.batch_id": batchId } }))
}
