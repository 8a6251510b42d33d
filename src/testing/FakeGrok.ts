/**
 * A fake xAI Grok server for tests, demos and benchmarks: a real HTTP server on 127.0.0.1 (Node's `node:http`)
 * that answers like xAI, with scripted answers, outages, exact request and token quotas, and injected faults.
 * It uses the wall clock, like the real service.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { randomUUID } from "node:crypto"
import * as Http from "node:http"
import type { Socket } from "node:net"
import { performance } from "node:perf_hooks"
import * as Answer from "./FakeGrokAnswer.js"
import type { Scenario } from "./FakeGrokScenario.js"
import { resolve } from "./FakeGrokScenario.js"

export {
  /**
   * Validates a scenario read from JSON (a CLI flag or file).
   *
   * @since 0.1.0
   * @category decoding
   */
  decodeScenario
} from "./FakeGrokScenario.js"

export type {
  /**
   * @since 0.1.0
   * @category models
   */
  FaultKind,
  /**
   * @since 0.1.0
   * @category models
   */
  Outage,
  /**
   * @since 0.1.0
   * @category models
   */
  RetryAfterStyle,
  /**
   * @since 0.1.0
   * @category models
   */
  Scenario,
  /**
   * @since 0.1.0
   * @category models
   */
  ScriptStep
} from "./FakeGrokScenario.js"

/**
 * One request the server received, and what it answered.
 *
 * @since 0.1.0
 * @category models
 */
export interface Arrival {
  /** Milliseconds since the server started, when the answer was decided. */
  readonly atMillis: number
  /** The status answered; 0 when the connection was reset instead. */
  readonly status: number
  readonly kind: Answer.ArrivalKind
  /** The `x-request-id` sent (also recorded for a reset, which sends none). */
  readonly requestId: string
  /** Text of the last user message, when the request could be read. */
  readonly prompt?: string
  readonly path: string
}

/**
 * A running fake server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Base URL including `/v1`, e.g. `http://127.0.0.1:40123/v1`. */
  readonly url: string
  /** The bearer token the current scenario accepts. */
  readonly apiKey: string
  /** Every request received so far, oldest first. */
  readonly arrivals: Effect.Effect<ReadonlyArray<Arrival>>
  /** Replaces the scenario and resets quota, script and PRNG state. */
  readonly setScenario: (scenario: Scenario) => Effect.Effect<void>
  readonly clearArrivals: Effect.Effect<void>
}

/**
 * A server started outside a `Scope`, which the caller must close.
 *
 * @since 0.1.0
 * @category models
 */
export interface Started extends Service {
  /** Stops the server, destroying open connections. Safe to call twice. */
  readonly close: () => Promise<void>
}

/**
 * The fake server as a service.
 *
 * @since 0.1.0
 * @category tags
 */
export class FakeGrok extends Context.Tag("grok-resilience/testing/FakeGrok")<FakeGrok, Service>() {}

const bearer = (header: string | undefined): string | undefined => {
  const match = header === undefined ? null : /^Bearer\s+(.*)$/i.exec(header.trim())
  return match ? match[1]!.trim() : undefined
}

/**
 * Starts a server on a free port of 127.0.0.1. For the CLI and benchmarks, which live outside a `Scope`;
 * prefer `make` or `layer` in Effect code.
 *
 * @example
 * ```ts
 * import { FakeGrok } from "grok-resilience/testing"
 *
 * const server = await FakeGrok.start({ script: [503, 503, "ok"] })
 * try {
 *   const response = await fetch(`${server.url}/models`, {
 *     headers: { authorization: `Bearer ${server.apiKey}` }
 *   })
 * } finally {
 *   await server.close()
 * }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (scenario: Scenario = {}): Promise<Started> => {
  const startedAt = performance.now()
  let state = Answer.initial(resolve(scenario), startedAt)
  let log: Array<Arrival> = []
  const sockets = new Set<Socket>()
  const timers = new Set<ReturnType<typeof setTimeout>>()

  const send = (
    req: Http.IncomingMessage,
    res: Http.ServerResponse,
    path: string,
    answer: Answer.Answer,
    now: number
  ) => {
    const requestId = randomUUID()
    log.push({
      atMillis: now - startedAt,
      status: answer.reset ? 0 : answer.status,
      kind: answer.kind,
      requestId,
      ...(answer.prompt !== undefined ? { prompt: answer.prompt } : {}),
      path
    })
    const headers = {
      "content-type": answer.contentType,
      "content-length": String(Buffer.byteLength(answer.body)),
      "x-request-id": requestId,
      ...Answer.rateLimitHeaders(state, answer, now),
      ...answer.headers
    }
    const write = () => {
      if (answer.reset) {
        req.socket.destroy()
      } else if (!res.destroyed) {
        res.writeHead(answer.status, headers)
        res.end(answer.body)
      }
    }
    const delay = state.scenario.latencyMillis + answer.extraDelayMillis
    if (delay <= 0) return write()
    const timer = setTimeout(() => {
      timers.delete(timer)
      write()
    }, delay)
    timers.add(timer)
  }

  const route = (req: Http.IncomingMessage, res: Http.ServerResponse, rawBody: string) => {
    const now = performance.now()
    const method = req.method ?? "GET"
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname
    const isChat = method === "POST" && path === "/v1/chat/completions"
    const isModels = method === "GET" && path === "/v1/models"
    if (!isChat && !isModels) return send(req, res, path, Answer.notFound(method, path), now)
    const key = bearer(req.headers.authorization)
    if (key !== state.scenario.apiKey) return send(req, res, path, Answer.unauthorized(key), now)
    const answer = isChat ? Answer.chat(state, rawBody, key, now) : Answer.models(state)
    send(req, res, path, answer, now)
  }

  const server = Http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => route(req, res, Buffer.concat(chunks).toString("utf8")))
    req.on("error", () => req.socket.destroy())
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= new Promise<void>((done) => {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      server.close(() => done())
      server.closeAllConnections()
      for (const socket of sockets) socket.destroy()
    })
    return closing
  }

  return new Promise<Started>((ready, fail) => {
    server.once("error", fail)
    server.listen(0, "127.0.0.1", () => {
      server.off("error", fail)
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      ready({
        url: `http://127.0.0.1:${port}/v1`,
        get apiKey() {
          return state.scenario.apiKey
        },
        arrivals: Effect.sync(() => log.slice()),
        setScenario: (next) =>
          Effect.sync(() => {
            state = Answer.initial(resolve(next), performance.now())
          }),
        clearArrivals: Effect.sync(() => {
          log = []
        }),
        close
      })
    })
  })
}

/**
 * Starts a server for the lifetime of the scope; closing the scope stops it and destroys open connections.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FakeGrok } from "grok-resilience/testing"
 *
 * const program = Effect.gen(function* () {
 *   const grok = yield* FakeGrok.make({ requestsPerSecond: 20, burst: 5 })
 *   const response = yield* Effect.promise(() => fetch(`${grok.url}/models`, {
 *     headers: { authorization: `Bearer ${grok.apiKey}` }
 *   }))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (scenario?: Scenario): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => start(scenario)),
    (server) => Effect.promise(() => server.close())
  )

/**
 * A layer providing a running `FakeGrok` server, stopped when the layer is released.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (scenario?: Scenario): Layer.Layer<FakeGrok> => Layer.scoped(FakeGrok, make(scenario))
