/**
 * A lock that hands itself to the next waiter, first come first served. Effect's `Semaphore` wakes every waiter
 * when it is released and lets them race for it, which is O(waiters) per release: with thousands of calls waiting
 * for one breaker's lock (a holder that yields lets all of them pile up), that is O(n²) and stalls the event loop.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"

export interface Mutex {
  /** Runs `self` holding the lock; waiting for it can be interrupted. */
  readonly withLock: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Whether anyone holds the lock or waits for it now. A caller that finds it free may change what the lock guards
   * in one synchronous step (nothing else runs meanwhile), and so skips the line without jumping it.
   */
  readonly isFree: () => boolean
}

export const make = (): Mutex => {
  let locked = false
  // A Set keeps insertion order and removes an interrupted waiter in O(1).
  const waiters = new Set<Deferred.Deferred<void>>()

  const release = Effect.sync(() => {
    const next = waiters.values().next()
    if (next.done === true) {
      locked = false
      return
    }
    waiters.delete(next.value)
    Deferred.unsafeDone(next.value, Effect.void)
  })

  const acquire = Effect.suspend(() => {
    if (!locked) {
      locked = true
      return Effect.void
    }
    return Effect.flatMap(Deferred.make<void>(), (handed) => {
      waiters.add(handed)
      return Effect.onInterrupt(Deferred.await(handed), () =>
        // Still waiting: leave the line. Already handed the lock: pass it on, or nobody ever gets it again.
        waiters.delete(handed) ? Effect.void : release
      )
    })
  })

  return {
    isFree: () => !locked,
    withLock: (self) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.zipRight(restore(acquire), Effect.ensuring(restore(self), release))
      )
  }
}
