/**
 * What a shared circuit breaker needs from the store that holds the fleet's view of each key, independent of Redis:
 * the shared breaker (`shared.ts`) runs on this interface, the Redis implementation is in
 * `src/internal/redis/breakerFleet.ts`, and unit tests run it over an in-memory one.
 *
 * The fleet's record of a key changes only on breaks and verdicts (open, reopen, close), never per call: each
 * process counts its own calls. Every change bumps the record's generation, so a process can tell a news from a
 * repeat, and a step decided on an old view (a second process reporting the same timed-out probe) from a new one.
 */
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"

/** A key as the fleet sees it. Times are durations from the store's clock, so machines' clocks never matter. */
export interface FleetRecord {
  /** Bumped on every open and close; 0 for a key the store holds nothing for. */
  readonly gen: number
  readonly status: "Open" | "Closed"
  /** Open: time until the break ends, on the store's clock at the moment it answered (≤ 0: the break is over). */
  readonly remainingMillis: number
  /** Open: the step of the break schedule this break is (0 = the first break after closing). */
  readonly step: number
  /** Open: the length of this break. */
  readonly breakMillis: number
}

/** The answer to a request for the fleet's one probe of a key. */
export type Claim =
  /** This process holds the probe lease (for `probeTimeout`); `record` is the break it probes, if the store had one. */
  | { readonly _tag: "Probe"; readonly record: FleetRecord | undefined }
  /** The fleet's break is not over yet (the store's clock is a little ahead of the local one). */
  | { readonly _tag: "Wait"; readonly record: FleetRecord }
  /** Another process holds the probe lease for `leaseMillis` more. */
  | { readonly _tag: "Busy"; readonly record: FleetRecord; readonly leaseMillis: number }
  /** The fleet closed the key already: there is nothing to probe. */
  | { readonly _tag: "Closed"; readonly record: FleetRecord }

/** The fleet's view of a key and its probe lease, without changing either. */
export interface Peek {
  readonly record: FleetRecord | undefined
  /** Time left on the probe lease, 0 when nobody holds it. */
  readonly leaseMillis: number
}

/** A change another process made: an open, a close, or a probe lease given back (`released`). */
export interface FleetEvent {
  readonly key: string
  readonly record: FleetRecord
  readonly released: boolean
}

/** The store did not answer (down, slow, or a reply it cannot read); `detail` says which. */
export interface FleetError {
  readonly detail: string
}

export interface OpenRequest {
  /** A failed (or timed-out) probe's break rather than a trip from Closed. */
  readonly reopen: boolean
  /** Reopen only: the generation the failed probe belonged to; a fleet that moved on since keeps its own record. */
  readonly baseGen: number
  readonly step: number
  readonly breakMillis: number
}

export interface Fleet {
  /**
   * Opens the key for the fleet and returns the record that holds afterwards. A trip into a fleet that is already
   * open returns that break instead (adopt it); a reopen whose `baseGen` is stale returns the newer record.
   */
  readonly open: (key: string, request: OpenRequest) => Effect.Effect<FleetRecord, FleetError>
  /** A probe succeeded: closes the key for the fleet and frees the probe lease. */
  readonly close: (key: string) => Effect.Effect<FleetRecord, FleetError>
  /** Asks for the key's one probe: a lease of `leaseMillis` when the fleet's break is over and nobody holds one. */
  readonly claim: (key: string, leaseMillis: number) => Effect.Effect<Claim, FleetError>
  /** The probe ended without a verdict: gives the lease back (when this process holds it) so another may probe. */
  readonly release: (key: string) => Effect.Effect<void, FleetError>
  readonly peek: (key: string) => Effect.Effect<Peek, FleetError>
  /** Changes made by other processes, as they are announced (at most once each; a lost one is caught by polling). */
  readonly events: Stream.Stream<FleetEvent>
}
