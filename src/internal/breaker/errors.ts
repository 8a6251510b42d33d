/**
 * The errors of the circuit breaker. They live here, apart from the public module that re-exports them, so the
 * breaker's internals can raise them without importing the public module back.
 */
import * as Schema from "effect/Schema"

/**
 * The breaker of `key` is open and the caller cannot wait for the probe's verdict within its `maxWaitMillis`.
 * `retryAfterMillis` is the time until the next probe may start, at the earliest.
 */
export class CircuitOpenError extends Schema.TaggedError<CircuitOpenError>()("CircuitOpen", {
  key: Schema.String,
  retryAfterMillis: Schema.Number
}) {
  override get message(): string {
    return `Circuit open for ${this.key}: the service is failing; the next probe may start in ${Math.ceil(this.retryAfterMillis)} ms`
  }
}

/** `CircuitBreaker.make` was given an option it cannot work with. */
export class InvalidCircuitBreakerOptions extends Schema.TaggedError<InvalidCircuitBreakerOptions>()(
  "InvalidCircuitBreakerOptions",
  {
    /** The option, e.g. `failureRatio`. */
    field: Schema.String,
    /** What the option must be. */
    expected: Schema.String,
    /** The value given, as text. */
    actual: Schema.String
  }
) {
  override get message(): string {
    return `Invalid CircuitBreaker option ${this.field}: expected ${this.expected}, got ${this.actual}`
  }
}
