/**
 * The decision half of the fake Grok server: given the scenario state and a request, which answer to send.
 * Pure apart from the state it updates (quota, script position, PRNG); no sockets here.
 *
 * @since 0.1.0
 */
import * as Bodies from "./FakeGrokBodies.js"
import * as Quota from "./FakeGrokQuota.js"
import type { FaultKind, Resolved, ScriptStep } from "./FakeGrokScenario.js"
import { faultKinds, prng } from "./FakeGrokScenario.js"

/**
 * What an arrival turned into.
 *
 * @since 0.1.0
 * @category models
 */
export type ArrivalKind = "ok" | FaultKind | "rate-limited" | "auth" | "script" | "outage" | "invalid"

/**
 * One answer to send: status 0 with `reset` means the socket is destroyed without an answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Answer {
  readonly status: number
  readonly kind: ArrivalKind
  readonly body: string
  readonly contentType: string
  readonly headers: Readonly<Record<string, string>>
  /** Waited on top of the scenario's latency (the `"slow"` fault). */
  readonly extraDelayMillis: number
  readonly reset: boolean
  readonly prompt?: string
  /** A scripted 429 on requests: the request headers report the bucket empty for this long. */
  readonly scriptedWaitMillis?: number
}

/**
 * The mutable state behind one scenario; a new scenario gets a fresh one.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly scenario: Resolved
  /** Monotonic time the scenario was set: outages are relative to it. */
  readonly epochMillis: number
  scriptIndex: number
  readonly perSecond: Quota.Bucket | undefined
  readonly perMinute: Quota.Bucket | undefined
  /** Tokens served in the last minute, when the scenario limits them. */
  readonly tokens: Quota.TimeLog | undefined
  /** Admissions of the last minute, for the counts a 429 body quotes. */
  readonly admitted: Quota.TimeLog
  readonly random: () => number
}

/**
 * Fresh state for a scenario set at `nowMillis`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initial = (scenario: Resolved, nowMillis: number): State => ({
  scenario,
  epochMillis: nowMillis,
  scriptIndex: 0,
  perSecond:
    scenario.requestsPerSecond !== undefined
      ? Quota.bucket(1000 / scenario.requestsPerSecond, scenario.burst, nowMillis)
      : undefined,
  perMinute:
    scenario.requestsPerMinute !== undefined
      ? Quota.bucket(60_000 / scenario.requestsPerMinute, scenario.burst, nowMillis)
      : undefined,
  tokens: scenario.tokensPerMinute !== undefined ? Quota.timeLog(Quota.WINDOW_MILLIS) : undefined,
  admitted: Quota.timeLog(Quota.WINDOW_MILLIS),
  random: prng(scenario.seed)
})

const json = (status: number, kind: ArrivalKind, body: unknown, headers: Record<string, string> = {}): Answer => ({
  status,
  kind,
  body: JSON.stringify(body),
  contentType: "application/json",
  headers,
  extraDelayMillis: 0,
  reset: false
})

const withPrompt = (answer: Answer, prompt: string): Answer => ({ ...answer, prompt })

const waitHeaders = (state: State, waitMillis: number): Record<string, string> => {
  const wait = Math.max(1, Math.ceil(waitMillis))
  switch (state.scenario.retryAfter) {
    case "seconds":
      return { "retry-after": String(Math.ceil(wait / 1000)) }
    case "date":
      return { "retry-after": new Date(Math.ceil((Date.now() + wait) / 1000) * 1000).toUTCString() }
    case "ms":
      return { "retry-after-ms": String(wait) }
    case "none":
      return {}
  }
}

const recentCount = (state: State, windowMillis: number, nowMillis: number) =>
  Quota.logSum(state.admitted, nowMillis, windowMillis)

const tooMany = (state: State, kind: ArrivalKind, model: string, hit: Bodies.LimitHit, waitMillis: number) =>
  json(
    429,
    kind,
    Bodies.rateLimited(model, state.scenario.limitInBody ? hit : undefined),
    waitHeaders(state, waitMillis)
  )

const normal = (state: State, input: Bodies.ChatInput, nowMillis: number, kind: ArrivalKind = "ok"): Answer => {
  const { body, totalTokens } = Bodies.completion(input, state.scenario.reasoningTokens)
  if (state.tokens) Quota.logAdd(state.tokens, totalTokens, nowMillis)
  return json(200, kind, body)
}

const fault = (state: State, fault: FaultKind, input: Bodies.ChatInput, nowMillis: number, kind: ArrivalKind) => {
  switch (fault) {
    case "500":
    case "502":
    case "503":
    case "529":
      return json(Number(fault), kind, Bodies.forStatus(Number(fault), input.model))
    case "reset":
      return { ...json(0, kind, ""), body: "", reset: true }
    case "slow":
      return { ...normal(state, input, nowMillis, kind), extraDelayMillis: state.scenario.slowMillis }
    case "error-200":
      return json(200, kind, Bodies.errorWith200)
    case "truncated": {
      const full = JSON.stringify(Bodies.completion(input, state.scenario.reasoningTokens).body)
      return { ...json(200, kind, null), body: full.slice(0, Math.floor(full.length / 2)) }
    }
    case "html":
      return { ...json(502, kind, null), body: Bodies.badGatewayHtml, contentType: "text/html; charset=utf-8" }
  }
}

const scripted = (state: State, step: ScriptStep, input: Bodies.ChatInput, key: string, nowMillis: number) => {
  if (step === "ok" || step === 200) return normal(state, input, nowMillis)
  if (typeof step === "string" && (faultKinds as ReadonlyArray<string>).includes(step)) {
    return fault(state, step as FaultKind, input, nowMillis, "script")
  }
  switch (step) {
    case "quota-exhausted-429":
      return json(429, "script", Bodies.creditsExhausted(429))
    case "quota-exhausted-403":
      return json(403, "script", Bodies.creditsExhausted(403))
    case "wrong-key-400":
      return json(400, "script", Bodies.wrongKey(key))
    case 429: {
      const limit = state.scenario.requestsPerSecond ?? 20
      const hit: Bodies.LimitHit = { kind: "requests", per: "Second", actual: limit + 1, limit }
      return { ...tooMany(state, "script", input.model, hit, 1000), scriptedWaitMillis: 1000 }
    }
    default:
      return json(Number(step), "script", Bodies.forStatus(Number(step), input.model))
  }
}

/** The limits a 429 on requests names: the bucket that makes the caller wait longest. */
const requestWait = (state: State, nowMillis: number) => {
  const perSecond = state.perSecond ? Quota.bucketWait(state.perSecond, nowMillis) : 0
  const perMinute = state.perMinute ? Quota.bucketWait(state.perMinute, nowMillis) : 0
  const hit: Bodies.LimitHit =
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

const admit = (state: State, nowMillis: number) => {
  if (state.perSecond) Quota.bucketTake(state.perSecond, nowMillis)
  if (state.perMinute) Quota.bucketTake(state.perMinute, nowMillis)
  Quota.logAdd(state.admitted, 1, nowMillis)
}

const drawFault = (state: State): FaultKind | undefined => {
  const { faultRate, faults } = state.scenario
  if (faultRate <= 0 || state.random() >= faultRate) return undefined
  return faults[Math.floor(state.random() * faults.length)] ?? faults[0]
}

/**
 * Decides the answer to a chat request whose bearer was accepted: script step, outage, request quota, token
 * quota, fault draw, then a normal answer.
 *
 * @since 0.1.0
 * @category decisions
 */
export const chat = (state: State, rawBody: string, key: string, nowMillis: number): Answer => {
  let parsed: unknown
  try {
    parsed = JSON.parse(rawBody)
  } catch {
    return json(400, "invalid", Bodies.invalidRequest("The request body is not valid JSON."))
  }
  const input = Bodies.readChatInput(parsed)
  if (typeof input === "string") return json(400, "invalid", Bodies.invalidRequest(input))
  const { scenario } = state

  const step = scenario.script[state.scriptIndex]
  if (step !== undefined) {
    state.scriptIndex++
    return withPrompt(scripted(state, step, input, key, nowMillis), input.prompt)
  }

  const sinceEpoch = nowMillis - state.epochMillis
  const outage = scenario.outages.find(
    (o) =>
      o.fromMillis <= sinceEpoch &&
      sinceEpoch < o.toMillis &&
      (o.models === undefined || o.models.includes(input.model))
  )
  if (outage) {
    const status = outage.status ?? 503
    return withPrompt(json(status, "outage", Bodies.forStatus(status, input.model)), input.prompt)
  }

  const requests = requestWait(state, nowMillis)
  if (requests.wait > 0) {
    return withPrompt(tooMany(state, "rate-limited", input.model, requests.hit, requests.wait), input.prompt)
  }

  if (state.tokens && scenario.tokensPerMinute !== undefined) {
    const limit = scenario.tokensPerMinute
    const cost = Bodies.completion(input, scenario.reasoningTokens).totalTokens
    const wait = Quota.logWait(state.tokens, cost, limit, nowMillis)
    if (wait > 0) {
      const actual = Quota.logSum(state.tokens, nowMillis) + cost
      const hit: Bodies.LimitHit = { kind: "tokens", per: "Minute", actual, limit }
      return withPrompt(tooMany(state, "rate-limited", input.model, hit, wait), input.prompt)
    }
  }

  admit(state, nowMillis)
  const drawn = drawFault(state)
  const answer = drawn === undefined ? normal(state, input, nowMillis) : fault(state, drawn, input, nowMillis, drawn)
  return withPrompt(answer, input.prompt)
}

/**
 * The `/v1/models` answer.
 *
 * @since 0.1.0
 * @category decisions
 */
export const models = (state: State): Answer => json(200, "ok", Bodies.modelList(state.scenario.models))

/**
 * The answer to a wrong or missing bearer token.
 *
 * @since 0.1.0
 * @category decisions
 */
export const unauthorized = (provided: string | undefined): Answer => json(400, "auth", Bodies.wrongKey(provided))

/**
 * The answer to an unknown path.
 *
 * @since 0.1.0
 * @category decisions
 */
export const notFound = (method: string, path: string): Answer => json(404, "invalid", Bodies.noSuchPath(method, path))

/**
 * `x-ratelimit-*` headers describing the quota state now, when the scenario asks for them.
 *
 * @since 0.1.0
 * @category decisions
 */
export const rateLimitHeaders = (state: State, answer: Answer, nowMillis: number): Record<string, string> => {
  if (!state.scenario.rateLimitHeaders) return {}
  const headers: Record<string, string> = {}
  const buckets = [state.perSecond, state.perMinute].filter((b): b is Quota.Bucket => b !== undefined)
  const scriptedWait = answer.scriptedWaitMillis
  if (buckets.length > 0 || scriptedWait !== undefined) {
    const tightest = buckets
      .map((b) => ({ remaining: Quota.bucketRemaining(b, nowMillis), reset: Quota.bucketReset(b, nowMillis) }))
      .sort((a, b) => a.remaining - b.remaining || b.reset - a.reset)[0] ?? {
      remaining: state.scenario.burst,
      reset: 0
    }
    headers["x-ratelimit-limit-requests"] = String(state.scenario.burst)
    headers["x-ratelimit-remaining-requests"] = String(scriptedWait !== undefined ? 0 : tightest.remaining)
    headers["x-ratelimit-reset-requests"] = Quota.goDuration(Math.max(tightest.reset, scriptedWait ?? 0))
  }
  const limit = state.scenario.tokensPerMinute
  if (state.tokens && limit !== undefined) {
    const used = Quota.logSum(state.tokens, nowMillis)
    headers["x-ratelimit-limit-tokens"] = String(limit)
    headers["x-ratelimit-remaining-tokens"] = String(Math.max(0, limit - used))
    headers["x-ratelimit-reset-tokens"] = Quota.goDuration(Quota.logReset(state.tokens, nowMillis))
  }
  return headers
}
