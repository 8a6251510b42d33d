/**
 * One call, top-down: deadline → key refresh → fallback models → retry (and the retry budget) → breaker →
 * admission → attempt (transport, size cap, decode, classify) → feedback. Each stage is its own module; this one
 * composes them, for whole answers here and for streams in `stream.ts`, and records the call as a whole.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Alerts from "../../Alerts.js"
import * as CircuitBreaker from "../../CircuitBreaker.js"
import type { GrokError } from "../../GrokError.js"
import * as GrokMetrics from "../../GrokMetrics.js"
import * as RateLimiter from "../../RateLimiter.js"
import * as RetryBudget from "../../RetryBudget.js"
import * as RetryPolicy from "../../RetryPolicy.js"
import { admit } from "./admission.js"
import { amend } from "./amend.js"
import * as Attempt from "./attempt.js"
import * as Breaker from "./breaker.js"
import * as Credentials from "./credentials.js"
import * as Deadline from "./deadline.js"
import type { Endpoint } from "./endpoint.js"
import { chain, falling } from "./fallback.js"
import { report } from "./feedback.js"
import { annotate, spanned } from "./span.js"
import { retrying, type Options as RetryOptions, type Progress } from "./retry.js"

/** What a call may set; the client's options fill the rest. */
export interface Settings {
  readonly retry?: RetryPolicy.RetryPolicy | undefined
  readonly priority?: RateLimiter.Priority | undefined
  readonly deadline?: Duration.DurationInput | undefined
  readonly attemptTimeout?: Duration.DurationInput | undefined
  readonly maxQueueWait?: Duration.DurationInput | undefined
  readonly fallbackModels?: ReadonlyArray<string> | undefined
}

/** What the client was built with. */
export interface Client {
  /** The base URL without a trailing slash: with the model, the key of a breaker. */
  readonly baseUrl: string
  readonly credentials: Credentials.Credentials
  readonly transport: Omit<Attempt.Transport, "timeout">
  readonly defaults: Settings & {
    readonly retry: RetryPolicy.RetryPolicy
    readonly attemptTimeout: Duration.DurationInput
  }
  /** Services found (or, for the breaker and the budget, made) when the client was built; the call's own win. */
  readonly built: {
    readonly limiter: Option.Option<RateLimiter.Service>
    readonly alerts: Option.Option<Alerts.AlertMonitor.Service>
    readonly breaker: Option.Option<CircuitBreaker.Service>
    readonly budget: Option.Option<RetryBudget.Service>
  }
}

export interface Success<A> {
  readonly value: A
  readonly requestId: string | undefined
  readonly attempts: number
  /** The model that answered: the call's own, or one of its fallbacks. */
  readonly model: string
}

/** The error with the number of attempts it took, for callers that report it (the CLI does). */
export const withAttempts = <E extends GrokError>(error: E, attempts: number): E => amend(error, { attempts })

/**
 * A service for the client's construction: the one in the context, else one made from `options`, else none when
 * `options` is false.
 */
export const foundOrMade = <I, S, O, E, R>(
  tag: Context.Tag<I, S>,
  options: O | false | undefined,
  make: (options: O | undefined) => Effect.Effect<S, E, R>
): Effect.Effect<Option.Option<S>, E, R> =>
  Effect.flatMap(Effect.serviceOption(tag), (found) =>
    Option.isSome(found) || options === false ? Effect.succeed(found) : Effect.map(make(options), Option.some)
  )

/** Calls the limiter does not admit still report to something. */
export const unlimitedPermit: RateLimiter.Permit = { report: () => Effect.void }

/** What every call settles before its first attempt, shared by its stages. */
export interface Prepared {
  readonly started: number
  readonly deadline: Deadline.Deadline
  readonly policy: RetryPolicy.RetryPolicy
  readonly limiter: RateLimiter.Service
  readonly breaker: CircuitBreaker.Service | undefined
  readonly budget: RetryBudget.Service
  readonly timeout: Duration.DurationInput
  readonly maxQueueWait: Duration.DurationInput | undefined
  readonly progress: Progress
  readonly used: Attempt.KeyUse
  /** The model tried last, for the call's metrics. */
  model: string
}

/** The call's service: the one in its context, else the one the client was built with. */
const serviceIn = <I, S>(context: Context.Context<never>, tag: Context.Tag<I, S>, built: Option.Option<S>) =>
  Option.orElse(Context.getOption(context as Context.Context<I>, tag), () => built)

/** Settled in one step: the clock, the fiber's retry policy and the services are read, not yielded one by one. */
export const prepare = (client: Client, model: string, call: Settings): Effect.Effect<Prepared> =>
  Effect.withFiberRuntime((fiber) => {
    const { defaults, built } = client
    const context = fiber.currentContext
    const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
    return Effect.succeed({
      started: now,
      deadline: Deadline.startAt(call.deadline ?? defaults.deadline, now),
      policy: call.retry ?? Option.getOrElse(fiber.getFiberRef(RetryPolicy.currentPolicy), () => defaults.retry),
      limiter: Option.getOrElse(
        serviceIn(context, RateLimiter.RateLimiter, built.limiter),
        () => RateLimiter.unlimited
      ),
      breaker: Option.getOrUndefined(serviceIn(context, CircuitBreaker.CircuitBreaker, built.breaker)),
      budget: Option.getOrElse(serviceIn(context, RetryBudget.RetryBudget, built.budget), () => RetryBudget.unlimited),
      timeout: call.attemptTimeout ?? defaults.attemptTimeout,
      maxQueueWait: call.maxQueueWait ?? defaults.maxQueueWait,
      progress: { attempts: 0 },
      used: { generation: 0 },
      model
    })
  })

/** The limiter ticket of one model's attempts. */
export const ticketOf = (
  prepared: Prepared,
  call: Settings,
  cost: { readonly model: string; readonly estimatedTokens: number }
): Effect.Effect<RateLimiter.Ticket> =>
  RateLimiter.ticketFor(cost, { priority: call.priority, maxQueueWait: prepared.maxQueueWait })

/** The retry stage's options for `model`: the breaker holds a retry back when it is open or probing. */
export const retryOptions = (client: Client, prepared: Prepared, model: string): RetryOptions => {
  const { policy, deadline, progress, budget, breaker } = prepared
  const key = Breaker.keyOf(client.baseUrl, model)
  const heldBack = breaker === undefined ? Effect.succeed(false) : Breaker.holdsBack(breaker, key)
  return { policy, deadline, model, progress, budget, heldBack }
}

/** How one attempt on `model` passes the breaker now. */
export const gateOf = (
  client: Client,
  prepared: Prepared,
  model: string,
  fallbackNext: boolean
): Effect.Effect<Breaker.Gate> =>
  Effect.map(Clock.currentTimeMillis, (now) => ({
    breaker: prepared.breaker,
    key: Breaker.keyOf(client.baseUrl, model),
    model,
    maxWaitMillis: Breaker.waitMillis({
      deadline: prepared.deadline,
      maxQueueWaitMillis:
        prepared.maxQueueWait === undefined ? undefined : Duration.toMillis(Duration.decode(prepared.maxQueueWait)),
      fallbackNext,
      now
    }),
    refused: Effect.sync(() => {
      prepared.progress.attempts--
    })
  }))

/**
 * The outer stages, shared by whole answers and streams: the deadline around everything, the key refresh around
 * the models, each model run by `perModel` (told whether a fallback follows).
 */
export const outer = <A>(
  client: Client,
  prepared: Prepared,
  models: ReadonlyArray<string>,
  perModel: (model: string, fallbackNext: boolean) => Effect.Effect<A, GrokError>
): Effect.Effect<A, GrokError> => {
  const onModel = (model: string, fallbackNext: boolean) =>
    Effect.suspend(() => {
      prepared.model = model
      return perModel(model, fallbackNext)
    })
  const refreshed = Credentials.refreshing(client.credentials, prepared.used, falling(models, onModel))
  return Deadline.bound(prepared.deadline, models[0]!, refreshed)
}

/** The models a call tries: its own, then the fallbacks (only for calls that can be sent to another model). */
export const modelsOf = (client: Client, call: Settings, model: string, retargetable: boolean) =>
  chain(model, retargetable ? (call.fallbackModels ?? client.defaults.fallbackModels ?? []) : [])

/** Records the finished call (metrics, the alert monitor) and, on success, the model that answered, in one step. */
const recordCall = (client: Client, prepared: Prepared, exit: Exit.Exit<unknown, GrokError>) =>
  Effect.withFiberRuntime<void>((fiber) => {
    const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
    const durationMillis = now - prepared.started
    const outcome = GrokMetrics.outcomeOfExit(exit)
    const attempts = prepared.progress.attempts
    if (Exit.isSuccess(exit)) annotate(fiber.currentSpan, "grok.answered_model", prepared.model)
    const recorded = GrokMetrics.recordCall({ model: prepared.model, outcome, attempts, durationMillis })
    const alerts = serviceIn(fiber.currentContext, Alerts.AlertMonitor, client.built.alerts)
    if (Option.isNone(alerts)) return recorded
    const status = Exit.isSuccess(exit) ? 200 : Option.getOrUndefined(Cause.failureOption(exit.cause))?.status
    return Effect.zipRight(
      recorded,
      alerts.value.observe({ outcome, durationMillis, ...(status !== undefined ? { status } : {}) })
    )
  })

/** A call's final error or value, with the attempts it took; the call recorded as a whole, by the last model. */
export const finish = <A>(client: Client, prepared: Prepared, effect: Effect.Effect<A, GrokError>) =>
  Effect.onExit(
    Effect.mapError(effect, (error) => withAttempts(error, prepared.progress.attempts)),
    (exit) => recordCall(client, prepared, exit)
  )

/** One attempt: through the breaker, admitted (when the endpoint is), sent, classified, fed back. */
const attemptOnce = <A>(
  transport: Attempt.Transport,
  prepared: Prepared,
  endpoint: Endpoint<A>,
  ticket: RateLimiter.Ticket
): Effect.Effect<{ readonly value: A; readonly requestId: string | undefined }, GrokError, Scope.Scope> => {
  const sending = (permit: RateLimiter.Permit) =>
    Effect.withFiberRuntime<{ readonly value: A; readonly requestId: string | undefined }, GrokError>((fiber) => {
      const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
      const sent = clock.unsafeCurrentTimeMillis()
      return Effect.flatMap(Attempt.send(transport, endpoint, prepared.used), (exchange) => {
        const durationMillis = clock.unsafeCurrentTimeMillis() - sent
        const fed = report({ permit, exchange, usage: endpoint.usage, model: endpoint.model, durationMillis })
        const { result, requestId } = exchange
        return Effect.zipRight(
          fed,
          Either.isRight(result) ? Effect.succeed({ value: result.right, requestId }) : Effect.fail(result.left)
        )
      })
    })
  return endpoint.admitted ? Effect.flatMap(admit(prepared.limiter, ticket), sending) : sending(unlimitedPermit)
}

/** The call on one model, retried by the policy. */
const onModel = <A>(
  client: Client,
  prepared: Prepared,
  call: Settings,
  endpoint: Endpoint<A>,
  model: string,
  fallbackNext: boolean
): Effect.Effect<Success<A>, GrokError> =>
  Effect.flatMap(ticketOf(prepared, call, endpoint), (ticket) => {
    const transport = { ...client.transport, timeout: prepared.timeout }
    const once = attemptOnce(transport, prepared, endpoint, ticket)
    const attempt = (n: number) =>
      spanned(
        "grok.attempt",
        { "grok.model": model, "grok.call": endpoint.kind, "grok.attempt": n },
        Effect.flatMap(gateOf(client, prepared, model, fallbackNext), (gate) =>
          Effect.scoped(Breaker.guarded(gate, once))
        ),
        Attempt.refusingRedirects
      )
    return Effect.map(retrying(retryOptions(client, prepared, model), attempt), (ok) => ({
      ...ok,
      attempts: prepared.progress.attempts,
      model
    }))
  })

/** Runs one call of `endpoint` through every stage. */
export const run = <A>(client: Client, endpoint: Endpoint<A>, call: Settings): Effect.Effect<Success<A>, GrokError> =>
  Effect.flatMap(prepare(client, endpoint.model, call), (prepared) => {
    const models = modelsOf(client, call, endpoint.model, endpoint.retarget !== undefined)
    const perModel = (model: string, fallbackNext: boolean) =>
      model === endpoint.model || endpoint.retarget === undefined
        ? onModel(client, prepared, call, endpoint, model, fallbackNext)
        : Effect.flatMap(endpoint.retarget(model), (retargeted) =>
            onModel(client, prepared, call, retargeted, model, fallbackNext)
          )
    return finish(client, prepared, outer(client, prepared, models, perModel))
  })
