/**
 * Limiters whose snapshot can be read in the caller's step: the admission stage records the limiter's gauges on
 * every attempt, and for the limiters of this library that needs no effect. Found by the service's identity, so
 * that the public `RateLimiter.Service` interface stays as it is (another limiter keeps its `snapshot` effect).
 */
import type { Service, Snapshot } from "./contract.js"

const registered = new WeakMap<Service, (nowMillis: number) => Snapshot>()

/** Marks `service` as giving, at `nowMillis`, the snapshot its `snapshot` effect would give. */
export const register = (service: Service, snapshotAt: (nowMillis: number) => Snapshot): Service => {
  registered.set(service, snapshotAt)
  return service
}

/** The snapshot of `service` at `nowMillis`, or undefined when only its `snapshot` effect can tell. */
export const at = (service: Service, nowMillis: number): Snapshot | undefined => registered.get(service)?.(nowMillis)
