/**
 * One call, top-down: deadline → retry → admission → attempt (transport, size cap, decode, classify) → feedback.
 * Each stage is its own module; this one only composes them and records the call as a whole.
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
import type { GrokError } from "../../GrokError.js"
import * as GrokMetrics from "../../GrokMetrics.js"
import * as RateLimiter from "../../RateLimiter.js"
import * as RetryPolicy from "../../RetryPolicy.js"
import { admit } from "./admission.js"
import * as Attempt from "./attempt.js"
import * as Deadline from "./deadline.js"
import type { Endpoint } from "./endpoint.js"
import { report } from "./feedback.js"
import { retrying, type Progress } from "./retry.js"

/** What a call may set; the client's options fill the rest. */
export interface Settings {
  readonly retry?: RetryPolicy.RetryPolicy | undefined
  readonly priority?: RateLimiter.Priority | undefined
  readonly deadline?: Duration.DurationInput | undefined
  readonly attemptTimeout?: Duration.DurationInput | undefined
  readonly maxQueueWait?: Duration.DurationInput | undefined
}

/** What the client was built with. */
export interface Client {
  readonly transport: Omit<Attempt.Transport, "timeout">
  readonly defaults: Settings & {
    readonly retry: RetryPolicy.RetryPolicy
    readonly attemptTimeout: Duration.DurationInput
  }
  /** Services found when the client was built; the call's own context wins over them. */
  readonly built: {
    readonly limiter: Option.Option<RateLimiter.Service>
    readonly alerts: Option.Option<Alerts.AlertMonitor.Service>
  }
}

export interface Success<A> {
  readonly value: A
  readonly requestId: string | undefined
  readonly attempts: number
}

/** The error with the number of attempts it took, for callers that report it (the CLI does). */
export const withAttempts = <E extends GrokError>(error: E, attempts: number): E => {
  // A copy, since the error may be shared; `stack` is not enumerable and must be carried over by hand.
  const copy: E = Object.assign(Object.create(Object.getPrototypeOf(error)), error, { attempts })
  Object.defineProperty(copy, "stack", { value: error.stack, enumerable: false, writable: true, configurable: true })
  return copy
}

const serviceOr = <I, S>(tag: Context.Tag<I, S>, built: Option.Option<S>) =>
  Effect.map(Effect.serviceOption(tag), (found) => Option.orElse(found, () => built))

/** Calls the limiter does not admit still report to something. */
export const unlimitedPermit: RateLimiter.Permit = { report: () => Effect.void }

/** One attempt: admitted (when the endpoint is), sent, classified, fed back. */
const attemptOnce = <A>(
  client: Client,
  endpoint: Endpoint<A>,
  limiter: RateLimiter.Service,
  ticket: RateLimiter.Ticket,
  timeout: Duration.DurationInput
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const permit = endpoint.admitted ? yield* admit(limiter, ticket) : unlimitedPermit
      const sent = yield* Clock.currentTimeMillis
      const exchange = yield* Attempt.send({ ...client.transport, timeout }, endpoint)
      const durationMillis = (yield* Clock.currentTimeMillis) - sent
      yield* report({ permit, exchange, usage: endpoint.usage, model: endpoint.model, durationMillis })
      return yield* Either.match(exchange.result, {
        onLeft: Effect.fail,
        onRight: (value) => Effect.succeed({ value, requestId: exchange.requestId })
      })
    })
  )

const recordCall = (
  client: Client,
  model: string,
  progress: Progress,
  started: number,
  exit: Exit.Exit<unknown, GrokError>
) =>
  Effect.gen(function* () {
    const durationMillis = (yield* Clock.currentTimeMillis) - started
    const outcome = GrokMetrics.outcomeOfExit(exit)
    yield* GrokMetrics.recordCall({ model, outcome, attempts: progress.attempts, durationMillis })
    const alerts = yield* serviceOr(Alerts.AlertMonitor, client.built.alerts)
    if (Option.isNone(alerts)) return
    const status = Exit.isSuccess(exit) ? 200 : Option.getOrUndefined(Cause.failureOption(exit.cause))?.status
    yield* alerts.value.observe({ outcome, durationMillis, ...(status !== undefined ? { status } : {}) })
  })

/** What every call settles before its first attempt: deadline, policy, limiter, ticket, attempt timeout. */
export const prepare = (
  client: Client,
  endpoint: { readonly model: string; readonly estimatedTokens: number },
  call: Settings
) =>
  Effect.gen(function* () {
    const { defaults } = client
    const started = yield* Clock.currentTimeMillis
    const deadline = yield* Deadline.start(call.deadline ?? defaults.deadline)
    const policy = call.retry ?? Option.getOrElse(yield* FiberRef.get(RetryPolicy.currentPolicy), () => defaults.retry)
    const limiter = Option.getOrElse(
      yield* serviceOr(RateLimiter.RateLimiter, client.built.limiter),
      () => RateLimiter.unlimited
    )
    const ticket = yield* RateLimiter.ticketFor(endpoint, {
      priority: call.priority,
      maxQueueWait: call.maxQueueWait ?? defaults.maxQueueWait
    })
    const timeout = call.attemptTimeout ?? defaults.attemptTimeout
    const progress: Progress = { attempts: 0 }
    return { started, deadline, policy, limiter, ticket, timeout, progress }
  })

/** A call's final error or value, with the attempts it took; the call recorded as a whole. */
export const finish = <A>(
  client: Client,
  model: string,
  prepared: { readonly progress: Progress; readonly started: number },
  effect: Effect.Effect<A, GrokError>
): Effect.Effect<A, GrokError> =>
  effect.pipe(
    Effect.mapError((error) => withAttempts(error, prepared.progress.attempts)),
    Effect.onExit((exit) => recordCall(client, model, prepared.progress, prepared.started, exit))
  )

/** Runs one call of `endpoint` through every stage. */
export const run = <A>(client: Client, endpoint: Endpoint<A>, call: Settings): Effect.Effect<Success<A>, GrokError> =>
  Effect.gen(function* () {
    const prepared = yield* prepare(client, endpoint, call)
    const { deadline, limiter, policy, progress, ticket, timeout } = prepared
    const attempts = retrying({ policy, deadline, model: endpoint.model, progress }, (n) =>
      attemptOnce(client, endpoint, limiter, ticket, timeout).pipe(
        Effect.withSpan("grok.attempt", {
          attributes: { "grok.model": endpoint.model, "grok.call": endpoint.kind, "grok.attempt": n }
        })
      )
    )
    const bounded = Effect.map(Deadline.bound(deadline, endpoint.model, attempts), (ok) => ({
      ...ok,
      attempts: progress.attempts
    }))
    return yield* finish(client, endpoint.model, prepared, bounded)
  })
