/**
 * The limiters of this library admit an attempt without a `Scope`: a scope made, provided and closed for every
 * attempt only to hold one release costs more than the rest of the admission (`Effect.scoped` with one finalizer is
 * about 9 µs, an exit handler 1 µs). Found by the service's identity, so that the public `RateLimiter.Service`
 * interface stays as it is; any other limiter keeps its scoped `acquire`.
 */
import type * as Effect from "effect/Effect"
import type { Rejected } from "../../GrokError.js"
import type { Permit, Service, Ticket } from "./contract.js"

/** Where an attempt's grant is put the moment it is made, so that no interruption falls between grant and release. */
export interface Holder {
  grant: unknown
}

export interface Unscoped {
  /** Waits for admission; the grant is in `holder` as soon as it exists. */
  readonly acquire: (ticket: Ticket, holder: Holder) => Effect.Effect<Permit, Rejected>
  /** Gives back the grant in `holder`, if any, as closing the scoped permit's scope would; at most once. */
  readonly release: (holder: Holder) => Effect.Effect<void>
}

const registered = new WeakMap<Service, Unscoped>()

/** Marks `service` as admitting without a scope through `unscoped`. */
export const register = (service: Service, unscoped: Unscoped): Service => {
  registered.set(service, unscoped)
  return service
}

/** How `service` admits without a scope, or undefined when only its scoped `acquire` can. */
export const of = (service: Service): Unscoped | undefined => registered.get(service)
