/**
 * The limiters of this library admit an attempt without a `Scope`: a scope made, provided and closed for every
 * attempt only to hold one release costs more than the rest of the admission (`Effect.scoped` with one finalizer is
 * about 9 µs, an exit handler 1 µs). Found by the service's identity, so that the public `RateLimiter.Service`
 * interface stays as it is; any other limiter keeps its scoped `acquire`.
 */
import type * as Effect from "effect/Effect"
import type { Rejected } from "../../GrokError.js"
import type { Permit, Service, Ticket } from "./contract.js"

/** One attempt's admission: `acquire` waits for the grant, `release` gives it back, if made, at most once. */
export interface Admission {
  readonly acquire: Effect.Effect<Permit, Rejected>
  readonly release: Effect.Effect<void>
}

/**
 * Starts the admission of one attempt. The grant is kept where `release` finds it the moment it is made, so that no
 * interruption falls between grant and release.
 */
export type Unscoped = (ticket: Ticket) => Admission

const registered = new WeakMap<Service, Unscoped>()

/** Marks `service` as admitting without a scope through `unscoped`. */
export const register = (service: Service, unscoped: Unscoped): Service => {
  registered.set(service, unscoped)
  return service
}

/** How `service` admits without a scope, or undefined when only its scoped `acquire` can. */
export const of = (service: Service): Unscoped | undefined => registered.get(service)
