/**
 * Admission: the service every GrokClient attempt asks before it is sent and reports to after the answer.
 *
 * One limiter is shared by every call of the program. Before each attempt the client calls `acquire` inside a
 * scope: the call waits in a priority queue (critical, high, normal, low; first come first served within a
 * class) until the concurrency cap, the shared cooldown and the budget in the store let it go. After the answer
 * the client calls `permit.report`: the token reservation is settled against `usage.total_tokens`, a 429 that
 * says the quota is exhausted (not a lone one at a configured rate) starts a cooldown that holds every caller of
 * the same budget, `x-ratelimit-remaining-*: 0` holds until the matching reset, and adaptive mode learns the rate. A scope that closes without a report (no answer, interruption) frees
 * the slot and returns the tokens.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as GrokApi from "./GrokApi.js"
import type * as Contract from "./internal/admission/contract.js"
import * as Admission from "./internal/admission/limiter.js"
import * as Snapshots from "./internal/admission/snapshots.js"
import * as LimiterOptions from "./internal/limiterOptions.js"
import * as MemoryStore from "./MemoryStore.js"
import * as RateLimiterStore from "./RateLimiterStore.js"

/**
 * @since 0.1.0
 * @category models
 */
export type Options = LimiterOptions.Options

/**
 * @since 0.1.0
 * @category errors
 */
export const InvalidLimiterOptions = LimiterOptions.InvalidLimiterOptions

/**
 * @since 0.1.0
 * @category errors
 */
export type InvalidLimiterOptions = LimiterOptions.InvalidLimiterOptions

/**
 * Admission classes: higher classes are admitted first; within a class, first come first served.
 *
 * @since 0.1.0
 * @category models
 */
export type Priority = Contract.Priority

/**
 * What one attempt asks for: priority, estimated tokens, longest queue wait, model.
 *
 * @since 0.1.0
 * @category models
 */
export type Ticket = Contract.Ticket

/**
 * What the client learned from one attempt: status, rate-limit headers, the limit a 429 body named, tokens used.
 *
 * @since 0.1.0
 * @category models
 */
export type Feedback = Contract.Feedback

/**
 * An admitted attempt. Closing its scope without `report` returns the reservation.
 *
 * @since 0.1.0
 * @category models
 */
export type Permit = Contract.Permit

/**
 * A point-in-time view for metrics and logs.
 *
 * @since 0.1.0
 * @category models
 */
export type Snapshot = Contract.Snapshot

/**
 * @since 0.1.0
 * @category models
 */
export type Service = Contract.Service

/**
 * The limiter shared by every GrokClient call that runs with this layer.
 *
 * @since 0.1.0
 * @category tags
 */
export class RateLimiter extends Context.Tag("grok-resilience/RateLimiter")<RateLimiter, Service>() {}

const unlimitedPermit: Permit = { report: () => Effect.void }
const unlimitedSnapshot: Snapshot = { queued: 0, inFlight: 0, holdUntilMillis: 0 }

/**
 * A limiter that admits everything at once. Use it when another component already paces the calls.
 *
 * @since 0.1.0
 * @category layers
 */
export const unlimited: Service = Snapshots.register(
  {
    acquire: () => Effect.succeed(unlimitedPermit),
    snapshot: Effect.succeed(unlimitedSnapshot)
  },
  () => unlimitedSnapshot
)

/**
 * @since 0.1.0
 * @category layers
 */
export const layerUnlimited: Layer.Layer<RateLimiter> = Layer.succeed(RateLimiter, unlimited)

/**
 * The priority given to GrokClient calls that do not set one.
 *
 * @since 0.1.0
 * @category fiber refs
 */
export const currentPriority: FiberRef.FiberRef<Priority> = FiberRef.unsafeMake<Priority>("normal")

/**
 * Runs an effect with every GrokClient call inside it admitted at the given priority.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { GrokClient, RateLimiter } from "grok-resilience"
 *
 * const urgent = Effect.flatMap(GrokClient.GrokClient, (grok) =>
 *   grok.chat({ model: "grok-4", messages: [{ role: "user", content: "page me" }] })
 * ).pipe(RateLimiter.withPriority("critical"))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withPriority: {
  (priority: Priority): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, priority: Priority): Effect.Effect<A, E, R>
} = dual(2, <A, E, R>(self: Effect.Effect<A, E, R>, priority: Priority) =>
  Effect.locally(self, currentPriority, priority)
)

/**
 * Builds a limiter in the current scope: its dispatcher lives as long as the scope, and waiters still queued
 * when the scope closes fail with `Rejected("LimiterUnavailable")`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, InvalidLimiterOptions, Scope.Scope> =>
  Effect.gen(function* () {
    const settings = yield* LimiterOptions.validate(options)
    const store = options.store ?? (yield* MemoryStore.make)
    return yield* Admission.make(settings, store)
  })

/**
 * The limiter, with its budget in `options.store` or a memory store of its own. Invalid options fail the layer
 * with `InvalidLimiterOptions`, naming the option.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "grok-resilience"
 *
 * // xAI console shows 8 requests per second and 100,000 tokens per minute for the model: stay a little under.
 * const Limiter = RateLimiter.layer({ requestsPerSecond: 7.5, tokensPerMinute: 95_000, maxConcurrency: 16 })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RateLimiter, InvalidLimiterOptions> =>
  Layer.scoped(RateLimiter, make(options))

/**
 * The limiter, with its budget in the `RateLimiterStore` of the context (e.g. the Redis store).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStore = (
  options: Omit<Options, "store"> = {}
): Layer.Layer<RateLimiter, InvalidLimiterOptions, RateLimiterStore.RateLimiterStore> =>
  Layer.scoped(
    RateLimiter,
    Effect.flatMap(RateLimiterStore.RateLimiterStore, (store) => make({ ...options, store }))
  )

/**
 * The ticket for one attempt of a call on `model` costing `estimatedTokens`: the priority given here, else the one
 * set with `withPriority`, else `"normal"`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ticketFor = (
  cost: { readonly model: string; readonly estimatedTokens: number },
  options?: { readonly priority?: Priority | undefined; readonly maxQueueWait?: Duration.DurationInput | undefined }
): Effect.Effect<Ticket> =>
  Effect.map(FiberRef.get(currentPriority), (priority) => ({
    priority: options?.priority ?? priority,
    estimatedTokens: cost.estimatedTokens,
    model: cost.model,
    ...(options?.maxQueueWait !== undefined ? { maxQueueWait: Duration.decode(options.maxQueueWait) } : {})
  }))

/**
 * The ticket for one attempt of `request`: tokens from `GrokApi.estimateTokens`, priority as in `ticketFor`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ticket = (
  request: GrokApi.ChatRequest,
  options?: { readonly priority?: Priority; readonly maxQueueWait?: Duration.DurationInput }
): Effect.Effect<Ticket> =>
  ticketFor({ model: request.model, estimatedTokens: GrokApi.estimateTokens(request) }, options)
