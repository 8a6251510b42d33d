/**
 * The decision half of the fake Grok server: given the scenario state and a generation request (chat or
 * Responses), which answer to send: script step, outage, request quota, token quota, fault draws, or a normal
 * answer. Pure apart from the state it updates (quota, script position, PRNG, stored responses); it reads no clock
 * of its own: the front end passes the time in.
 */
import type { Answer, ArrivalKind } from "./Answer.js"
import { json, reset, stream, whole, withPrompt } from "./Answer.js"
import * as Errors from "./Errors.js"
import type { Generation, Ids } from "./Generation.js"
import { waitHeaders } from "./Headers.js"
import * as Quota from "./Quota.js"
import type { FaultKind, ScriptStep, StreamFaultKind } from "./Scenario.js"
import { faultKinds, streamFaultKinds } from "./Scenario.js"
import type { State } from "./State.js"
import { keep } from "./State.js"

/** What the front end tells the engine about now. */
export interface Env {
  /** Monotonic milliseconds: quotas, windows and outages are measured on it. */
  readonly nowMillis: number
  /** Wall-clock milliseconds since the epoch, for HTTP-dates and `created` fields. */
  readonly wallMillis: number
  readonly ids: Ids
}

const tooMany = (state: State, kind: ArrivalKind, model: string, hit: Errors.LimitHit, wait: number, env: Env) =>
  json(
    429,
    kind,
    Errors.rateLimited(model, state.scenario.limitInBody ? hit : undefined),
    waitHeaders(state.scenario.retryAfter, wait, env.wallMillis)
  )

const countServed = (state: State, generation: Generation, nowMillis: number) => {
  if (state.tokens) Quota.logAdd(state.tokens, generation.tokens.total, nowMillis)
}

/**
 * A normal answer, whole or streamed: its tokens are counted, a Responses answer is stored, a deferred completion is
 * kept until `deferredMillis` from now.
 */
const normal = (state: State, generation: Generation, env: Env, kind: ArrivalKind = "ok"): Answer => {
  const rendered = generation.render(env.ids)
  countServed(state, generation, env.nowMillis)
  if (rendered.stored) keep(state.stored, rendered.stored.id, { json: JSON.stringify(rendered.stored.response) })
  if (rendered.deferred) {
    const readyAtMillis = env.nowMillis + state.scenario.deferredMillis
    keep(state.deferred, rendered.deferred.id, { json: JSON.stringify(rendered.deferred.completion), readyAtMillis })
  }
  return generation.stream ? stream(kind, rendered.frames().frames, "close", true) : json(200, kind, rendered.json)
}

/** A stream that breaks after `streamFaultAfter` chunks (never past the last one that leaves it incomplete). */
const broken = (state: State, fault: StreamFaultKind, generation: Generation, env: Env, kind: ArrivalKind) => {
  if (fault === "stream-json-error") return json(200, kind, Errors.errorWith200)
  countServed(state, generation, env.nowMillis)
  const { frames, breakable, errorFrame } = generation.render(env.ids).frames()
  const sent = frames.slice(0, Math.min(state.scenario.streamFaultAfter, breakable))
  switch (fault) {
    case "stream-cut":
      return stream(kind, sent, "close", false)
    case "stream-stall":
      return stream(kind, sent, "stall", false)
    case "stream-error-event":
      return stream(kind, [...sent, errorFrame(sent.length)], "close", false)
  }
}

/** A body cut in half: the JSON of a completion, or a stream whose next frame stops mid-way. */
const truncated = (generation: Generation, env: Env, kind: ArrivalKind): Answer => {
  const rendered = generation.render(env.ids)
  if (!generation.stream) {
    const full = JSON.stringify(rendered.json)
    return { ...json(200, kind, null), body: whole(full.slice(0, Math.floor(full.length / 2))) }
  }
  const { frames, breakable } = rendered.frames()
  const next = frames[breakable] ?? ""
  return stream(kind, [...frames.slice(0, breakable), next.slice(0, Math.floor(next.length / 2))], "close", false)
}

const fault = (state: State, fault: FaultKind, generation: Generation, env: Env, kind: ArrivalKind): Answer => {
  switch (fault) {
    case "500":
    case "502":
    case "503":
    case "529":
      return json(Number(fault), kind, Errors.forStatus(Number(fault), generation.model))
    case "reset":
      return reset(kind)
    case "slow":
      return { ...normal(state, generation, env, kind), extraDelayMillis: state.scenario.slowMillis }
    case "error-200":
      return json(200, kind, Errors.errorWith200)
    case "truncated":
      return truncated(generation, env, kind)
    case "html":
      return {
        ...json(502, kind, null),
        body: whole(Errors.badGatewayHtml),
        contentType: "text/html; charset=utf-8"
      }
  }
}

const isOneOf = <A extends ScriptStep & string>(values: ReadonlyArray<A>, step: ScriptStep): step is A =>
  typeof step === "string" && (values as ReadonlyArray<string>).includes(step)

const scripted = (state: State, step: ScriptStep, generation: Generation, key: string, env: Env): Answer => {
  if (step === "ok" || step === 200) return normal(state, generation, env)
  if (isOneOf(faultKinds, step)) return fault(state, step, generation, env, "script")
  if (isOneOf(streamFaultKinds, step)) {
    return generation.stream ? broken(state, step, generation, env, "script") : normal(state, generation, env)
  }
  switch (step) {
    case "quota-exhausted-429":
      return json(429, "script", Errors.creditsExhausted(429))
    case "quota-exhausted-403":
      return json(403, "script", Errors.creditsExhausted(403))
    case "wrong-key-400":
      return json(400, "script", Errors.wrongKey(key))
    case 429: {
      const limit = state.scenario.requestsPerSecond ?? 20
      const hit: Errors.LimitHit = { kind: "requests", per: "Second", actual: limit + 1, limit }
      return { ...tooMany(state, "script", generation.model, hit, 1000, env), scriptedWaitMillis: 1000 }
    }
    default:
      return json(Number(step), "script", Errors.forStatus(Number(step), generation.model))
  }
}

const recentCount = (state: State, windowMillis: number, nowMillis: number) =>
  Quota.logSum(state.admitted, nowMillis, windowMillis)

/** The limits a 429 on requests names: the bucket that makes the caller wait longest. */
const requestWait = (state: State, nowMillis: number) => {
  const perSecond = state.perSecond ? Quota.bucketWait(state.perSecond, nowMillis) : 0
  const perMinute = state.perMinute ? Quota.bucketWait(state.perMinute, nowMillis) : 0
  const hit: Errors.LimitHit =
    perMinute > perSecond
      ? {
          kind: "requests",
          per: "Minute",
          actual: recentCount(state, 60_000, nowMillis) + 1,
          limit: state.scenario.requestsPerMinute ?? 0
        }
      : {
          kind: "requests",
          per: "Second",
          actual: recentCount(state, 1000, nowMillis) + 1,
          limit: state.scenario.requestsPerSecond ?? 0
        }
  return { wait: Math.max(perSecond, perMinute), hit }
}

/** The 429 of the token window, when the answer's tokens do not fit the last minute's budget. */
const tokenLimit = (state: State, generation: Generation, env: Env): Answer | undefined => {
  const limit = state.scenario.tokensPerMinute
  if (!state.tokens || limit === undefined) return undefined
  const cost = generation.tokens.total
  const wait = Quota.logWait(state.tokens, cost, limit, env.nowMillis)
  if (wait <= 0) return undefined
  const actual = Quota.logSum(state.tokens, env.nowMillis) + cost
  return tooMany(state, "rate-limited", generation.model, { kind: "tokens", per: "Minute", actual, limit }, wait, env)
}

const admit = (state: State, nowMillis: number) => {
  if (state.perSecond) Quota.bucketTake(state.perSecond, nowMillis)
  if (state.perMinute) Quota.bucketTake(state.perMinute, nowMillis)
  Quota.logAdd(state.admitted, 1, nowMillis)
}

const draw = <A>(state: State, rate: number, kinds: ReadonlyArray<A>): A | undefined => {
  if (rate <= 0 || state.random() >= rate) return undefined
  return kinds[Math.floor(state.random() * kinds.length)] ?? kinds[0]
}

/** The answer to an admitted request: a fault drawn at `faultRate`, for a stream one at `streamFaultRate`. */
const admitted = (state: State, generation: Generation, env: Env): Answer => {
  const { scenario } = state
  const drawn = draw(state, scenario.faultRate, scenario.faults)
  if (drawn !== undefined) return fault(state, drawn, generation, env, drawn)
  const streamFault = generation.stream ? draw(state, scenario.streamFaultRate, scenario.streamFaults) : undefined
  if (streamFault !== undefined) return broken(state, streamFault, generation, env, streamFault)
  return normal(state, generation, env)
}

/**
 * Decides the answer to a generation request whose bearer was accepted: script step, outage, request quota,
 * token quota, fault draws, then a normal answer.
 */
export const generation = (state: State, generation: Generation, key: string, env: Env): Answer => {
  const { scenario } = state
  const step = scenario.script[state.scriptIndex]
  if (step !== undefined) {
    state.scriptIndex++
    return withPrompt(scripted(state, step, generation, key, env), generation.prompt)
  }

  const sinceEpoch = env.nowMillis - state.epochMillis
  const outage = scenario.outages.find(
    (o) =>
      o.fromMillis <= sinceEpoch &&
      sinceEpoch < o.toMillis &&
      (o.models === undefined || o.models.includes(generation.model))
  )
  if (outage) {
    const status = outage.status ?? 503
    return withPrompt(json(status, "outage", Errors.forStatus(status, generation.model)), generation.prompt)
  }

  const requests = requestWait(state, env.nowMillis)
  if (requests.wait > 0) {
    const limited = tooMany(state, "rate-limited", generation.model, requests.hit, requests.wait, env)
    return withPrompt(limited, generation.prompt)
  }

  const tokens = tokenLimit(state, generation, env)
  if (tokens) return withPrompt(tokens, generation.prompt)

  admit(state, env.nowMillis)
  return withPrompt(admitted(state, generation, env), generation.prompt)
}
