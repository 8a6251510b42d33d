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
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Alerts from "../../Alerts.js"
import * as CircuitBreaker from "../../CircuitBreaker.js"
import type { GrokError } from "../../GrokError.js"
import * as GrokMetrics from "../../GrokMetrics.js"
import * as RateLimiter from "../../RateLimiter.js"
import * as RetryBudget from "../../RetryBudget.js"
import * as RetryPolicy from "../../RetryPolicy.js"
import * as BreakerCore from "../breaker/breaker.js"
import * as FiberClock from "../fiberClock.js"
import { callUpdates } from "../grokMetrics.js"
import { unsafeApply } from "../labelledMetric.js"
import { admitted } from "./admission.js"
import { amend } from "./amend.js"
import * as Attempt from "./attempt.js"
import * as Breaker from "./breaker.js"
import * as Credentials from "./credentials.js"
import * as Deadline from "./deadline.js"
import type { Endpoint } from "./endpoint.js"
import { chain, falling } from "./fallback.js"
import { unsafeReport } from "./feedback.js"
import { attemptContext, attemptFetchOf } from "./fetchTimer.js"
import { annotate, type Ending, spanned } from "./span.js"
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
  Effect.withFiberRuntime((fiber) => Effect.succeed(preparedOn(fiber, client, model, call)))

/** `prepare` for a step that already holds the fiber. */
const preparedOn = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  client: Client,
  model: string,
  call: Settings
): Prepared => {
  const { defaults, built } = client
  const context = fiber.currentContext
  const now = FiberClock.millisOf(fiber)
  return {
    started: now,
    deadline: Deadline.startAt(call.deadline ?? defaults.deadline, now),
    policy: call.retry ?? Option.getOrElse(fiber.getFiberRef(RetryPolicy.currentPolicy), () => defaults.retry),
    limiter: Option.getOrElse(serviceIn(context, RateLimiter.RateLimiter, built.limiter), () => RateLimiter.unlimited),
    breaker: Option.getOrUndefined(serviceIn(context, CircuitBreaker.CircuitBreaker, built.breaker)),
    budget: Option.getOrElse(serviceIn(context, RetryBudget.RetryBudget, built.budget), () => RetryBudget.unlimited),
    timeout: call.attemptTimeout ?? defaults.attemptTimeout,
    maxQueueWait: call.maxQueueWait ?? defaults.maxQueueWait,
    progress: { attempts: 0 },
    used: { generation: 0 },
    model
  }
}

/** The limiter ticket of one model's attempts. */
export const ticketOf = (
  prepared: Prepared,
  call: Settings,
  cost: { readonly model: string; readonly estimatedTokens: number }
): Effect.Effect<RateLimiter.Ticket> =>
  RateLimiter.ticketFor(cost, { priority: call.priority, maxQueueWait: prepared.maxQueueWait })

const notHeldBack = Effect.succeed(false)

/** The retry stage's options for `model`: the breaker holds a retry back when it is open or probing. */
export const retryOptions = (client: Client, prepared: Prepared, model: string): RetryOptions => {
  const { policy, deadline, progress, budget, breaker } = prepared
  const heldBack =
    breaker === undefined ? notHeldBack : Breaker.holdsBack(breaker, Breaker.keyOf(client.baseUrl, model))
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

/**
 * Records the finished call (metrics, the alert monitor) and, on success, the model that answered, from the fiber
 * it ran in: the metrics at once, the alert monitor as the effect returned (none without a monitor).
 */
const recorded = (
  client: Client,
  prepared: Prepared,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  exit: Exit.Exit<unknown, unknown>
): Effect.Effect<void> | undefined => {
  const durationMillis = FiberClock.millisOf(fiber) - prepared.started
  const outcome = GrokMetrics.outcomeOfExit(exit)
  const attempts = prepared.progress.attempts
  if (Exit.isSuccess(exit)) annotate(fiber.currentSpan, "grok.answered_model", prepared.model)
  const updates = callUpdates({ model: prepared.model, outcome, attempts, durationMillis })
  unsafeApply(updates, fiber.getFiberRef(FiberRef.currentMetricLabels))
  const alerts = serviceIn(fiber.currentContext, Alerts.AlertMonitor, client.built.alerts)
  if (Option.isNone(alerts)) return undefined
  const failure = Exit.isSuccess(exit) ? undefined : Option.getOrUndefined(Cause.failureOption(exit.cause))
  const status = Exit.isSuccess(exit) ? 200 : (failure as GrokError | undefined)?.status
  return alerts.value.observe({ outcome, durationMillis, ...(status !== undefined ? { status } : {}) })
}

/**
 * A call's final error or value, with the attempts it took; the call recorded as a whole, by the last model: by
 * the enclosing span's `ending` when given (one exit handler for both), else by an exit handler of its own.
 */
export const finish = <A>(
  client: Client,
  prepared: Prepared,
  effect: Effect.Effect<A, GrokError>,
  ending?: Ending
): Effect.Effect<A, GrokError> => {
  const amended = Effect.mapError(effect, (error) => withAttempts(error, prepared.progress.attempts))
  if (ending !== undefined) {
    ending.last = (fiber, exit) => recorded(client, prepared, fiber, exit)
    return amended
  }
  return Effect.onExit(amended, (exit) =>
    Effect.withFiberRuntime<void>((fiber) => recorded(client, prepared, fiber, exit) ?? Effect.void)
  )
}

type Answer<A> = { readonly value: A; readonly requestId: string | undefined }

/** The verdict of the breaker's quiet pass, applied now when it can be; else the effect that applies it. */
const judgedNow = <A>(
  pass: BreakerCore.QuietPass,
  result: Either.Either<A, GrokError>,
  now: number
): Effect.Effect<void> | undefined => {
  const outcome = Breaker.verdictOf(Either.isRight(result) ? undefined : result.left)
  return pass.reportNow(outcome, now) ? undefined : pass.report(outcome)
}

/**
 * One attempt sent and classified, its answer fed back to `permit` and, given a quiet pass of the breaker, its
 * verdict to the pass: all in the step that has the answer, where nothing needs an effect of its own.
 */
const sending = <A>(
  transport: Attempt.Transport,
  prepared: Prepared,
  endpoint: Endpoint<A>,
  permit: RateLimiter.Permit,
  pass?: BreakerCore.QuietPass
): Effect.Effect<Answer<A>, GrokError> =>
  Effect.withFiberRuntime<Answer<A>, GrokError>((fiber) => {
    const clock = FiberClock.clockOf(fiber)
    const sent = clock.unsafeCurrentTimeMillis()
    const fetch = attemptFetchOf(fiber.currentContext)
    return Effect.flatMap(Attempt.send(transport, endpoint, prepared.used, clock, fetch), (exchange) => {
      const now = clock.unsafeCurrentTimeMillis()
      const { result, requestId } = exchange
      const options = { permit, exchange, usage: endpoint.usage, model: endpoint.model, durationMillis: now - sent }
      const fed = unsafeReport(fiber, options, permit !== unlimitedPermit)
      const judged = pass === undefined ? undefined : judgedNow(pass, result, now)
      const answered: Effect.Effect<Answer<A>, GrokError> = Either.isRight(result)
        ? Effect.succeed({ value: result.right, requestId })
        : Effect.fail(result.left)
      const settled = judged === undefined ? answered : Effect.zipRight(judged, answered)
      return fed === undefined ? settled : Effect.zipRight(fed, settled)
    })
  })

/**
 * Whether an attempt of `endpoint` waits for the limiter: not when the endpoint is not admitted, nor when the
 * limiter is the unlimited one, which admits at once and learns nothing (no ticket, no permit, no scope).
 */
const limitedBy = (prepared: Prepared, endpoint: { readonly admitted: boolean }): boolean =>
  endpoint.admitted && prepared.limiter !== RateLimiter.unlimited

/** The call on one model, retried by the policy. */
const onModel = <A>(
  client: Client,
  prepared: Prepared,
  call: Settings,
  endpoint: Endpoint<A>,
  model: string,
  fallbackNext: boolean
): Effect.Effect<Success<A>, GrokError> => {
  const transport = { ...client.transport, timeout: prepared.timeout }
  const attributes = (n: number) => ({ "grok.model": model, "grok.call": endpoint.kind, "grok.attempt": n })
  const limited = limitedBy(prepared, endpoint)
  const retried = (once: (pass?: BreakerCore.QuietPass) => Effect.Effect<Answer<A>, GrokError>) => {
    const breaker = prepared.breaker
    const key = Breaker.keyOf(client.baseUrl, model)
    const gated = () =>
      Effect.flatMap(gateOf(client, prepared, model, fallbackNext), (gate) =>
        Effect.scoped(Breaker.guarded(gate, once()))
      )
    // A quiet pass of the breaker (a closed key) is taken and judged in the attempt's own steps; any other pass
    // goes through the breaker stage. The limiter's permit ends with `once` (`admitted`): no scope for it here.
    const through: Effect.Effect<Answer<A>, GrokError> = breaker === undefined
      ? once()
      : Effect.suspend(() => {
          const pass = BreakerCore.unsafeQuietPass(breaker, key)
          return pass === undefined ? gated() : once(pass)
        })
    const extend = attemptContext(client.transport.http)
    const attempt = (n: number) => spanned("grok.attempt", attributes(n), through, extend)
    return Effect.map(retrying(retryOptions(client, prepared, model), attempt), (ok) => ({
      ...ok,
      attempts: prepared.progress.attempts,
      model
    }))
  }
  if (!limited) return retried((pass) => sending(transport, prepared, endpoint, unlimitedPermit, pass))
  return Effect.flatMap(ticketOf(prepared, call, endpoint), (ticket) =>
    retried((pass) =>
      admitted(prepared.limiter, ticket, (permit) => sending(transport, prepared, endpoint, permit, pass))
    )
  )
}

/** Runs one call of `endpoint` through every stage; recorded by `ending` when the caller's span gives one. */
export const run = <A>(
  client: Client,
  endpoint: Endpoint<A>,
  call: Settings,
  ending?: Ending
): Effect.Effect<Success<A>, GrokError> =>
  Effect.withFiberRuntime((fiber) => {
    const prepared = preparedOn(fiber, client, endpoint.model, call)
    const models = modelsOf(client, call, endpoint.model, endpoint.retarget !== undefined)
    const perModel = (model: string, fallbackNext: boolean) =>
      model === endpoint.model || endpoint.retarget === undefined
        ? onModel(client, prepared, call, endpoint, model, fallbackNext)
        : Effect.flatMap(endpoint.retarget(model), (retargeted) =>
            onModel(client, prepared, call, retargeted, model, fallbackNext)
          )
    return finish(client, prepared, outer(client, prepared, models, perModel), ending)
  })
