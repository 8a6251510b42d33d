/**
 * The shared state of the calls of one run, and the hooks through which it sees them: the HTTP layer (attempts,
 * requests on their way, 429 answers) and each call's retry policy (no retry once the run stops or stops calling).
 *
 * @since 0.2.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { RetryPolicy } from "grok-resilience"
import * as Format from "./format.js"
import type * as Records from "./records.js"
import { RefusalWatch } from "./refusal.js"
import type { Tally } from "./tally.js"

/**
 * What the run knows of one call in flight: set by the HTTP layer and the retry policy of that call.
 *
 * @since 0.2.0
 * @category models
 */
export class CallState {
  attempts = 0
  /** A request was sent and its answer has not been judged yet. */
  onWire = false
}

/**
 * The call a request belongs to: the HTTP layer runs in the call's fiber (or a child), which inherits it.
 *
 * @since 0.2.0
 * @category models
 */
export const currentCall = FiberRef.unsafeMake<CallState | undefined>(undefined)

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
  /** Called once when the refusal rule trips: the handlers of calls waiting for quota or a retry stop waiting. */
  private readonly refusedListeners = new Set<() => void>()
  private refused = false
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
    if (this.refused) return
    this.refused = true
    const listeners = [...this.refusedListeners]
    this.refusedListeners.clear()
    for (const listener of listeners) listener()
  }

  /** Calls `listener` when the refusal rule trips (at once if it has tripped). */
  onRefused(listener: () => void): void {
    if (this.refused) listener()
    else this.refusedListeners.add(listener)
  }

  offRefused(listener: () => void): void {
    this.refusedListeners.delete(listener)
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
      Effect.withFiberRuntime((fiber) => {
        if (control.draining) return Effect.interrupt
        const call = fiber.getFiberRef(currentCall)
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
 * A call's own retry policy: marks the answer as judged, refuses a retry once the run stops calling, and ends the
 * call (interrupted, unwritten) once the run is stopping.
 *
 * @since 0.2.0
 * @category constructors
 */
export const policyFor = (control: Control, call: CallState): RetryPolicy.RetryPolicy =>
  Schedule.whileInputEffect(control.settings.retry, () =>
    Effect.suspend(() => {
      call.onWire = false
      return control.draining ? Effect.interrupt : Effect.succeed(control.stop === undefined)
    })
  )
