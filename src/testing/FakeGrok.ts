/**
 * A fake xAI Grok server for tests, demos and benchmarks: it answers like xAI (chat completions, deferred
 * completions, the Responses API, models; whole or streamed as SSE), with scripted answers, outages, exact request
 * and token quotas, and injected faults. One scenario engine, two front ends:
 *
 * - `start` / `make` / `layer`: a real HTTP server on 127.0.0.1 (`node:http`) on the wall clock, for end-to-end
 *   tests, the CLI and benchmarks;
 * - `layerClient`: an `HttpClient` that plays the same engine inside the process on Effect's `Clock` and `Random`,
 *   so that a test under `TestClock` (fork the call, `TestClock.adjust`, join) finishes at once.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { performance } from "node:perf_hooks"
import * as Engine from "../internal/testing/Engine.js"
import * as InProcess from "../internal/testing/InProcess.js"
import type { Scenario } from "../internal/testing/Scenario.js"
import * as Socket from "../internal/testing/Socket.js"

export {
  /**
   * Validates a scenario read from JSON (a CLI flag or file); the error is a readable description of every problem
   * found.
   *
   * @example
   * ```ts
   * import { FakeGrok } from "grok-resilience/testing"
   *
   * const scenario = FakeGrok.decodeScenario(JSON.parse('{"requestsPerSecond": 20, "burst": 5}'))
   * ```
   *
   * @since 0.1.0
   * @category decoding
   */
  decodeScenario
} from "../internal/testing/Scenario.js"

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
  ScriptStep,
  /**
   * @since 0.2.0
   * @category models
   */
  StreamFaultKind
} from "../internal/testing/Scenario.js"

export type {
  /**
   * How the fake's Batch API processes requests (the scenario's `batches`): timing, error rate, limits.
   *
   * @since 0.2.0
   * @category models
   */
  BatchOptions
} from "../internal/testing/BatchState.js"

export type {
  /**
   * One request the fake received, and what it answered.
   *
   * @since 0.1.0
   * @category models
   */
  Arrival,
  /**
   * How far a streamed answer got, and whether the client closed it early.
   *
   * @since 0.2.0
   * @category models
   */
  StreamProgress
} from "../internal/testing/Engine.js"

export type {
  /**
   * What an arrival turned into: `"ok"`, a fault kind, `"rate-limited"`, `"auth"`, `"script"`, `"outage"`,
   * `"invalid"`.
   *
   * @since 0.2.0
   * @category models
   */
  ArrivalKind
} from "../internal/testing/Answer.js"

/**
 * A running fake: over a socket, or in process.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Base URL including `/v1`: `http://127.0.0.1:<port>/v1` for the socket server; for the in-process client,
   * `http://fake-grok.invalid/v1` (it answers whatever host it is given, so the client's default works too).
   */
  readonly url: string
  /** The bearer token the current scenario accepts. */
  readonly apiKey: string
  /** Every request received so far, oldest first. */
  readonly arrivals: Effect.Effect<ReadonlyArray<Engine.Arrival>>
  /** Replaces the scenario and resets quota, script, PRNG and stored responses. */
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
 * The fake as a service.
 *
 * @since 0.1.0
 * @category tags
 */
export class FakeGrok extends Context.Tag("grok-resilience/testing/FakeGrok")<FakeGrok, Service>() {}

const serviceOf = (engine: Engine.Engine, url: string, now: Effect.Effect<number>): Service => ({
  url,
  get apiKey() {
    return engine.apiKey()
  },
  arrivals: Effect.sync(() => engine.arrivals()),
  setScenario: (next) => Effect.map(now, (nowMillis) => engine.setScenario(next, nowMillis)),
  clearArrivals: Effect.sync(() => engine.clearArrivals())
})

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
export const start = async (scenario: Scenario = {}): Promise<Started> => {
  const engine = Engine.make(scenario, performance.now())
  const listening = await Socket.listen(engine)
  return Object.assign(
    serviceOf(
      engine,
      listening.url,
      Effect.sync(() => performance.now())
    ),
    {
      close: listening.close
    }
  )
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

/**
 * The fake inside the process: a layer providing an `HttpClient` that answers every request like the socket
 * server would (same scenario, answers, quotas, headers, faults, outages, scripts and streams), and the `FakeGrok`
 * service for its arrivals. Time is Effect's `Clock`: latency, slow answers and the pause between stream chunks
 * are `Effect.sleep`s, quotas and outages read `Clock.currentTimeMillis`, ids come from Effect's `Random`. Faults
 * are drawn from the scenario's own seeded PRNG (`seed`), as on the socket, so both give the same answers. A reset
 * fails the request with a `RequestError` of reason `"Transport"`, as `fetch` does.
 *
 * @example
 * ```ts
 * import { Effect, Fiber, Layer, Redacted, TestClock, TestContext } from "effect"
 * import { GrokClient } from "grok-resilience"
 * import { FakeGrok } from "grok-resilience/testing"
 *
 * const Client = GrokClient.layer({ apiKey: Redacted.make("test-key") }).pipe(
 *   Layer.provideMerge(FakeGrok.layerClient({ script: [503, 503, 503, "ok"] }))
 * )
 *
 * const test = Effect.gen(function* () {
 *   const grok = yield* GrokClient.GrokClient
 *   const call = yield* Effect.fork(grok.chat({ model: "grok-4", messages: [{ role: "user", content: "hi" }] }))
 *   yield* TestClock.adjust("1 minute")
 *   const result = yield* Fiber.join(call)
 *   // result.attempts === 4
 * }).pipe(Effect.provide(Client), Effect.provide(TestContext.TestContext))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerClient = (scenario: Scenario = {}): Layer.Layer<HttpClient.HttpClient | FakeGrok> =>
  Layer.effectContext(
    Effect.map(InProcess.now, (startedAt) => {
      const engine = Engine.make(scenario, startedAt)
      return Context.make(FakeGrok, serviceOf(engine, "http://fake-grok.invalid/v1", InProcess.now)).pipe(
        Context.add(HttpClient.HttpClient, InProcess.client(engine))
      )
    })
  )
