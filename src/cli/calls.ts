/**
 * One input item through to its results line, and the rules of the run around the calls in flight:
 *
 * - Stopping (Ctrl-C, SIGTERM): no call starts another attempt; a call whose request is on its way gets up to
 *   `--grace` (default 5 s) for its answer, which is journaled; the others are abandoned unwritten, so the same
 *   command sends them again.
 * - Stopping calling (a refused key, no credits, or a server that refused every call for `--give-up-after`): no call
 *   is sent or retried; each id gets a line. Calls waiting for quota or a retry get a "Gave up" line, and after a
 *   refusal a call on its way gets `--grace` for its answer.
 * - A defect inside one call (a bug, or an answer beyond what the client can handle) fails that id, not the run.
 *
 * @since 0.2.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as GrokClient from "../GrokClient.js"
import type * as GrokError from "../GrokError.js"
import type * as RetryPolicy from "../RetryPolicy.js"
import type { UsageError } from "./errors.js"
import * as Format from "./format.js"
import type * as Input from "./input.js"
import type * as Journal from "./journal.js"
import * as Records from "./records.js"
import { RefusalWatch } from "./refusal.js"
import type { Tally } from "./tally.js"

/** What the run knows of one call in flight: set by the HTTP layer and the retry policy of that call. */
class CallState {
  attempts = 0
  /** A request was sent and its answer has not been judged yet. */
  onWire = false
}

/** The call a request belongs to: the HTTP layer runs in the call's fiber (or a child), which inherits it. */
const currentCall = FiberRef.unsafeMake<CallState | undefined>(undefined)

/** An error after which no other call can succeed: the key is refused or the credits are gone. */
const stopsTheRun = (error: GrokError.GrokError): boolean =>
  (error._tag === "AuthError" && error.reason === "InvalidKey") || error._tag === "QuotaExhausted"

/**
 * @since 0.2.0
 * @category models
 */
export interface Settings {
  /** The retry policy of every call; each call adds its own stop conditions to it. */
  readonly retry: RetryPolicy.RetryPolicy
  readonly grace: Duration.Duration
  readonly giveUpAfter: Duration.Duration
  /** Secrets to scrub from defect messages. */
  readonly secrets: ReadonlyArray<string>
  readonly notice: (text: string) => void
}

/**
 * The shared state of the calls of one run.
 *
 * @since 0.2.0
 * @category models
 */
export class Control {
  /** The run is stopping: no attempt starts. */
  draining = false
  /** The run stopped calling. */
  stop: Records.Stop | undefined
  /** Calls in flight at the stop that got no line (sent again on resume). */
  abandoned = 0
  readonly active = new Set<CallState>()
  /** Completed when the refusal rule trips: calls waiting for quota or a retry stop waiting. */
  readonly refused = Deferred.unsafeMake<void>(FiberId.none)
  readonly watch: RefusalWatch

  constructor(
    readonly settings: Settings,
    startedAt: number
  ) {
    this.watch = new RefusalWatch(Duration.toMillis(settings.giveUpAfter), startedAt)
  }

  /** Stops calling after the refusal rule tripped: calls waiting for quota or a retry stop waiting. */
  trip(stop: Records.Stop | undefined): void {
    if (stop === undefined) return
    this.stop ??= stop
    Deferred.unsafeDone(this.refused, Effect.void)
  }

  beginDrain(): void {
    if (this.draining) return
    this.draining = true
    const onWire = [...this.active].filter((call) => call.onWire).length
    this.settings.notice(
      `Stopping: ${onWire} calls on their way get up to ${Format.duration(Duration.toMillis(this.settings.grace))} to ` +
        "finish (press Ctrl-C again to exit at once)."
    )
  }
}

/**
 * The HTTP client of the run: counts each call's attempts and 429 answers, feeds the refusal rule, and refuses to
 * start an attempt once the run is stopping (the call is then interrupted, and sent again on resume).
 *
 * @since 0.2.0
 * @category constructors
 */
export const instrument =
  (control: Control, tally: Tally) =>
  (client: HttpClient.HttpClient): HttpClient.HttpClient => {
    const refusedAnswer = Effect.map(Clock.currentTimeMillis, (now) => {
      tally.rateLimited429++
      control.trip(control.watch.refused(now))
    })
    return HttpClient.transform(client, (send) =>
      Effect.flatMap(FiberRef.get(currentCall), (call) => {
        if (control.draining) return Effect.interrupt
        if (call !== undefined) {
          call.attempts++
          call.onWire = true
        }
        return Effect.tap(send, (response) => (response.status === 429 ? refusedAnswer : Effect.void))
      })
    )
  }

/**
 * Looks at the refusal rule every second until the scope closes, since 429s may come far apart (a long
 * `Retry-After`, the adaptive limiter's slow pace).
 *
 * @since 0.2.0
 * @category constructors
 */
export const watchRefusals = (control: Control): Effect.Effect<void, never, Scope.Scope> =>
  Effect.asVoid(
    Effect.forkScoped(
      Effect.repeat(
        Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => control.trip(control.watch.check(now)))),
        Schedule.spaced("1 second")
      )
    )
  )

/**
 * The handler of one input item.
 *
 * @since 0.2.0
 * @category constructors
 */
export const handler = (
  grok: GrokClient.Service,
  journal: Journal.Journal,
  tally: Tally,
  control: Control,
  scope: Scope.Scope
): ((item: Input.Item) => Effect.Effect<void, UsageError>) => {
  const { grace, secrets } = control.settings
  const write = (record: Records.ResultLine) =>
    Effect.zipRight(
      journal.append(record),
      Effect.sync(() => tally.add(record))
    )

  // Each call's own policy: the answer has been judged; no retry once the run stops or stops calling.
  const policyFor = (call: CallState): RetryPolicy.RetryPolicy =>
    Schedule.whileInputEffect(control.settings.retry, () =>
      Effect.suspend(() => {
        call.onWire = false
        return control.draining ? Effect.interrupt : Effect.succeed(control.stop === undefined)
      })
    )

  const settle = (
    item: Input.Call,
    exit: Exit.Exit<GrokClient.ChatResult, GrokError.GrokError>,
    call: CallState,
    onCut: Effect.Effect<void, UsageError>
  ): Effect.Effect<void, UsageError> => {
    if (Exit.isSuccess(exit)) {
      return Effect.zipRight(
        Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => control.watch.success(now))),
        write(Records.ok(item.id, exit.value))
      )
    }
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure)) {
      if (control.stop === undefined && stopsTheRun(failure.value)) control.stop = Records.stopAfter(failure.value)
      return write(Records.failed(item.id, failure.value))
    }
    if (Cause.isInterruptedOnly(exit.cause)) return onCut
    return write(Records.defect(item.id, Cause.squash(exit.cause), call.attempts, secrets))
  }

  // The run stops or stops calling while this call is in flight: a request on its way gets the grace period.
  const windDown = (
    item: Input.Call,
    fiber: Fiber.RuntimeFiber<GrokClient.ChatResult, GrokError.GrokError>,
    call: CallState,
    onCut: Effect.Effect<void, UsageError>
  ) => {
    const cut = Effect.zipRight(Fiber.interrupt(fiber), onCut)
    if (!call.onWire) return cut
    return Effect.flatMap(
      // Interruptible on its own, so that the timeout can cut the wait inside our uninterruptible region.
      Effect.timeoutOption(Effect.interruptible(Fiber.await(fiber)), grace),
      Option.match({ onNone: () => cut, onSome: (exit) => settle(item, exit, call, onCut) })
    )
  }

  const send = (item: Input.Call, call: CallState) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const options = { retry: policyFor(call), ...(item.priority !== undefined ? { priority: item.priority } : {}) }
        // In the run's scope, not as our child: a child would be interrupted with us, losing its answer on its way.
        const fiber = yield* Effect.forkIn(
          restore(Effect.locally(grok.chat(item.request, options), currentCall, call)),
          scope
        )
        const woke = yield* Effect.exit(
          restore(Effect.raceFirst(Fiber.await(fiber), Effect.as(Deferred.await(control.refused), "refused" as const)))
        )
        const abandon = Effect.sync(() => void control.abandoned++)
        if (Exit.isFailure(woke)) {
          // Interrupted: the run is stopping.
          control.beginDrain()
          return yield* windDown(item, fiber, call, abandon)
        }
        const gaveUp = Effect.suspend(() =>
          write(
            call.attempts === 0
              ? Records.notSent(item.id, control.stop!)
              : Records.gaveUp(item.id, control.stop!, call.attempts)
          )
        )
        if (woke.value === "refused") return yield* windDown(item, fiber, call, gaveUp)
        return yield* settle(item, woke.value, call, control.draining ? abandon : gaveUp)
      })
    )

  const track = (item: Input.Call) =>
    Effect.suspend(() => {
      const call = new CallState()
      control.active.add(call)
      return Effect.ensuring(
        send(item, call),
        Effect.sync(() => control.active.delete(call))
      )
    })

  return (item) => {
    if (item._tag === "Invalid") return write(item.record)
    return Effect.suspend(() =>
      control.stop !== undefined ? write(Records.notSent(item.id, control.stop)) : track(item)
    )
  }
}
