import { describe, expect, it } from "@effect/vitest"
import { Effect, FiberRef, Scheduler } from "effect"
import * as Fiber from "effect/Fiber"
import * as TimeSlice from "../src/internal/client/timeSlice.js"

/** A scheduler over a hand-driven clock and a hand-driven list of later turns. */
const rig = (sliceMillis = 10) => {
  const clock = { now: 0 }
  const turns: Array<() => void> = []
  const ranOnBase: Array<string> = []
  const base: Scheduler.Scheduler = {
    shouldYield: () => false,
    scheduleTask: (task) => {
      ranOnBase.push("base")
      task()
    }
  }
  const scheduler = TimeSlice.make({ sliceMillis, now: () => clock.now, later: (run) => turns.push(run), base })
  const nextTurn = () => {
    const pending = turns.splice(0, turns.length)
    for (const run of pending) run()
  }
  return { clock, turns, ranOnBase, scheduler, nextTurn }
}

/** A sliced scheduler over a hand-driven clock and later turns, on Effect's default scheduler, to run effects on. */
const effectRig = () => {
  const clock = { now: 0 }
  const turns: Array<() => void> = []
  const scheduler = TimeSlice.make({
    sliceMillis: 10,
    now: () => clock.now,
    later: (run) => turns.push(run),
    base: Scheduler.defaultScheduler
  })
  const nextTurn = () => {
    const pending = turns.splice(0, turns.length)
    for (const run of pending) run()
  }
  return { clock, turns, scheduler, nextTurn }
}

/** Lets the fibers started so far run to their next wait. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

const fiber = { getFiberRef: () => 0 } as unknown as Fiber.RuntimeFiber<unknown, unknown>

describe("TimeSlice", () => {
  it("runs tasks at once while the slice lasts and holds them for a later turn once it is spent", () => {
    const { clock, ranOnBase, scheduler, nextTurn } = rig()
    const ran: Array<string> = []
    scheduler.scheduleTask(() => ran.push("a"), 0)
    expect(ran).toEqual(["a"])
    clock.now = 10
    scheduler.scheduleTask(() => ran.push("b"), 0)
    scheduler.scheduleTask(() => ran.push("c"), 0)
    expect(ran).toEqual(["a"])
    nextTurn()
    expect(ran).toEqual(["a", "b", "c"])
    expect(ranOnBase).toEqual(["base"])
  })

  it("a later turn runs held tasks in order, only until its own slice is spent", () => {
    const { clock, scheduler, nextTurn, turns } = rig()
    const ran: Array<number> = []
    scheduler.scheduleTask(() => undefined, 0)
    clock.now = 10
    for (let i = 1; i <= 5; i++) {
      scheduler.scheduleTask(() => {
        ran.push(i)
        clock.now += 4
      }, 0)
    }
    nextTurn()
    expect(ran).toEqual([1, 2, 3])
    expect(turns.length).toBeGreaterThan(0)
    nextTurn()
    expect(ran).toEqual([1, 2, 3, 4, 5])
  })

  it("a later turn runs woken fibers before fibers that only yielded because the slice was spent", () => {
    const { clock, scheduler, nextTurn } = rig()
    const yielder = { getFiberRef: () => 0 } as unknown as Fiber.RuntimeFiber<unknown, unknown>
    const wokenOne = { getFiberRef: () => 0 } as unknown as Fiber.RuntimeFiber<unknown, unknown>
    const ran: Array<string> = []
    scheduler.scheduleTask(() => undefined, 0)
    clock.now = 10
    let answer: number | false = false
    for (let i = 0; i < 32 && answer === false; i++) answer = scheduler.shouldYield(yielder)
    expect(answer).toBe(0)
    scheduler.scheduleTask(() => ran.push("yielded"), 0, yielder)
    scheduler.scheduleTask(() => ran.push("woken"), 0, wokenOne)
    nextTurn()
    expect(ran).toEqual(["woken", "yielded"])
  })

  it("a task given to the base scheduler within the slice waits for a later turn if the slice is spent before it runs", () => {
    const clock = { now: 0 }
    const turns: Array<() => void> = []
    // A base that runs what it was given in one batch later, as Effect's default scheduler does.
    const batch: Array<() => void> = []
    const base: Scheduler.Scheduler = { shouldYield: () => false, scheduleTask: (task) => void batch.push(task) }
    const scheduler = TimeSlice.make({ sliceMillis: 10, now: () => clock.now, later: (run) => turns.push(run), base })
    const ran: Array<number> = []
    for (let i = 1; i <= 3; i++) {
      scheduler.scheduleTask(() => {
        ran.push(i)
        clock.now += 10
      }, 0)
    }
    expect(batch.length).toBe(3)
    for (const task of batch.splice(0)) task()
    // The first spent the slice: the other two were not run by the base's batch.
    expect(ran).toEqual([1])
    for (const run of turns.splice(0)) run()
    expect(ran).toEqual([1, 2])
    for (const run of turns.splice(0)) run()
    expect(ran).toEqual([1, 2, 3])
  })

  it("a turn runs at least one task, however long it takes", () => {
    const { clock, scheduler, nextTurn } = rig(1)
    const ran: Array<number> = []
    scheduler.scheduleTask(() => undefined, 0)
    clock.now = 5
    for (let i = 1; i <= 2; i++) {
      scheduler.scheduleTask(() => {
        ran.push(i)
        clock.now += 50
      }, 0)
    }
    nextTurn()
    expect(ran).toEqual([1])
    nextTurn()
    expect(ran).toEqual([1, 2])
  })

  it("tells a running fiber to yield once the slice is spent, looking at the clock every 32 operations", () => {
    const { clock, scheduler, nextTurn } = rig()
    const answers = () => Array.from({ length: 32 }, () => scheduler.shouldYield(fiber))
    expect(answers().every((answer) => answer === false)).toBe(true)
    clock.now = 9
    expect(answers().every((answer) => answer === false)).toBe(true)
    clock.now = 10
    const spent = answers()
    expect(spent.slice(0, 31).every((answer) => answer === false)).toBe(true)
    expect(spent[31]).toBe(0)
    // Spent is spent until the turn ends: the next operation yields without waiting for the next look.
    expect(scheduler.shouldYield(fiber)).toBe(0)
    // The turn ended: a new slice starts with the next look at the clock.
    nextTurn()
    expect(answers().every((answer) => answer === false)).toBe(true)
  })

  it("lets timers run while many fibers work, which the default scheduler does not", async () => {
    let reads = 0
    const scheduler = TimeSlice.make({
      sliceMillis: 1,
      // A clock that moves with the work: every reading is a tenth of a millisecond later.
      now: () => ++reads / 10,
      later: (run) => void setImmediate(run),
      base: Scheduler.defaultScheduler
    })
    const finishedBeforeTimer = async (chosen: Scheduler.Scheduler) => {
      let finished = 0
      const timer = new Promise<number>((resolve) => setTimeout(() => resolve(finished), 0))
      const work = Effect.forEach(
        Array.from({ length: 2000 }, (_, i) => i),
        () => Effect.void,
        { discard: true }
      )
      const one = Effect.tap(Effect.withScheduler(work, chosen), () => Effect.sync(() => finished++))
      await Effect.runPromise(
        Effect.forEach(
          Array.from({ length: 50 }, () => one),
          (effect) => effect,
          { concurrency: "unbounded", discard: true }
        )
      )
      return timer
    }
    expect(await finishedBeforeTimer(Scheduler.defaultScheduler)).toBe(50)
    expect(await finishedBeforeTimer(scheduler)).toBeLessThan(50)
  })

  it("a call started within the slice stays on the caller's scheduler", async () => {
    const { scheduler, turns } = effectRig()
    const current = TimeSlice.slicedOn(scheduler)(FiberRef.get(FiberRef.currentScheduler))
    expect(await Effect.runPromise(current)).toBe(Scheduler.defaultScheduler)
    // Nothing was held: the only later turn asked for is the one that closes the slice.
    expect(turns.length).toBe(1)
  })

  it("a call started past the slice runs on the sliced scheduler from a later turn, then gives the caller its own back", async () => {
    const { clock, scheduler, nextTurn } = effectRig()
    const seen: Array<string> = []
    const call = TimeSlice.slicedOn(scheduler)(
      Effect.map(FiberRef.get(FiberRef.currentScheduler), (current) => {
        seen.push("call")
        return current
      })
    )
    expect(scheduler.spent()).toBe(false)
    clock.now = 10
    const done = Effect.runPromise(
      Effect.flatMap(call, (inside) =>
        Effect.map(FiberRef.get(FiberRef.currentScheduler), (after) => ({ inside, after }))
      )
    )
    await settle()
    // Held: the call has not run, and waits for the turn the test drives.
    expect(seen).toEqual([])
    nextTurn()
    expect(await done).toEqual({ inside: scheduler, after: Scheduler.defaultScheduler })
    expect(seen).toEqual(["call"])
  })

  it("lets held calls in first in first out, after woken tasks, only while the slice lasts", async () => {
    const { clock, scheduler, nextTurn, turns } = effectRig()
    const ran: Array<string> = []
    const call = (name: string) =>
      TimeSlice.slicedOn(scheduler)(
        Effect.sync(() => {
          ran.push(name)
          clock.now += 6
        })
      )
    expect(scheduler.spent()).toBe(false)
    clock.now = 10
    const calls = ["a", "b", "c"].map((name) => Effect.runPromise(call(name)))
    scheduler.scheduleTask(() => ran.push("woken"), 0)
    await settle()
    expect(ran).toEqual([])
    nextTurn()
    await settle()
    // The turn opened at 10: "woken", then "a" (16) and "b" (22, spent): "c" waits for the next turn.
    expect(ran).toEqual(["woken", "a", "b"])
    expect(turns.length).toBeGreaterThan(0)
    nextTurn()
    await Promise.all(calls)
    expect(ran).toEqual(["woken", "a", "b", "c"])
  })

  it("never lets in a held call interrupted while it waits, and drops any number of them in one turn", async () => {
    const { clock, scheduler, nextTurn } = effectRig()
    const ran: Array<number> = []
    const call = (i: number) => TimeSlice.slicedOn(scheduler)(Effect.sync(() => ran.push(i)))
    expect(scheduler.spent()).toBe(false)
    clock.now = 10
    const fibers = Array.from({ length: 1000 }, (_, i) => Effect.runFork(call(i)))
    await settle()
    expect(scheduler.held()).toBe(1000)
    await Effect.runPromise(Fiber.interruptAll(fibers.slice(0, 999)))
    // One turn drops the 999 interrupted calls at once, nothing of theirs run, and lets the last in: the held list
    // keeps nothing of them.
    nextTurn()
    expect(scheduler.held()).toBe(0)
    await Effect.runPromise(Fiber.await(fibers[999]!))
    expect(ran).toEqual([999])
  })

  it("a program that chose its own scheduler keeps it, even past the slice", async () => {
    const { clock, scheduler } = effectRig()
    expect(scheduler.spent()).toBe(false)
    clock.now = 10
    const own = Scheduler.makeBatched((run) => queueMicrotask(run))
    const current = TimeSlice.slicedOn(scheduler)(FiberRef.get(FiberRef.currentScheduler))
    expect(await Effect.runPromise(Effect.withScheduler(current, own))).toBe(own)
  })

  it.effect("leaves calls under a test clock on the default scheduler, so that virtual time waits for them", () =>
    Effect.gen(function* () {
      expect(yield* TimeSlice.sliced(FiberRef.get(FiberRef.currentScheduler))).toBe(Scheduler.defaultScheduler)
    })
  )
})
