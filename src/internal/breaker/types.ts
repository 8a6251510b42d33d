/**
 * The shapes the circuit breaker shares with its callers, re-exported by the public `CircuitBreaker` module.
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { CircuitOpenError } from "./errors.js"
import type { Outcome, Status } from "./state.js"

/** A call let through by the breaker. */
export interface Pass {
  /** Whether this call is the half-open probe whose verdict decides for every waiter. */
  readonly probe: boolean
  /** The verdict on the call; only the first report counts. Closing the scope without one counts as "ignored". */
  readonly report: (outcome: Outcome) => Effect.Effect<void>
}

export interface AdmitOptions {
  /**
   * The longest time this caller may wait for the probe's verdict while the breaker is open. A wait that could not
   * end in time fails at once with `CircuitOpenError`. Default: the rest of the break plus one probe timeout.
   * Negative or NaN counts as 0 (fail at once while open).
   */
  readonly maxWaitMillis?: number | undefined
}

/** A change of a key's status, as published on `transitions`. */
export interface Transition {
  readonly key: string
  readonly from: Status
  readonly to: Status
  /** Epoch millis of the change, on Effect's `Clock`. */
  readonly atMillis: number
  /** When `to` is "Open": the length of the break. */
  readonly breakMillis?: number
}

export interface Service {
  /**
   * Lets a call through, makes it the probe, or waits for the probe's verdict; the pass lives as long as the scope.
   */
  readonly admit: (key: string, options?: AdmitOptions) => Effect.Effect<Pass, CircuitOpenError, Scope.Scope>
  /** The key's status now; a key never seen is "Closed". */
  readonly state: (key: string) => Effect.Effect<Status>
  /** Every transition of every key from the moment the stream is run. */
  readonly transitions: Stream.Stream<Transition>
}
