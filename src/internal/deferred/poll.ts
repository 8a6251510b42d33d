/**
 * Polling on a `Schedule`: wait the schedule's delay, ask, repeat until the answer is there, the schedule ends or
 * the time budget runs out. Used for deferred completions and for batches; every wait is on Effect's `Clock` and
 * every jitter draw from Effect's `Random`, so `TestClock` and a seeded `Random` replay it exactly.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Intervals from "effect/ScheduleIntervals"

/** A polling schedule: fed the number of polls made so far, its delays say when to ask next. */
export type PollSchedule = Schedule.Schedule<unknown, number>

/**
 * Exponential delays from `first`, growing by `factor`, capped at `max`, each jittered to [0.8, 1.2) of itself
 * (`Schedule.jittered`): never a fixed beat that many pollers share, never faster than `0.8 · first`.
 */
export const backoff = (options: {
  readonly first: Duration.DurationInput
  readonly factor: number
  readonly max: Duration.DurationInput
}): PollSchedule =>
  Schedule.exponential(options.first, options.factor).pipe(
    Schedule.union(Schedule.spaced(options.max)),
    Schedule.jittered
  )

/** Where a polling stands: the schedule's state, polls made, and the time limit (epoch millis). */
export interface Cursor {
  readonly state: unknown
  readonly polls: number
  readonly limit: number
}

/** A cursor before the first poll, with the limit `maxWait` from now. */
export const start = (schedule: PollSchedule, maxWait: Duration.DurationInput | undefined): Effect.Effect<Cursor> =>
  Effect.map(Clock.currentTimeMillis, (now) => ({
    state: schedule.initial,
    polls: 0,
    limit: maxWait === undefined ? Number.POSITIVE_INFINITY : now + Duration.toMillis(Duration.decode(maxWait))
  }))

/**
 * Sleeps until the next poll is due and counts it, or answers `None` when the schedule ended or the time limit
 * passed. The last poll happens at the limit at the latest.
 */
export const next = (schedule: PollSchedule, cursor: Cursor): Effect.Effect<Option.Option<Cursor>> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    if (now >= cursor.limit && cursor.polls > 0) return Option.none()
    const [state, , decision] = yield* schedule.step(now, cursor.polls, cursor.state)
    if (ScheduleDecision.isDone(decision)) return Option.none()
    const at = Math.min(Intervals.start(decision.intervals), cursor.limit)
    if (at > now) yield* Effect.sleep(at - now)
    return Option.some({ state, polls: cursor.polls + 1, limit: cursor.limit })
  })

export interface Polled<A> {
  readonly value: A
  /** Polls made, the one that answered included. */
  readonly polls: number
}

export interface Options<A, E, R> {
  readonly schedule: PollSchedule
  /** Longest time from the start; the last poll happens at this limit at the latest. Default none. */
  readonly maxWait?: Duration.DurationInput | undefined
  /** One poll, given its number (from 1): `Some` ends the polling. */
  readonly poll: (n: number) => Effect.Effect<Option.Option<A>, E, R>
  /** The failure when the schedule ends or the time runs out first, given the polls made. */
  readonly exhausted: (polls: number) => E
}

/** Polls until `poll` answers `Some`. The first poll comes after the schedule's first delay. */
export const until = <A, E, R>(options: Options<A, E, R>): Effect.Effect<Polled<A>, E, R> =>
  Effect.gen(function* () {
    let cursor = yield* start(options.schedule, options.maxWait)
    while (true) {
      const due = yield* next(options.schedule, cursor)
      if (Option.isNone(due)) return yield* Effect.fail(options.exhausted(cursor.polls))
      cursor = due.value
      const answer = yield* options.poll(cursor.polls)
      if (Option.isSome(answer)) return { value: answer.value, polls: cursor.polls }
    }
  })
