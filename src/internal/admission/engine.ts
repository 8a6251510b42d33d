/**
 * The shared state of one limiter: the waiters' priority queue, the per-key state (holds, adaptive rate) and the
 * in-flight count, with the small synchronous operations on them. Every other admission module works on this
 * record; all of it is mutated only in synchronous sections, which JavaScript never interleaves.
 */
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as AdaptiveRate from "../../AdaptiveRate.js"
import { Rejected } from "../../GrokError.js"
import type * as RateLimiterStore from "../../RateLimiterStore.js"
import type * as LimiterOptions from "../limiterOptions.js"
import { PRIORITIES, type Ticket } from "./contract.js"
import type * as HeaderGate from "./headerGate.js"
import * as PriorityQueue from "./priorityQueue.js"

/** An admitted attempt's share of the budget, until it is reported and released. */
export interface Grant {
  readonly key: string
  readonly tokens: number
  readonly admittedAtMillis: number
  /** The key's admission count with this one: which answers are newer than others. */
  readonly seq: number
  /** The caller waited for the rate, the hold or the cap: demand exceeded what was admitted. */
  readonly delayed: boolean
  /** The store that took the reservation (the configured one, or the local fallback). */
  readonly store: RateLimiterStore.Service
  reported: boolean
  released: boolean
}

/** Where an attempt keeps its grant: its scope's finalizer releases whatever is here when the scope closes. */
export interface Held {
  grant: Grant | undefined
}

export interface Waiter {
  readonly key: string
  readonly tokens: number
  /** Ends the wait: the caller's fiber goes on with the grant or the rejection (the first call only). */
  resume: (outcome: Effect.Effect<Grant, Rejected>) => void
  entry: PriorityQueue.Entry<Waiter> | undefined
  /** Gets the grant the moment it is made, so that no interruption can fall between grant and release. */
  readonly held: Held
  delayed: boolean
}

export interface KeyState {
  /** Local mirror of the store's hold, in Clock millis. */
  holdUntil: number
  /** A cooldown start was logged and its end is still to be logged. */
  cooling: boolean
  adaptive: AdaptiveRate.State | undefined
  /** Calls of the key admitted so far. */
  admitted: number
  /** What the newest `x-ratelimit-remaining-requests` still allows. */
  gate: HeaderGate.Gate | undefined
  /** Answer times of the key's latest 429s, for telling a lone one from a burst (`loneThrottle.ts`). */
  recent429s: ReadonlyArray<number>
}

export interface Engine {
  readonly settings: LimiterOptions.Settings
  readonly queue: PriorityQueue.PriorityQueue<Waiter>
  /** Queued waiters per key, so that a round can stop as soon as every key in the queue is blocked. */
  readonly queuedPerKey: Map<string, number>
  readonly keys: Map<string, KeyState>
  /**
   * Per key, the first waiter the store last refused, and until when asking again for it is pointless unless the
   * key's budget changes. Kept per key so that one refused key never holds up the waiters of the others.
   */
  readonly blocked: Map<string, { readonly entry: PriorityQueue.Entry<Waiter>; readonly until: number }>
  readonly wake: Queue.Queue<void>
  inFlight: number
}

export const make = (settings: LimiterOptions.Settings): Effect.Effect<Engine> =>
  Effect.map(Queue.dropping<void>(1), (wake) => ({
    settings,
    queue: PriorityQueue.make<Waiter>(PRIORITIES.length),
    queuedPerKey: new Map(),
    keys: new Map(),
    blocked: new Map(),
    wake,
    inFlight: 0
  }))

/** Wakes the dispatcher for another round; with nobody queued a round has nothing to do. */
export const signal = (self: Engine): void => {
  if (self.queue.size > 0) Queue.unsafeOffer(self.wake, undefined)
}

/** The budget of `key` changed: a waiter the store refused may go now. */
export const budgetChanged = (self: Engine, key: string): void => {
  self.blocked.delete(key)
  signal(self)
}

export const enqueue = (self: Engine, waiter: Waiter, rank: number): PriorityQueue.Entry<Waiter> => {
  self.queuedPerKey.set(waiter.key, (self.queuedPerKey.get(waiter.key) ?? 0) + 1)
  return self.queue.push(waiter, rank)
}

const left = (self: Engine, key: string) => {
  const count = (self.queuedPerKey.get(key) ?? 1) - 1
  if (count > 0) self.queuedPerKey.set(key, count)
  else self.queuedPerKey.delete(key)
}

/** Takes an entry out of the queue; false when it had already left. */
export const leave = (self: Engine, entry: PriorityQueue.Entry<Waiter>): boolean => {
  if (!self.queue.remove(entry)) return false
  left(self, entry.value.key)
  return true
}

export const popLowest = (self: Engine): PriorityQueue.Entry<Waiter> | undefined => {
  const entry = self.queue.popLowest()
  if (entry !== undefined) left(self, entry.value.key)
  return entry
}

/** Counts an admission of `key` in flight and makes its grant. */
export const admit = (
  self: Engine,
  key: string,
  grant: Pick<Grant, "tokens" | "admittedAtMillis" | "delayed" | "store">
): Grant => {
  self.inFlight++
  const state = stateOf(self, key)
  state.admitted++
  return { ...grant, key, seq: state.admitted, reported: false, released: false }
}

export const fail = (waiter: Waiter, reason: Rejected["reason"]): void => {
  waiter.resume(Effect.fail(new Rejected({ reason })))
}

export const keyOf = (self: Engine, ticket: Ticket): string =>
  self.settings.perModel ? `${self.settings.key}:${ticket.model}` : self.settings.key

export const stateOf = (self: Engine, key: string): KeyState => {
  let state = self.keys.get(key)
  if (state === undefined) {
    const adaptive = self.settings.adaptive
    state = {
      holdUntil: 0,
      cooling: false,
      adaptive: adaptive && AdaptiveRate.initial(adaptive),
      admitted: 0,
      gate: undefined,
      recent429s: []
    }
    self.keys.set(key, state)
  }
  return state
}

/** The limits of a key now: the configured ones, or those its adaptive state has learned. */
export const limitsOf = (self: Engine, state: KeyState): RateLimiterStore.Limits => {
  const { settings } = self
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
 * Fails every queued waiter of `key` at once: in fail-closed mode a store that cannot answer one of them would
 * only time out again for each of the others. Only this key's waiters, as other keys may still be answered.
 */
export const rejectKey = (self: Engine, key: string): void => {
  self.blocked.delete(key)
  for (let entry = self.queue.peek(); entry !== undefined;) {
    const following = self.queue.next(entry)
    if (entry.value.key === key && leave(self, entry)) fail(entry.value, "LimiterUnavailable")
    entry = following
  }
}
