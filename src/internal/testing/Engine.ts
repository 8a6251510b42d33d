/**
 * The scenario engine of the fake Grok server, shared by both front ends (the socket server and the in-process
 * `HttpClient`): it routes a request, decides its answer from the scenario state and the time the front end
 * passes in, and keeps the log of arrivals. It holds no timers and reads no clock of its own.
 */
import type { Answer, ArrivalKind, Body } from "./Answer.js"
import { json, jsonText, whole } from "./Answer.js"
import * as Batches from "./Batches.js"
import { isBatchPath } from "./Batches.js"
import * as Chat from "./Chat.js"
import type { Env } from "./Decide.js"
import * as Decide from "./Decide.js"
import * as Errors from "./Errors.js"
import type { Generation } from "./Generation.js"
import { rateLimitHeaders } from "./Headers.js"
import * as Responses from "./Responses.js"
import type { Scenario } from "./Scenario.js"
import { resolve } from "./Scenario.js"
import type { State } from "./State.js"
import { initial, take } from "./State.js"

export type { Env } from "./Decide.js"

/** One request as the engine sees it. */
export interface Incoming {
  readonly method: string
  /** The path without query, e.g. `/v1/chat/completions`. */
  readonly path: string
  /** The query string (`?limit=10`), for the paged Batch API lists. */
  readonly query?: string
  readonly authorization: string | undefined
  readonly body: string
  /** The body was over `MAX_BODY_BYTES` and was not kept (`body` is then empty). */
  readonly tooLarge?: boolean
}

/** The largest request body xAI accepts (its 413 names it). */
export const MAX_BODY_BYTES = 10 * 1024 * 1024

/** How far a streamed answer got: `"client-closed"` when the client went away before the server ended it. */
export interface StreamProgress {
  readonly chunksSent: number
  readonly state: "open" | "ended" | "client-closed"
}

/** One request the fake received, and what it answered. */
export interface Arrival {
  /** Milliseconds since the fake started, when the answer was decided. */
  readonly atMillis: number
  /** The status answered; 0 when the connection was reset instead. */
  readonly status: number
  readonly kind: ArrivalKind
  /** The `x-request-id` sent (also recorded for a reset, which sends none). */
  readonly requestId: string
  /** Text of the last user message, when the request could be read. */
  readonly prompt?: string
  readonly method: string
  readonly path: string
  /** For a streamed answer: the chunks (or events) written so far and whether the stream is still open. */
  readonly stream?: StreamProgress
}

/** What a front end reports while it writes a streamed body. */
export interface Progress {
  /** One more frame was written. */
  readonly sent: () => void
  /** The server ended the body (all frames, or a fault's cut). */
  readonly ended: () => void
  /** The client closed the connection before the server ended the body. */
  readonly clientClosed: () => void
}

/** The answer as the front end sends it. */
export interface Reply {
  /** 0 with `reset`: destroy the connection instead of answering. */
  readonly status: number
  readonly reset: boolean
  /** Every header but `content-length`, which depends on how the front end frames the body. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Body
  /** How long to wait before sending the head: the scenario's latency plus a `"slow"` fault's delay. */
  readonly delayMillis: number
  /** The pause before each frame of a streamed body. */
  readonly chunkMillis: number
  readonly progress: Progress
}

export interface Engine {
  /** The bearer token the current scenario accepts. */
  readonly apiKey: () => string
  readonly handle: (incoming: Incoming, env: Env) => Reply
  readonly arrivals: () => ReadonlyArray<Arrival>
  readonly clearArrivals: () => void
  /** Replaces the scenario and resets quota, script, PRNG, stored responses and deferred completions. */
  readonly setScenario: (scenario: Scenario, nowMillis: number) => void
}

const bearer = (header: string | undefined): string | undefined => {
  const match = header === undefined ? null : /^Bearer\s+(.*)$/i.exec(header.trim())
  return match ? match[1]!.trim() : undefined
}

/** The id in a path under `prefix`, decoded when it can be. */
const idUnder = (prefix: string, path: string): string | undefined => {
  if (!path.startsWith(prefix)) return undefined
  const raw = path.slice(prefix.length)
  if (raw === "" || raw.includes("/")) return undefined
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

type Reader = (body: unknown, reasoningTokens: number) => Generation | string

const generate = (state: State, read: Reader, incoming: Incoming, key: string, env: Env): Answer => {
  if (incoming.tooLarge) return json(413, "invalid", Errors.forStatus(413, ""))
  let parsed: unknown
  try {
    parsed = JSON.parse(incoming.body)
  } catch {
    return json(400, "invalid", Errors.invalidRequest("The request body is not valid JSON."))
  }
  const generation = read(parsed, state.scenario.reasoningTokens)
  if (typeof generation === "string") return json(400, "invalid", Errors.invalidRequest(generation))
  return Decide.generation(state, generation, key, env)
}

/** `GET` or `DELETE /v1/responses/{id}`. */
const storedResponse = (state: State, method: string, id: string): Answer => {
  const response = state.stored.entries.get(id)
  if (response === undefined) return json(404, "invalid", Errors.noSuchResponse(id))
  if (method === "GET") return jsonText(200, "ok", response.json)
  take(state.stored, id)
  return json(200, "ok", Responses.deleted(id))
}

/** `GET /v1/chat/deferred-completion/{id}`: 202 with an empty body while pending, the completion once, then 404. */
const deferredCompletion = (state: State, id: string, nowMillis: number): Answer => {
  const pending = state.deferred.entries.get(id)
  if (pending === undefined) return json(404, "invalid", Errors.noSuchDeferred(id))
  if (nowMillis < pending.readyAtMillis) return { ...json(202, "ok", null), body: whole("") }
  take(state.deferred, id)
  return jsonText(200, "ok", pending.json)
}

/** Routes a request: unknown paths get 404 before the bearer is checked, as xAI's router does. */
const route = (state: State, incoming: Incoming, env: Env): Answer => {
  const { method, path } = incoming
  const stored = method === "GET" || method === "DELETE" ? idUnder("/v1/responses/", path) : undefined
  const deferred = method === "GET" ? idUnder("/v1/chat/deferred-completion/", path) : undefined
  const known =
    (method === "POST" && (path === "/v1/chat/completions" || path === "/v1/responses")) ||
    (method === "GET" && path === "/v1/models") ||
    stored !== undefined ||
    deferred !== undefined ||
    isBatchPath(path)
  if (!known) return json(404, "invalid", Errors.noSuchPath(method, path))
  const key = bearer(incoming.authorization)
  if (key !== state.scenario.apiKey) return json(400, "auth", Errors.wrongKey(key))
  if (isBatchPath(path))
    return Batches.route(state.batches, { ...incoming, query: incoming.query ?? "" }, env, state.random)
  if (path === "/v1/chat/completions") return generate(state, Chat.read, incoming, key, env)
  if (path === "/v1/responses") return generate(state, Responses.read, incoming, key, env)
  if (stored !== undefined) return storedResponse(state, method, stored)
  if (deferred !== undefined) return deferredCompletion(state, deferred, env.nowMillis)
  return json(200, "ok", Chat.modelList(state.scenario.models))
}

type Mutable = { -readonly [K in keyof Arrival]: Arrival[K] }

/** A fresh engine for `scenario`, started at the front end's `nowMillis`. */
export const make = (scenario: Scenario, nowMillis: number): Engine => {
  const startedAt = nowMillis
  let state = initial(resolve(scenario), nowMillis)
  let log: Array<Mutable> = []

  const handle = (incoming: Incoming, env: Env): Reply => {
    const answer = route(state, incoming, env)
    const requestId = env.ids.next()
    const streamed = answer.body._tag === "Stream" && !answer.reset
    const arrival: Mutable = {
      atMillis: env.nowMillis - startedAt,
      status: answer.reset ? 0 : answer.status,
      kind: answer.kind,
      requestId,
      ...(answer.prompt !== undefined ? { prompt: answer.prompt } : {}),
      method: incoming.method,
      path: incoming.path,
      ...(streamed ? { stream: { chunksSent: 0, state: "open" as const } } : {})
    }
    log.push(arrival)
    const update = (next: (progress: StreamProgress) => StreamProgress) => {
      if (arrival.stream && arrival.stream.state === "open") arrival.stream = next(arrival.stream)
    }
    return {
      status: answer.status,
      reset: answer.reset,
      headers: {
        "content-type": answer.contentType,
        "x-request-id": requestId,
        ...rateLimitHeaders(state, answer, env.nowMillis),
        ...answer.headers
      },
      body: answer.body,
      delayMillis: state.scenario.latencyMillis + answer.extraDelayMillis,
      chunkMillis: state.scenario.chunkMillis,
      progress: {
        sent: () => update((p) => ({ ...p, chunksSent: p.chunksSent + 1 })),
        ended: () => update((p) => ({ ...p, state: "ended" })),
        clientClosed: () => update((p) => ({ ...p, state: "client-closed" }))
      }
    }
  }

  return {
    apiKey: () => state.scenario.apiKey,
    handle,
    arrivals: () => log.map((arrival) => ({ ...arrival })),
    clearArrivals: () => {
      log = []
    },
    setScenario: (next, now) => {
      state = initial(resolve(next), now)
    }
  }
}
