/**
 * The breaker of one key as a small plain record and the pure functions that move it. Nothing here reads a clock,
 * draws a random number or touches a fiber: the caller passes `now` and, for a step that may open the breaker,
 * the length of that break, so a shared store can hold the record and apply the same steps.
 *
 * A break ends lazily: an `Open` breaker whose break is over stays `Open` until the next caller arrives, and that
 * caller becomes the probe (`HalfOpen`).
 *
 * A key with no success yet ("cold") lets only a few calls out at a time, for a short while: when the service is
 * down from the first request, those few failures open the breaker before the rest of a first wave is sent.
 */
import * as Window from "./window.js"

export type Status = "Closed" | "Open" | "HalfOpen"

/** What a caller says about the call a pass let through. */
export type Outcome = "success" | "failure" | "ignored"

export interface State {
  readonly status: Status
  /**
   * Bumped on every change of status and of the probe slot, so that a pass let through in an earlier phase
   * (before a break, or a probe that timed out) cannot move this one.
   */
  readonly epoch: number
  readonly consecutiveFailures: number
  /** Closed only: the calls of the sliding window. */
  readonly window: ReadonlyArray<Window.Bucket>
  /** Probes failed since the breaker last closed: the step of the break schedule the next failure starts. */
  readonly failedProbes: number
  /** Open: when the next probe may start. */
  readonly openUntilMillis: number
  /** Length of the current (or last) break. */
  readonly breakMillis: number
  /** HalfOpen: when the probe in flight started; undefined while the probe slot is free. */
  readonly probeStartedAtMillis: number | undefined
  /** A call has succeeded on this key (or the cold-start hold ran out): no cold-start limit any more. */
  readonly proven: boolean
  /**
   * Closed and not proven: cold slots taken, by passes still out or that failed. A failure keeps its slot (it is
   * evidence the service may be down), so a key down from the start sees only `coldStart.calls` attempts.
   */
  readonly coldSlotsUsed: number
  /** Closed and not proven: when the first cold pass went out (the hold ends `coldStart.holdMillis` later). */
  readonly coldSinceMillis: number | undefined
}

/** How many calls a key with no success yet lets out at once, and for how long at most it holds the others. */
export interface ColdStart {
  /** 0 turns the hold off. */
  readonly calls: number
  readonly holdMillis: number
}

export interface Settings {
  readonly consecutiveFailures: number
  readonly failureRatio: number
  readonly minimumCalls: number
  readonly window: Window.Shape
  /** A probe with no verdict after this long counts as failed, so a lost probe cannot wedge the breaker. */
  readonly probeTimeoutMillis: number
  readonly coldStart: ColdStart
}

/** What a pass remembers of the phase that let it through. */
export interface Ticket {
  readonly probe: boolean
  readonly epoch: number
  /** Let out under the cold-start limit: its report frees a cold slot. */
  readonly cold: boolean
}

export type Admission =
  | { readonly _tag: "Admitted"; readonly ticket: Ticket }
  /** Not now; something changes by `wakeAtMillis` at the latest (the break ends or the probe times out). */
  | { readonly _tag: "Wait"; readonly wakeAtMillis: number }

export interface Step<A> {
  readonly state: State
  readonly result: A
}

export const initial: State = {
  status: "Closed",
  epoch: 0,
  consecutiveFailures: 0,
  window: Window.empty,
  failedProbes: 0,
  openUntilMillis: 0,
  breakMillis: 0,
  probeStartedAtMillis: undefined,
  proven: false,
  coldSlotsUsed: 0,
  coldSinceMillis: undefined
}

/** The step of the break schedule that a failure in this state would start: 0 from Closed, one more from a probe. */
export const nextBreakIndex = (state: State): number => (state.status === "Closed" ? 0 : state.failedProbes + 1)

/** Whether a failure reported now with this ticket would start a break (and so needs its length). */
export const mayOpen = (state: State, ticket: Ticket, outcome: Outcome): boolean =>
  outcome === "failure" && ticket.epoch === state.epoch

export const probeExpired = (state: State, now: number, settings: Settings): boolean =>
  state.status === "HalfOpen" &&
  state.probeStartedAtMillis !== undefined &&
  now >= state.probeStartedAtMillis + settings.probeTimeoutMillis

const open = (state: State, now: number, failedProbes: number, breakMillis: number): State => ({
  ...initial,
  proven: state.proven,
  status: "Open",
  epoch: state.epoch + 1,
  failedProbes,
  openUntilMillis: now + breakMillis,
  breakMillis
})

/** Closing after a successful probe: the service has just answered, so no cold-start hold. */
const close = (state: State): State => ({ ...initial, epoch: state.epoch + 1, proven: true })

/**
 * A probe past its timeout counts as a failed probe: the breaker opens again for the next break, counted from the
 * moment the probe timed out (however late a caller notices).
 */
export const expire = (state: State, now: number, settings: Settings, breakMillis: number): State =>
  probeExpired(state, now, settings)
    ? open(state, state.probeStartedAtMillis! + settings.probeTimeoutMillis, state.failedProbes + 1, breakMillis)
    : state

const grantProbe = (state: State, now: number): Step<Admission> => {
  const next: State = { ...state, status: "HalfOpen", epoch: state.epoch + 1, probeStartedAtMillis: now }
  return { state: next, result: { _tag: "Admitted", ticket: { probe: true, epoch: next.epoch, cold: false } } }
}

const pass = (state: State): Step<Admission> => ({
  state,
  result: { _tag: "Admitted", ticket: { probe: false, epoch: state.epoch, cold: false } }
})

/** Closed: a proven key passes; a cold one lets `calls` out at a time until the hold runs out. */
const admitClosed = (state: State, now: number, coldStart: ColdStart): Step<Admission> => {
  if (state.proven || coldStart.calls === 0) return pass(state)
  const since = state.coldSinceMillis ?? now
  const holdEnds = since + coldStart.holdMillis
  if (now >= holdEnds) return pass({ ...state, proven: true, coldSlotsUsed: 0, coldSinceMillis: undefined })
  if (state.coldSlotsUsed >= coldStart.calls) return { state, result: { _tag: "Wait", wakeAtMillis: holdEnds } }
  const next: State = { ...state, coldSlotsUsed: state.coldSlotsUsed + 1, coldSinceMillis: since }
  return { state: next, result: { _tag: "Admitted", ticket: { probe: false, epoch: state.epoch, cold: true } } }
}

/**
 * The ticket of a caller that passes without changing the record (closed, past the cold start), or undefined when
 * `admit` must decide. Such a pass needs no step to be let out, and its "ignored" verdict changes nothing.
 */
export const quietTicket = (state: State, settings: Settings): Ticket | undefined =>
  state.status === "Closed" && (state.proven || settings.coldStart.calls === 0)
    ? { probe: false, epoch: state.epoch, cold: false }
    : undefined

/** A caller arrives: it passes (closed), becomes the probe (the break is over and the slot free), or waits. */
export const admit = (state: State, now: number, settings: Settings): Step<Admission> => {
  switch (state.status) {
    case "Closed":
      return admitClosed(state, now, settings.coldStart)
    case "Open":
      return now >= state.openUntilMillis
        ? grantProbe(state, now)
        : { state, result: { _tag: "Wait", wakeAtMillis: state.openUntilMillis } }
    case "HalfOpen":
      return state.probeStartedAtMillis === undefined
        ? grantProbe(state, now)
        : { state, result: { _tag: "Wait", wakeAtMillis: state.probeStartedAtMillis + settings.probeTimeoutMillis } }
  }
}

const tripped = (state: State, now: number, settings: Settings): boolean => {
  if (state.consecutiveFailures >= settings.consecutiveFailures) return true
  const { calls, failures } = Window.totals(state.window, now, settings.window)
  return calls >= settings.minimumCalls && failures / calls >= settings.failureRatio
}

const counted = (state: State, now: number, failed: boolean, settings: Settings): State => ({
  ...state,
  consecutiveFailures: failed ? state.consecutiveFailures + 1 : 0,
  window: Window.record(state.window, now, failed, settings.window)
})

/** A cold pass reports: a success proves the key, an ignored verdict gives its slot back, a failure keeps it. */
const freeColdSlot = (state: State, outcome: Outcome): State => {
  if (outcome === "success") return { ...state, proven: true, coldSlotsUsed: 0, coldSinceMillis: undefined }
  if (outcome === "ignored") return { ...state, coldSlotsUsed: Math.max(0, state.coldSlotsUsed - 1) }
  return state
}

/**
 * Whether waiters should look again: the phase changed, or a cold slot came free (proving a key frees its slots).
 * A cold slot does not bump the epoch: the other cold passes out must still count.
 */
export const wakesWaiters = (before: State, after: State): boolean =>
  after.epoch !== before.epoch || after.coldSlotsUsed < before.coldSlotsUsed

/**
 * The verdict on a call. A probe's verdict closes the breaker (success), starts a longer break (failure) or frees
 * the probe slot (ignored). A call let through while closed counts in the window unless ignored. A ticket from an
 * earlier phase changes nothing. `breakMillis` is the break a failure would start (see `nextBreakIndex`).
 */
export const report = (
  state: State,
  ticket: Ticket,
  outcome: Outcome,
  now: number,
  settings: Settings,
  breakMillis: number
): State => {
  if (ticket.epoch !== state.epoch) return state
  if (ticket.probe) {
    if (outcome === "success") return close(state)
    if (outcome === "failure") return open(state, now, state.failedProbes + 1, breakMillis)
    return { ...state, epoch: state.epoch + 1, probeStartedAtMillis: undefined }
  }
  const freed = ticket.cold ? freeColdSlot(state, outcome) : state
  if (outcome === "ignored") return freed
  const next = counted(freed, now, outcome === "failure", settings)
  return outcome === "failure" && tripped(next, now, settings) ? open(next, now, 0, breakMillis) : next
}

/**
 * `report` when it only counts a call of a closed key: the record after it, or undefined when the report may
 * change the phase, free a cold slot or start a break (then it needs `report`, with the break's length, in a
 * step that wakes waiters and announces the change).
 */
export const quietReport = (
  state: State,
  ticket: Ticket,
  outcome: Outcome,
  now: number,
  settings: Settings
): State | undefined => {
  if (state.status !== "Closed" || ticket.probe || ticket.cold) return undefined
  if (ticket.epoch !== state.epoch || outcome === "ignored") return state
  const next = counted(state, now, outcome === "failure", settings)
  return outcome === "failure" && tripped(next, now, settings) ? undefined : next
}

/**
 * Whether the record is the same as a fresh key's at `now` but for `proven`: it can be dropped and recreated, at
 * the cost of one more cold start on that key if it comes back.
 */
export const isIdle = (state: State, now: number, settings: Settings): boolean =>
  state.status === "Closed" &&
  state.coldSlotsUsed === 0 &&
  state.consecutiveFailures === 0 &&
  Window.totals(state.window, now, settings.window).calls === 0
