/**
 * Copies of errors with a few fields changed. Errors may be shared (a cached failure, a Deferred's), so the
 * pipeline never mutates one; the copy keeps the class (and so `message` and `isRetryable`) and the stack.
 */
import type { GrokError } from "../../GrokError.js"

export const amend = <E extends GrokError>(error: E, patch: Partial<Record<string, unknown>>): E => {
  // `stack` is not enumerable and must be carried over by hand.
  const copy: E = Object.assign(Object.create(Object.getPrototypeOf(error)), error, patch)
  Object.defineProperty(copy, "stack", { value: error.stack, enumerable: false, writable: true, configurable: true })
  return copy
}
