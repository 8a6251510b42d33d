/**
 * Time slices for the library's calls. Effect's default scheduler runs fibers in microtasks, so many calls started
 * at once (10,000 forked with `concurrency: "unbounded"`) all run their preparation before the event loop gets a
 * turn: timers, sockets and the answers of the calls already admitted wait for seconds. A call looks at the slice
 * once, when it starts: while the current macrotask has run for less than a slice, it runs on the caller's
 * scheduler at no cost. Past that, it waits, unbuilt, for a later turn to let it in, then runs on this scheduler,
 * whose held tasks run a slice at a time after timers and I/O.
 */
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Scheduler from "effect/Scheduler"
import * as FiberClock from "../fiberClock.js"

export interface Options {
  /** How long the event loop may be kept busy before the waiting tasks are handed to a later turn. */
  readonly sliceMillis: number
  /** A monotonic clock in milliseconds. */
  readonly now: () => number
  /** Runs a callback in a later turn of the event loop, after timers and I/O (setImmediate in Node). */
  readonly later: (run: () => void) => void
  /** Where tasks go while the slice lasts. */
  readonly base: Scheduler.Scheduler
}

/** How many `shouldYield` calls pass between two looks at the clock: reading it on every operation costs more. */
const CHECK_EVERY = 32

/** A first-in first-out list, O(1) at both ends. */
const fifo = <T = Scheduler.Task>() => {
  let items: Array<T | undefined> = []
  let head = 0
  return {
    get size() {
      return items.length - head
    },
    push: (task: T) => void items.push(task),
    shift: (): T => {
      const task = items[head]!
      items[head++] = undefined
      if (head === items.length) {
        items = []
        head = 0
      } else if (head > 1024 && head * 2 > items.length) {
        items = items.slice(head)
        head = 0
      }
      return task
    }
  }
}

/**
 * A scheduler that gives the event loop back once a slice is spent. Held work runs in three lists: fibers woken by
 * something (an answer, an admission), then fibers that only yielded because the slice was spent, then calls held
 * at their start (`waitTurn`), so that calls already under way are not held behind the preparation of thousands of
 * new ones.
 */
export interface Sliced extends Scheduler.Scheduler {
  /** Whether the current macrotask has run past its slice (the first look in a turn opens the slice). */
  readonly spent: () => boolean
  /**
   * Holds `fiber`, on its own scheduler, until a later turn lets it in, first in first out. Cheaper than moving
   * to this scheduler and yielding, which matters in the turn that forks thousands of calls: 2 run-loop steps
   * and no FiberRefs map copy, against 19 and 2. No canceler: an interrupted fiber is skipped when its turn comes
   * (its resume would do nothing), which spares each held call the interruption handler Effect wraps a canceler
   * in.
   */
  readonly waitTurn: (fiber: Fiber.RuntimeFiber<unknown, unknown>) => Effect.Effect<void>
  /** How many calls wait at their start, interrupted ones included until their turn drops them. */
  readonly held: () => number
}

/** A call held at its start: `enter` lets it in, unless its fiber ended (was interrupted) while it waited. */
interface Held {
  readonly fiber: Fiber.RuntimeFiber<unknown, unknown>
  readonly enter: (effect: Effect.Effect<void>) => void
}

/** The slice of the current turn: opened by the first look at it (or by a drain), closed when the turn ends. */
const sliceClock = ({ sliceMillis, now, later }: Options) => {
  // When the open slice started, or -1; its number, so that only its own end-of-turn callback closes it.
  let openedAt = -1
  let slice = 0
  // Latched once the open slice is spent, so that every fiber yields at its next operation without a clock read.
  let over = false
  const close = () => {
    openedAt = -1
    over = false
    slice++
  }
  const open = (at: number) => {
    openedAt = at
    over = false
    const own = ++slice
    later(() => {
      if (slice === own) close()
    })
  }
  const spent = (): boolean => {
    if (over) return true
    const at = now()
    if (openedAt < 0) {
      open(at)
      return false
    }
    over = at - openedAt >= sliceMillis
    return over
  }
  return { spent, close, open: () => open(now()), isOver: () => over }
}

/** The work held for later turns, and the turns that run it a slice at a time. */
const heldWork = ({ spent, open, close }: ReturnType<typeof sliceClock>, later: Options["later"]) => {
  const woken = fifo()
  const yielded = fifo()
  const starting = fifo<Held>()
  let draining = false

  const drain = () => {
    draining = false
    // A task run by the previous turn may have asked for this one and the previous turn ran what it queued.
    if (woken.size + yielded.size + starting.size === 0) return
    open()
    // At least one task per turn, so that a slice shorter than one task still makes progress.
    if (woken.size + yielded.size > 0) {
      do (woken.size > 0 ? woken : yielded).shift()()
      while (woken.size + yielded.size > 0 && !spent())
    }
    letIn()
  }
  // Held calls go last, one at a time. One let in runs on its own scheduler, in microtasks: the next look at the
  // clock is a microtask later, after the call has run to its first wait.
  const letIn = (): void => {
    while (starting.size > 0 && !spent()) {
      const held = starting.shift()
      if (held.fiber.unsafePoll() === null) {
        held.enter(Effect.void)
        return queueMicrotask(letIn)
      }
    }
    if (woken.size + yielded.size + starting.size > 0) schedule()
    // The turn's slice ends with it: the I/O callbacks of the next turn (answers arriving) get a slice of their own
    // instead of finding this one spent until the next drain.
    close()
  }
  const schedule = () => {
    if (draining) return
    draining = true
    later(drain)
  }
  const hold = <T>(list: { push: (item: T) => void }, item: T) => {
    list.push(item)
    schedule()
  }
  return { woken, yielded, starting, hold }
}

export const make = (options: Options): Sliced => {
  const { base } = options
  const clock = sliceClock(options)
  const { spent, isOver } = clock
  const { woken, yielded, starting, hold } = heldWork(clock, options.later)
  let ticks = 0
  // The fiber just told to yield: its next task is a yield, not a wake-up.
  let yielding: unknown = undefined

  const waitTurn = (fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
    Effect.async<void>((enter) => hold(starting, { fiber, enter }))

  return {
    spent,
    waitTurn,
    held: () => starting.size,
    shouldYield: (fiber) => {
      const yieldNow = base.shouldYield(fiber)
      if (yieldNow !== false) return yieldNow
      if (!isOver() && (++ticks % CHECK_EVERY !== 0 || !spent())) return false
      yielding = fiber
      return fiber.getFiberRef(FiberRef.currentSchedulingPriority)
    },
    scheduleTask: (task, priority, fiber) => {
      const isYield = fiber !== undefined && fiber === yielding
      if (isYield) yielding = undefined
      // Within the slice a task runs at once, even past held ones: at the start of a turn these are the answers of
      // calls already sent. The base scheduler runs every task it was given in one go, however long that takes (the
      // interruption of 10,000 calls tells them all within the first milliseconds): a task looks at the slice again
      // when it runs, and waits for a later turn if the slice was spent in between.
      const list = isYield ? yielded : woken
      if (spent()) return hold(list, task)
      base.scheduleTask(() => (spent() ? hold(list, task) : task()), priority, fiber)
    }
  }
}

const nextTurn: (run: () => void) => void =
  typeof setImmediate === "function" ? (run) => void setImmediate(run) : (run) => void setTimeout(run, 0)

/** The slice of the library's calls: 10 ms keeps a 100 ms event-loop target with room for garbage collection. */
export const SLICE_MILLIS = 10

export const scheduler: Sliced = make({
  sliceMillis: SLICE_MILLIS,
  now: () => performance.now(),
  later: nextTurn,
  base: Scheduler.defaultScheduler
})

/**
 * Runs the call `build` makes in time slices when it starts past the current slice. Only on Effect's default
 * scheduler and clock: a program that chose its own scheduler keeps it, and under a test clock every fiber must
 * reach its next wait before virtual time moves, which a fiber handed to a later real turn would not. A call
 * started within the slice costs one operation (the scheduler and clock are read from the fiber itself). A call
 * started past it waits for a later turn to let it in, then runs on the sliced scheduler, so that its wake-ups and
 * its interruption run in slices too. The call is built only when it is let in: thousands held in one turn hold
 * only what `build` closes over, which is less for the garbage collector to copy while that turn lasts.
 */
export const slicedLazyOn =
  (sliced: Sliced) =>
  <A, E, R>(build: () => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiberRuntime((fiber) =>
      fiber.currentScheduler === Scheduler.defaultScheduler &&
      FiberClock.isLive(FiberClock.clockOf(fiber)) &&
      sliced.spent()
        ? Effect.flatMap(sliced.waitTurn(fiber), () => Effect.withScheduler(build(), sliced))
        : build()
    )

/** `slicedLazyOn` for a call already built. */
export const slicedOn =
  (sliced: Sliced) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    slicedLazyOn(sliced)(() => effect)

/** Runs a call in the time slices of the library's scheduler. */
export const sliced: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> = slicedOn(scheduler)

/** Runs the call `build` makes in the time slices of the library's scheduler, building it when it is let in. */
export const slicedLazy: <A, E, R>(build: () => Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> =
  slicedLazyOn(scheduler)
