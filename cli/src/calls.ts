/**
 * One input item through to its results line, and the rules of the run around the calls in flight:
 *
 * - Stopping (Ctrl-C, SIGTERM): no call starts another attempt; a call whose request is on its way gets up to
 *   `--grace` (default 5 s) for its answer, which is journaled; the others are abandoned unwritten, so the same
 *   command sends them again.
 * - Stopping calling (a refused key, no credits, or a server that refused every call for `--give-up-after`): no call
 *   is sent or retried; each id gets a line. After a refusal, calls waiting for quota or a retry get a "Gave up"
 *   line, and a call on its way gets `--grace` for its answer.
 * - A defect inside one call (a bug, or an answer beyond what the client can handle) fails that id, not the run.
 *
 * @since 0.2.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { GrokError } from "grok-resilience"
import { CallState, type Control, currentCall, policyFor } from "./control.js"
import type { UsageError } from "./errors.js"
import type * as Input from "./input.js"
import type * as Journal from "./journal.js"
import * as Records from "./records.js"
import type * as Send from "./send.js"
import type { Tally } from "./tally.js"

/** An error after which no other call can succeed: the key is refused or the credits are gone. */
const stopsTheRun = (error: GrokError.GrokError): boolean =>
  (error._tag === "AuthError" && error.reason === "InvalidKey") || error._tag === "QuotaExhausted"

/** What the functions of one run share. */
interface Run {
  readonly send: Send.Send
  readonly control: Control
  readonly scope: Scope.Scope
  readonly write: (record: Records.ResultLine) => Effect.Effect<void, UsageError>
}

type CallFiber = Fiber.RuntimeFiber<Send.Answer, GrokError.GrokError>

/** Writes the line a finished call earned; `onCut` when it ended interrupted (stopping, or given up). */
const settle = (
  run: Run,
  item: Input.Call,
  exit: Exit.Exit<Send.Answer, GrokError.GrokError>,
  call: CallState,
  onCut: Effect.Effect<void, UsageError>
): Effect.Effect<void, UsageError> => {
  const { control } = run
  if (Exit.isSuccess(exit)) {
    const answer = exit.value
    return Effect.clockWith((clock) => {
      control.watch.success(clock.unsafeCurrentTimeMillis())
      // A fallback model that answered (`--fallback-model`) is named in the line.
      return run.write(Records.ok(item.id, answer, answer.model !== item.request.model ? answer.model : undefined))
    })
  }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    if (control.stop === undefined && stopsTheRun(failure.value)) control.stop = Records.stopAfter(failure.value)
    return run.write(Records.failed(item.id, failure.value))
  }
  if (Cause.isInterruptedOnly(exit.cause)) return onCut
  return run.write(Records.defect(item.id, Cause.squash(exit.cause), call.attempts, control.settings.secrets))
}

/** The run stops or stops calling while this call is in flight: a request on its way gets the grace period. */
const windDown = (
  run: Run,
  item: Input.Call,
  fiber: CallFiber,
  call: CallState,
  onCut: Effect.Effect<void, UsageError>
): Effect.Effect<void, UsageError> => {
  const cut = Effect.zipRight(Fiber.interrupt(fiber), onCut)
  if (!call.onWire) return cut
  return Effect.flatMap(
    // Interruptible on its own, so that the timeout can cut the wait inside our uninterruptible region.
    Effect.timeoutOption(Effect.interruptible(Fiber.await(fiber)), run.control.settings.grace),
    Option.match({ onNone: () => cut, onSome: (exit) => settle(run, item, exit, call, onCut) })
  )
}

/** What woke the handler of a call: the call's end, or the refusal rule tripping while it was under way. */
type Woke = Exit.Exit<Send.Answer, GrokError.GrokError> | "refused"

/**
 * Waits for the call's end or the refusal rule, whichever comes first: two observers, no racing fibers (a race
 * forks a fiber per side and joins their FiberRefs back, for every call). Interrupting the wait removes both.
 */
const awaitCall = (control: Control, fiber: CallFiber): Effect.Effect<Woke> =>
  Effect.async<Woke>((resume) => {
    const onExit = (exit: Exit.Exit<Send.Answer, GrokError.GrokError>) => {
      control.offRefused(onRefused)
      resume(Effect.succeed(exit))
    }
    const onRefused = () => {
      fiber.removeObserver(onExit)
      resume(Effect.succeed("refused" as const))
    }
    fiber.addObserver(onExit)
    // The fiber may have ended already (addObserver then called onExit at once).
    if (fiber.unsafePoll() === null) control.onRefused(onRefused)
    return Effect.sync(() => {
      fiber.removeObserver(onExit)
      control.offRefused(onRefused)
    })
  })

/** The call itself, in its own fiber: the HTTP layer finds its `CallState` through `currentCall`. */
const sendCall = (run: Run, item: Input.Call, call: CallState): Effect.Effect<Send.Answer, GrokError.GrokError> => {
  const options = {
    retry: policyFor(run.control, call),
    ...(item.priority !== undefined ? { priority: item.priority } : {})
  }
  // Set in the call's own fiber, which ends with the call: nothing to restore.
  return Effect.zipRight(FiberRef.set(currentCall, call), run.send(item, options))
}

/** What the handler does once woken: write the line the call earned, or give up on it after a refusal. */
const afterWake = (run: Run, item: Input.Call, fiber: CallFiber, call: CallState, woke: Woke) => {
  const { control } = run
  const gaveUp = Effect.suspend(() =>
    run.write(
      call.attempts === 0
        ? Records.notSent(item.id, control.stop!)
        : Records.gaveUp(item.id, control.stop!, call.attempts)
    )
  )
  if (woke === "refused") return windDown(run, item, fiber, call, gaveUp)
  return settle(run, item, woke, call, control.draining ? abandon(control) : gaveUp)
}

const abandon = (control: Control) => Effect.sync(() => void control.abandoned++)

/** Makes one call in the run's scope and writes its line (or leaves it for the resume). */
const callOnce = (run: Run, item: Input.Call, call: CallState): Effect.Effect<void, UsageError> =>
  Effect.uninterruptibleMask((restore) =>
    // In the run's scope, not as our child: a child would be interrupted with us, losing its answer on its way.
    Effect.flatMap(Effect.forkIn(restore(sendCall(run, item, call)), run.scope), (fiber) =>
      Effect.flatMap(Effect.exit(restore(awaitCall(run.control, fiber))), (woke) => {
        if (Exit.isSuccess(woke)) return afterWake(run, item, fiber, call, woke.value)
        // Interrupted: the run is stopping.
        run.control.beginDrain()
        return windDown(run, item, fiber, call, abandon(run.control))
      })
    )
  )

/**
 * The handler of one input item. Calls run in `scope` (the run's), so that the handler can give them the grace
 * period when it is interrupted.
 *
 * @since 0.2.0
 * @category constructors
 */
export const handler = (
  send: Send.Send,
  journal: Journal.Journal,
  tally: Tally,
  control: Control,
  scope: Scope.Scope
): ((item: Input.Item) => Effect.Effect<void, UsageError>) => {
  const write = (record: Records.ResultLine) => Effect.map(journal.append(record), () => tally.add(record))
  const run: Run = { send, control, scope, write }
  const track = (item: Input.Call) =>
    Effect.suspend(() => {
      const call = new CallState()
      control.active.add(call)
      return Effect.ensuring(
        callOnce(run, item, call),
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
