/**
 * One call, top-down: deadline → key refresh → fallback models → retry (and the retry budget) → breaker →
 * admission → attempt (transport, size cap, decode, classify) → feedback. Each stage is its own module; this one
 * only composes them and records the call as a whole.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
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
import { retrying, type Progress } from "./retry.js"

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

const serviceOr = <I, S>(tag: Context.Tag<I, S>, built: Option.Option<S>) =>
  Effect.map(Effect.serviceOption(tag), (found) => Option.orElse(found, () => built))

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
const unlimitedPermit: RateLimiter.Permit = { report: () => Effect.void }

/** Everything one call carries through its stages. */
interface Call<A> {
  readonly client: Client
  readonly endpoint: Endpoint<A>
  readonly settings: Settings
  readonly deadline: Deadline.Deadline
  readonly policy: RetryPolicy.RetryPolicy
  readonly limiter: RateLimiter.Service
  readonly breaker: CircuitBreaker.Service | undefined
  readonly budget: RetryBudget.Service
  readonly timeout: Duration.DurationInput
  readonly maxQueueWait: Duration.DurationInput | undefined
  readonly progress: Progress
  readonly used: Credentials.KeyUse
  /** The model tried last, for the call's metrics. */
  model: string
}

const prepare = <A>(client: Client, endpoint: Endpoint<A>, settings: Settings): Effect.Effect<Call<A>> =>
  Effect.gen(function* () {
    const { defaults, built } = client
    return {
      client,
      endpoint,
      settings,
      deadline: yield* Deadline.start(settings.deadline ?? defaults.deadline),
      policy: settings.retry ?? Option.getOrElse(yield* FiberRef.get(RetryPolicy.currentPolicy), () => defaults.retry),
      limiter: Option.getOrElse(yield* serviceOr(RateLimiter.RateLimiter, built.limiter), () => RateLimiter.unlimited),
      breaker: Option.getOrUndefined(yield* serviceOr(CircuitBreaker.CircuitBreaker, built.breaker)),
      budget: Option.getOrElse(yield* serviceOr(RetryBudget.RetryBudget, built.budget), () => RetryBudget.unlimited),
      timeout: settings.attemptTimeout ?? defaults.attemptTimeout,
      maxQueueWait: settings.maxQueueWait ?? defaults.maxQueueWait,
      progress: { attempts: 0 },
      used: { generation: 0 },
      model: endpoint.model
    }
  })

/** One attempt: through the breaker, admitted (when the endpoint is), sent, classified, fed back. */
const attemptOnce = <A>(call: Call<A>, endpoint: Endpoint<A>, ticket: RateLimiter.Ticket, fallbackNext: boolean) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const maxWaitMillis = Breaker.waitMillis({
      deadline: call.deadline,
      maxQueueWaitMillis: call.maxQueueWait === undefined ? undefined : Duration.toMillis(call.maxQueueWait),
      fallbackNext,
      now
    })
    const key = Breaker.keyOf(call.client.baseUrl, endpoint.model)
    const attempt = Effect.gen(function* () {
      const permit = endpoint.admitted ? yield* admit(call.limiter, ticket) : unlimitedPermit
      const sent = yield* Clock.currentTimeMillis
      const exchange = yield* Attempt.send({ ...call.client.transport, timeout: call.timeout }, endpoint)
      call.used.generation = exchange.keyGeneration
      const durationMillis = (yield* Clock.currentTimeMillis) - sent
      yield* report({ permit, exchange, usage: endpoint.usage, model: endpoint.model, durationMillis })
      return yield* Either.match(exchange.result, {
        onLeft: Effect.fail,
        onRight: (value) => Effect.succeed({ value, requestId: exchange.requestId })
      })
    })
    return yield* Breaker.guarded(call.breaker, { key, model: endpoint.model, maxWaitMillis }, attempt)
  }).pipe(Effect.scoped)

/** The call on one model, retried by the policy. */
const onModel = <A>(call: Call<A>, model: string, fallbackNext: boolean): Effect.Effect<Success<A>, GrokError> =>
  Effect.gen(function* () {
    const primary = call.endpoint
    const endpoint =
      model === primary.model || primary.retarget === undefined ? primary : yield* primary.retarget(model)
    call.model = model
    const ticket = yield* RateLimiter.ticketFor(endpoint, {
      priority: call.settings.priority,
      maxQueueWait: call.maxQueueWait
    })
    const breaker = call.breaker
    const key = Breaker.keyOf(call.client.baseUrl, model)
    const heldBack = breaker === undefined ? Effect.succeed(false) : Breaker.holdsBack(breaker, key)
    const { policy, deadline, progress, budget } = call
    const retried = retrying({ policy, deadline, model, progress, budget, heldBack }, (n) =>
      attemptOnce(call, endpoint, ticket, fallbackNext).pipe(
        Effect.withSpan("grok.attempt", {
          attributes: { "grok.model": model, "grok.call": primary.kind, "grok.attempt": n }
        })
      )
    )
    return yield* Effect.map(retried, (ok) => ({ ...ok, attempts: call.progress.attempts, model }))
  })

const recordCall = <A>(call: Call<A>, started: number, exit: Exit.Exit<unknown, GrokError>) =>
  Effect.gen(function* () {
    const durationMillis = (yield* Clock.currentTimeMillis) - started
    const outcome = GrokMetrics.outcomeOfExit(exit)
    const attempts = call.progress.attempts
    yield* GrokMetrics.recordCall({ model: call.model, outcome, attempts, durationMillis })
    const alerts = yield* serviceOr(Alerts.AlertMonitor, call.client.built.alerts)
    if (Option.isNone(alerts)) return
    const status = Exit.isSuccess(exit) ? 200 : Option.getOrUndefined(Cause.failureOption(exit.cause))?.status
    yield* alerts.value.observe({ outcome, durationMillis, ...(status !== undefined ? { status } : {}) })
  })

/** Runs one call of `endpoint` through every stage. */
export const run = <A>(
  client: Client,
  endpoint: Endpoint<A>,
  settings: Settings
): Effect.Effect<Success<A>, GrokError> =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    const call = yield* prepare(client, endpoint, settings)
    const fallbacks = endpoint.retarget === undefined ? [] : (settings.fallbackModels ?? client.defaults.fallbackModels)
    const models = chain(endpoint.model, fallbacks ?? [])
    const whole = Credentials.refreshing(
      client.credentials,
      call.used,
      falling(models, (model, hasNext) => onModel(call, model, hasNext))
    )
    return yield* Deadline.bound(call.deadline, endpoint.model, whole).pipe(
      Effect.tap((ok) => Effect.annotateCurrentSpan("grok.answered_model", ok.model)),
      Effect.mapError((error) => withAttempts(error, call.progress.attempts)),
      Effect.onExit((exit) => recordCall(call, started, exit))
    )
  })
