/**
 * The admission engine behind `RateLimiter.layer`: the waiters' priority queue, one dispatcher fiber that admits
 * the head when the concurrency cap, the holds and the store's budget allow, permits that settle and release,
 * and the feedback rules (cooldown after a 429, hold at `remaining: 0`, adaptive rate).
 *
 * Every wait is an Effect `sleep` on the `Clock`; all shared state is mutated only in synchronous sections.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as AdaptiveRate from "./AdaptiveRate.js"
import { Rejected } from "./GrokError.js"
import type * as LimiterOptions from "./LimiterOptions.js"
import * as MemoryStore from "./MemoryStore.js"
import * as PriorityQueue from "./PriorityQueue.js"
import type { Feedback, Permit, Priority, Service, Snapshot, Ticket } from "./RateLimiter.js"
import * as RateLimiterStore from "./RateLimiterStore.js"
import type { BodyLimitHint, RateLimitInfo } from "./RateLimitHeaders.js"
import { windowMillis } from "./RateLimitHeaders.js"

const RANKS: Readonly<Record<Priority, number>> = { critical: 0, high: 1, normal: 2, low: 3 }

/** An admitted attempt's share of the budget, until it is reported and released. */
interface Grant {
  readonly key: string
  readonly tokens: number
  readonly admittedAtMillis: number
  /** The caller waited for the rate, the hold or the cap: demand exceeded what was admitted. */
  readonly delayed: boolean
  /** The store that took the reservation (the configured one, or the local fallback). */
  readonly store: RateLimiterStore.Service
  reported: boolean
  released: boolean
}

interface Waiter {
  readonly key: string
  readonly tokens: number
  readonly deferred: Deferred.Deferred<Grant, Rejected>
  entry: PriorityQueue.Entry<Waiter> | undefined
  grant: Grant | undefined
  delayed: boolean
}

interface KeyState {
  /** Local mirror of the store's hold, in Clock millis. */
  holdUntil: number
  /** A cooldown start was logged and its end is still to be logged. */
  cooling: boolean
  adaptive: AdaptiveRate.State | undefined
}

const rejected = (reason: Rejected["reason"]) => new Rejected({ reason })

const exhaustedResetMillis = (info: RateLimitInfo): number =>
  Math.max(
    info.requests?.remaining === 0 ? (info.requests.resetMillis ?? 0) : 0,
    info.tokens?.remaining === 0 ? (info.tokens.resetMillis ?? 0) : 0
  )

/**
 * How long a 429 whose body named the limit holds: the share of the window taken by the excess
 * (`(actual − limit) / limit`, at least one unit's interval, at most the whole window).
 */
const hintWaitMillis = (hint: BodyLimitHint | undefined): number | undefined => {
  if (hint === undefined || !(hint.limit > 0)) return undefined
  const share = Math.min(1, Math.max(1, hint.actual - hint.limit) / hint.limit)
  return windowMillis(hint.per) * share
}

/**
 * Starts the admission engine of one limiter in the current scope: a dispatcher fiber that admits queue heads
 * while the concurrency cap, the holds and the store allow, and the `acquire`/`report` logic around it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  settings: LimiterOptions.Settings,
  store: RateLimiterStore.Service
): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const queue = PriorityQueue.make<Waiter>(4)
    /** Queued waiters per key, so that a round can stop as soon as every key in the queue is blocked. */
    const queuedPerKey = new Map<string, number>()
    const keys = new Map<string, KeyState>()
    const wake = yield* Queue.dropping<void>(1)
    const fallback = MemoryStore.fromCore(MemoryStore.makeCore())
    let inFlight = 0
    let alarmAt = Number.POSITIVE_INFINITY
    let storeDown = false
    /**
     * Per key, the first waiter the store last refused, and until when asking again for it is pointless unless the
     * key's budget changes. Kept per key so that one refused key never holds up the waiters of the others.
     */
    const blocked = new Map<string, { readonly entry: PriorityQueue.Entry<Waiter>; readonly until: number }>()
    /** The waiter a round is deciding on: if the round dies, that waiter fails rather than retrying forever. */
    let deciding: Waiter | undefined

    const signal = () => {
      Queue.unsafeOffer(wake, undefined)
    }
    const budgetChanged = (key: string) => {
      blocked.delete(key)
      signal()
    }

    const enqueue = (waiter: Waiter, rank: number) => {
      queuedPerKey.set(waiter.key, (queuedPerKey.get(waiter.key) ?? 0) + 1)
      return queue.push(waiter, rank)
    }
    const left = (key: string) => {
      const count = (queuedPerKey.get(key) ?? 1) - 1
      if (count > 0) queuedPerKey.set(key, count)
      else queuedPerKey.delete(key)
    }
    /** Takes an entry out of the queue; false when it had already left. */
    const leave = (entry: PriorityQueue.Entry<Waiter>): boolean => {
      if (!queue.remove(entry)) return false
      left(entry.value.key)
      return true
    }
    const popLowest = () => {
      const entry = queue.popLowest()
      if (entry !== undefined) left(entry.value.key)
      return entry
    }
    const fail = (waiter: Waiter, reason: Rejected["reason"]) => {
      Deferred.unsafeDone(waiter.deferred, Effect.fail(rejected(reason)))
    }
    const keyOf = (ticket: Ticket) => (settings.perModel ? `${settings.key}:${ticket.model}` : settings.key)
    const stateOf = (key: string): KeyState => {
      let state = keys.get(key)
      if (state === undefined) {
        state = { holdUntil: 0, cooling: false, adaptive: settings.adaptive && AdaptiveRate.initial(settings.adaptive) }
        keys.set(key, state)
      }
      return state
    }
    const limitsOf = (state: KeyState): RateLimiterStore.Limits => {
      const learned = state.adaptive?.tokensPerSecond
      const tokens =
        settings.tokens ??
        (learned !== undefined ? { intervalMillis: 1000 / learned, burst: Math.max(1, learned) } : undefined)
      const requests =
        state.adaptive !== undefined
          ? { intervalMillis: 1000 / state.adaptive.rate, burst: settings.burst }
          : settings.requests
      return { ...(requests !== undefined ? { requests } : {}), ...(tokens !== undefined ? { tokens } : {}) }
    }

    /**
     * Wakes the dispatcher at `until` unless an earlier wake-up is already set. Sleeps are whole milliseconds and
     * at least one, so that rounding can never spin the dispatcher at one instant.
     */
    const alarm = (until: number, now: number): Effect.Effect<void> => {
      const delay = Math.max(1, Math.ceil(until - now))
      const at = now + delay
      if (alarmAt <= at) return Effect.void
      alarmAt = at
      const ring = Effect.sync(() => {
        if (alarmAt === at) alarmAt = Number.POSITIVE_INFINITY
        signal()
      })
      return Effect.asVoid(Effect.forkIn(Effect.zipRight(Effect.sleep(delay), ring), scope))
    }

    const storeFailed = (error: RateLimiterStore.RateLimiterStoreError) =>
      Effect.suspend(() => {
        if (storeDown) return Effect.void
        storeDown = true
        const next = settings.onStoreError === "fallback" ? "pacing this process alone" : "rejecting calls"
        return Effect.logWarning(`RateLimiter: ${error.message}; ${next} until it answers again`)
      })

    /** Runs one store operation, turning a defect of the store (a bug, a throw) into its typed error. */
    const storeCall = <A>(
      operation: RateLimiterStore.RateLimiterStoreError["operation"],
      call: () => Effect.Effect<A, RateLimiterStore.RateLimiterStoreError>
    ): Effect.Effect<A, RateLimiterStore.RateLimiterStoreError> =>
      Effect.catchAllDefect(Effect.suspend(call), (defect) =>
        Effect.fail(
          new RateLimiterStore.RateLimiterStoreError({
            operation,
            detail: `it died: ${defect instanceof Error ? defect.message : String(defect)}`,
            cause: defect
          })
        )
      )

    const reserve = (request: RateLimiterStore.ReserveRequest) =>
      storeCall("reserve", () => store.reserve(request)).pipe(
        Effect.map((reservation) => {
          storeDown = false
          return { reservation, store }
        }),
        Effect.catchAll((error) =>
          Effect.zipRight(
            storeFailed(error),
            settings.onStoreError === "reject"
              ? Effect.succeed(undefined)
              : Effect.map(Effect.orDie(fallback.reserve(request)), (reservation) => ({ reservation, store: fallback }))
          )
        )
      )

    const settle = (target: RateLimiterStore.Service, key: string, requests: number, tokens: number) => {
      if (requests === 0 && tokens === 0) return Effect.void
      if (requests < 0 || tokens < 0) budgetChanged(key)
      return storeCall("settle", () => target.settle({ key, requests, tokens, limits: limitsOf(stateOf(key)) })).pipe(
        Effect.catchAll((error) => Effect.logDebug(`RateLimiter: settle lost: ${error.message}`))
      )
    }

    const hold = (key: string, millis: number, now: number, cause: string) => {
      const state = stateOf(key)
      const extends_ = now + millis > state.holdUntil
      state.holdUntil = Math.max(state.holdUntil, now + millis)
      const started = extends_ && !state.cooling
      if (started) state.cooling = true
      const logged = started
        ? Effect.logWarning("RateLimiter: cooldown started").pipe(
            Effect.annotateLogs({ key, cooldownMillis: Math.round(millis), cause, queued: queue.size })
          )
        : Effect.void
      return Effect.zipRight(
        logged,
        storeCall("hold", () => store.hold({ key, millis })).pipe(
          Effect.catchAll((error) => Effect.logDebug(`RateLimiter: hold kept local: ${error.message}`))
        )
      )
    }

    /**
     * Fails every queued waiter of `key` at once: in fail-closed mode a store that cannot answer one of them would
     * only time out again for each of the others. Only this key's waiters, as other keys may still be answered.
     */
    const rejectKey = (key: string) => {
      blocked.delete(key)
      for (let entry = queue.peek(); entry !== undefined;) {
        const following = queue.next(entry)
        if (entry.value.key === key && leave(entry)) fail(entry.value, "LimiterUnavailable")
        entry = following
      }
    }

    /** True once every key that still has a queued waiter has been found blocked in this round. */
    const allBlocked = (seen: ReadonlySet<string>) => {
      if (seen.size < queuedPerKey.size) return false
      for (const key of queuedPerKey.keys()) if (!seen.has(key)) return false
      return true
    }

    /**
     * Walks the queue in service order and admits every waiter the cap, the holds and the store allow. Only the
     * first waiter of each key is considered (a later one never passes it); a key that cannot go is skipped, so
     * the waiters of other keys behind it still go. Wakes up again when the first blocked key frees.
     */
    const drain: Effect.Effect<void> = Effect.gen(function* () {
      /** Keys whose first waiter could not go in this round. */
      const seen = new Set<string>()
      let wakeAt = Number.POSITIVE_INFINITY
      let now = yield* Clock.currentTimeMillis
      const skip = (key: string, until: number) => {
        seen.add(key)
        wakeAt = Math.min(wakeAt, until)
      }
      let entry = queue.peek()
      while (entry !== undefined && inFlight < settings.maxConcurrency) {
        const waiter: Waiter = entry.value
        const key = waiter.key
        if (seen.has(key)) {
          entry = queue.next(entry)
          continue
        }
        deciding = waiter
        const refused = blocked.get(key)
        if (refused !== undefined && refused.entry === entry && now < refused.until) {
          skip(key, refused.until)
          if (allBlocked(seen)) break
          entry = queue.next(entry)
          continue
        }
        const state = stateOf(key)
        if (state.cooling && state.holdUntil <= now) {
          state.cooling = false
          yield* Effect.logInfo("RateLimiter: cooldown ended").pipe(Effect.annotateLogs({ key, queued: queue.size }))
        }
        if (state.holdUntil > now) {
          waiter.delayed = true
          skip(key, state.holdUntil)
          if (allBlocked(seen)) break
          entry = queue.next(entry)
          continue
        }
        const answer = yield* reserve({ key, requests: 1, tokens: waiter.tokens, limits: limitsOf(state) })
        const askedAt = now
        now = yield* Clock.currentTimeMillis
        if (answer === undefined) {
          rejectKey(key)
          entry = queue.peek()
          continue
        }
        if (!answer.reservation.ok) {
          waiter.delayed = true
          const until = askedAt + Math.max(1, Math.ceil(answer.reservation.retryAfterMillis))
          blocked.set(key, { entry, until })
          skip(key, until)
          if (allBlocked(seen)) break
          // The waiter may have left while the store answered: then start over from the head.
          entry = entry.queued ? queue.next(entry) : queue.peek()
          continue
        }
        blocked.delete(key)
        const following = queue.next(entry)
        if (!leave(entry)) {
          // The caller left (interrupted, expired or shed) while the store answered: give the reservation back.
          yield* settle(answer.store, key, -1, -waiter.tokens)
          now = yield* Clock.currentTimeMillis
          entry = queue.peek()
          continue
        }
        inFlight++
        const grant: Grant = {
          key,
          tokens: waiter.tokens,
          admittedAtMillis: askedAt,
          delayed: waiter.delayed || queue.size > 0,
          store: answer.store,
          reported: false,
          released: false
        }
        waiter.grant = grant
        Deferred.unsafeDone(waiter.deferred, Effect.succeed(grant))
        // The entries before it are all of blocked keys: carry on from the next one rather than from the head.
        entry = following
      }
      deciding = undefined
      if (wakeAt < Number.POSITIVE_INFINITY) yield* alarm(wakeAt, now)
    })

    /**
     * A round that dies (a bug, or a throw in the limits or the adaptive rate) must not end the dispatcher, or
     * every call would hang: log it, fail the waiter it was deciding on so it is not retried forever, go on.
     */
    const round = Effect.catchAllCause(Effect.zipRight(Queue.take(wake), drain), (cause) =>
      Effect.suspend(() => {
        if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
        const waiter = deciding
        deciding = undefined
        if (waiter?.entry !== undefined && leave(waiter.entry)) {
          fail(waiter, "LimiterUnavailable")
          signal()
        }
        return Effect.logError("RateLimiter: dispatcher failed", cause)
      })
    )

    yield* Effect.forkIn(Effect.forever(round), scope)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (let entry = popLowest(); entry !== undefined; entry = popLowest()) fail(entry.value, "LimiterUnavailable")
      })
    )

    /** Frees the slot of a grant; an attempt that was never reported gives back its tokens. */
    const release = (grant: Grant, sent: boolean) =>
      Effect.suspend(() => {
        if (grant.released) return Effect.void
        grant.released = true
        inFlight--
        signal()
        if (grant.reported) return Effect.void
        return settle(grant.store, grant.key, sent ? 0 : -1, -grant.tokens)
      })

    const adapt = (state: KeyState, grant: Grant, feedback: Feedback, now: number) => {
      const options = settings.adaptive
      const before = state.adaptive
      if (options === undefined || before === undefined) return
      let next = AdaptiveRate.onHeaders(before, { nowMillis: now, info: feedback.info }, options)
      const event = { nowMillis: now, admittedAtMillis: grant.admittedAtMillis, sinceMillis: state.holdUntil }
      if (feedback.status === 429) {
        next =
          feedback.hint !== undefined
            ? AdaptiveRate.onHint(next, { ...event, hint: feedback.hint }, options)
            : AdaptiveRate.onThrottle(next, event, options)
      } else if (feedback.status !== undefined && feedback.status >= 200 && feedback.status <= 299) {
        const saturated = grant.delayed || queue.size > 0
        next = AdaptiveRate.onSuccess(next, { ...event, saturated }, options)
      }
      state.adaptive = next
      if (next.rate !== before.rate || next.tokensPerSecond !== before.tokensPerSecond) budgetChanged(grant.key)
    }

    const report = (grant: Grant) => (feedback: Feedback) =>
      Effect.suspend(() => {
        if (grant.reported || grant.released) return Effect.void
        grant.reported = true
        return Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const state = stateOf(grant.key)
          const used = feedback.usedTokens
          const charged = feedback.status !== 429 && used !== undefined && used >= 0 ? used : 0
          const exhausted = exhaustedResetMillis(feedback.info)
          const wait =
            feedback.status === 429
              ? (feedback.info.retryAfterMillis ??
                (exhausted > 0 ? exhausted : undefined) ??
                hintWaitMillis(feedback.hint) ??
                settings.cooldownFallbackMillis)
              : exhausted
          adapt(state, grant, feedback, now)
          return Effect.zipRight(
            charged !== grant.tokens ? settle(grant.store, grant.key, 0, charged - grant.tokens) : Effect.void,
            wait > 0
              ? hold(
                  grant.key,
                  Math.min(wait, settings.maxCooldownMillis),
                  now,
                  feedback.status === 429 ? "429" : "remaining 0"
                )
              : Effect.void
          )
        })
      })

    const expire = (waiter: Waiter, millis: number): Effect.Effect<never, Rejected> =>
      Effect.zipRight(
        Effect.sleep(millis),
        Effect.suspend(() => {
          if (waiter.entry === undefined || !leave(waiter.entry)) return Effect.never
          signal()
          return Effect.fail(rejected("DeadlineExceeded"))
        })
      )

    /** Undoes a wait that ended without a permit: leave the queue, or return a grant that raced in. */
    const cancel = (waiter: Waiter) =>
      Effect.suspend(() => {
        if (waiter.entry !== undefined && leave(waiter.entry)) {
          signal()
          return Effect.void
        }
        return waiter.grant !== undefined ? release(waiter.grant, false) : Effect.void
      })

    const acquire = (ticket: Ticket): Effect.Effect<Permit, Rejected, Scope.Scope> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const rank = RANKS[ticket.priority] ?? RANKS.normal
          if (queue.size >= settings.maxQueued) {
            const lowest = queue.lowestRank()
            const shed = Effect.logWarning("RateLimiter: queue full, shedding the lowest priority").pipe(
              Effect.annotateLogs({ queued: queue.size, maxQueued: settings.maxQueued, priority: ticket.priority })
            )
            if (lowest === undefined || lowest <= rank) return yield* Effect.zipRight(shed, rejected("QueueFull"))
            const victim = popLowest()
            if (victim !== undefined) fail(victim.value, "QueueFull")
            yield* shed
          }
          const estimate = ticket.estimatedTokens
          const waiter: Waiter = {
            key: keyOf(ticket),
            tokens: Number.isFinite(estimate) && estimate > 0 ? Math.ceil(estimate) : 0,
            deferred: yield* Deferred.make<Grant, Rejected>(),
            entry: undefined,
            grant: undefined,
            delayed: false
          }
          waiter.entry = enqueue(waiter, rank)
          signal()
          const ticketWait = ticket.maxQueueWait !== undefined ? Duration.toMillis(ticket.maxQueueWait) : undefined
          const maxWait =
            ticketWait === undefined
              ? settings.defaultMaxQueueWaitMillis
              : isFinite(ticketWait)
                ? ticketWait
                : undefined
          const admitted = Deferred.await(waiter.deferred)
          const exit = yield* Effect.exit(
            restore(maxWait === undefined ? admitted : Effect.raceFirst(admitted, expire(waiter, maxWait)))
          )
          if (Exit.isFailure(exit)) {
            yield* cancel(waiter)
            return yield* Effect.failCause(exit.cause)
          }
          const grant = exit.value
          yield* Effect.addFinalizer(() => release(grant, true))
          return { report: report(grant) }
        })
      )

    const snapshot = Effect.map(Clock.currentTimeMillis, (now): Snapshot => {
      let holdUntilMillis = 0
      const rates: Record<string, number> = {}
      for (const [key, state] of keys) {
        if (state.holdUntil > now) holdUntilMillis = Math.max(holdUntilMillis, state.holdUntil)
        if (state.adaptive !== undefined) rates[key] = state.adaptive.rate
      }
      return { queued: queue.size, inFlight, holdUntilMillis, ...(settings.adaptive ? { rates } : {}) }
    })

    return { acquire, snapshot }
  })
