/**
 * What the fake Grok server does: the `Scenario` options, their defaults, and `decodeScenario` for scenarios
 * read from JSON (a CLI flag or file).
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { type BatchOptions, BatchOptionsSchema } from "./BatchState.js"

/**
 * A fault the server can inject instead of a normal answer.
 *
 * - `"500"`, `"502"`, `"503"`, `"529"`: that status with an xAI-style error body
 * - `"reset"`: the socket is destroyed without an answer
 * - `"slow"`: a normal answer after `slowMillis`
 * - `"error-200"`: HTTP 200 whose body is an xAI error object
 * - `"truncated"`: HTTP 200 with the first half of a valid completion
 * - `"html"`: 502 with an HTML error page
 */
export type FaultKind = "500" | "502" | "503" | "529" | "reset" | "slow" | "error-200" | "truncated" | "html"

/**
 * Every fault kind, in a stable order.
 */
export const faultKinds: ReadonlyArray<FaultKind> = [
  "500",
  "502",
  "503",
  "529",
  "reset",
  "slow",
  "error-200",
  "truncated",
  "html"
]

/**
 * A fault that breaks a streamed answer (`"stream": true`) after `streamFaultAfter` chunks:
 *
 * - `"stream-cut"`: the body ends cleanly and the connection closes, without `[DONE]` or the terminal event
 * - `"stream-stall"`: no more bytes; the connection stays open until the client closes it
 * - `"stream-error-event"`: an error event in xAI's error-body shape, then the body ends
 * - `"stream-json-error"`: no stream at all: HTTP 200, `application/json`, an xAI error object
 *
 * A request that does not stream and meets one of them (in a script) is answered normally.
 */
export type StreamFaultKind = "stream-cut" | "stream-stall" | "stream-error-event" | "stream-json-error"

/** Every stream fault kind, in a stable order. */
export const streamFaultKinds: ReadonlyArray<StreamFaultKind> = [
  "stream-cut",
  "stream-stall",
  "stream-error-event",
  "stream-json-error"
]

/**
 * How a 429 says how long to wait: `Retry-After` in seconds or as an HTTP-date, `retry-after-ms`, or nothing.
 */
export type RetryAfterStyle = "seconds" | "date" | "ms" | "none"

/**
 * One scripted answer. A number is any status with a matching xAI-style error body (200 is a normal answer).
 */
export type ScriptStep =
  | "ok"
  | FaultKind
  | StreamFaultKind
  | 400
  | 401
  | 403
  | 404
  | 408
  | 409
  | 413
  | 422
  | 429
  | "quota-exhausted-429"
  | "quota-exhausted-403"
  | "wrong-key-400"
  | number

/**
 * A window of time, relative to when the scenario was set, in which every generation request (chat or Responses)
 * for one of `models`, when given, gets `status`.
 */
export interface Outage {
  readonly fromMillis: number
  readonly toMillis: number
  /** Default 503. */
  readonly status?: number
  /** Only requests for these models get the outage; default every model. */
  readonly models?: ReadonlyArray<string>
}

/**
 * The behaviour of the fake server. Every field is optional; an empty scenario answers every request normally.
 */
export interface Scenario {
  /** The accepted bearer token. Default `"test-key"`. A wrong or missing one gets xAI's 400 wrong-key body. */
  readonly apiKey?: string
  /** Token bucket refilling at this rate per second, capacity `burst`. */
  readonly requestsPerSecond?: number
  /** Token bucket refilling at `requestsPerMinute / 60` per second, capacity `burst`. */
  readonly requestsPerMinute?: number
  /** Capacity of the request buckets. Default 1. */
  readonly burst?: number
  /** Sliding 60 s window of tokens served (prompt + completion + reasoning); a request that would exceed gets 429. */
  readonly tokensPerMinute?: number
  /** How a 429 names its wait. Default `"seconds"`. */
  readonly retryAfter?: RetryAfterStyle
  /** Send `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` on every answer. Default false. */
  readonly rateLimitHeaders?: boolean
  /** The 429 body names the limit like xAI does. Default true; false sends a generic "Too many requests". */
  readonly limitInBody?: boolean
  /** Probability (0..1) that an admitted request gets a fault instead of a normal answer. Default 0. */
  readonly faultRate?: number
  /** The fault kinds drawn uniformly. Default all except `"slow"`. */
  readonly faults?: ReadonlyArray<FaultKind>
  /** Probability (0..1) that an admitted streamed request that drew no fault gets a stream fault. Default 0. */
  readonly streamFaultRate?: number
  /** The stream fault kinds drawn uniformly. Default all four. */
  readonly streamFaults?: ReadonlyArray<StreamFaultKind>
  /** Chunks (chat) or events (Responses) sent before a stream fault strikes. Default 2. */
  readonly streamFaultAfter?: number
  /** Pause before each chunk or event of a streamed answer. Default 0. */
  readonly chunkMillis?: number
  /** How long after its submission a deferred completion (`"deferred": true`) is ready. Default 1000. */
  readonly deferredMillis?: number
  /** How long a `"slow"` answer waits. Default 2000. */
  readonly slowMillis?: number
  /** Base latency of every answer. Default 0. */
  readonly latencyMillis?: number
  /** Windows, relative to when the scenario was set, in which generation requests get `status` (default 503). */
  readonly outages?: ReadonlyArray<Outage>
  /**
   * Answers consumed one per generation request (chat or Responses) before outages, quota and faults; then normal
   * behaviour resumes.
   * A scripted answer bypasses the request quota (a scripted `"ok"` still counts its tokens per minute).
   */
  readonly script?: ReadonlyArray<ScriptStep>
  /** Seed of the PRNG that draws faults. Default 1. */
  readonly seed?: number
  /** Reasoning tokens added to every answer's usage. Default 0. */
  readonly reasoningTokens?: number
  /** Models served by `/v1/models`. Default `["grok-4", "grok-3-mini"]`. */
  readonly models?: ReadonlyArray<string>
  /** How the Batch API processes requests: timing, error rate, limits. Defaults in `BatchOptions`. */
  readonly batches?: BatchOptions
}

const exact = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

const PositiveNumber = Schema.Number.pipe(Schema.finite(), Schema.positive())
const NonNegativeNumber = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())
const Status = Schema.Int.pipe(Schema.between(200, 599, { message: () => "a status must be an integer in 200..599" }))
const Fault = Schema.Literal(...faultKinds)
const StreamFault = Schema.Literal(...streamFaultKinds)

const OutageSchema = Schema.Struct({
  fromMillis: NonNegativeNumber,
  toMillis: NonNegativeNumber,
  status: exact(Status),
  models: exact(Schema.Array(Schema.String.pipe(Schema.nonEmptyString())).pipe(Schema.minItems(1)))
}).pipe(Schema.filter((outage) => outage.fromMillis <= outage.toMillis || "an outage must have fromMillis <= toMillis"))

const ScriptStepSchema = Schema.Union(
  Schema.Literal("ok", "quota-exhausted-429", "quota-exhausted-403", "wrong-key-400"),
  Fault,
  StreamFault,
  Status
)

/**
 * The schema of a `Scenario` as JSON. Unknown fields are rejected, so a misspelt option is an error.
 */
export const ScenarioSchema = Schema.Struct({
  apiKey: exact(Schema.String.pipe(Schema.nonEmptyString())),
  requestsPerSecond: exact(PositiveNumber),
  requestsPerMinute: exact(PositiveNumber),
  burst: exact(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))),
  tokensPerMinute: exact(PositiveNumber),
  retryAfter: exact(Schema.Literal("seconds", "date", "ms", "none")),
  rateLimitHeaders: exact(Schema.Boolean),
  limitInBody: exact(Schema.Boolean),
  faultRate: exact(Schema.Number.pipe(Schema.between(0, 1))),
  faults: exact(Schema.Array(Fault).pipe(Schema.minItems(1))),
  streamFaultRate: exact(Schema.Number.pipe(Schema.between(0, 1))),
  streamFaults: exact(Schema.Array(StreamFault).pipe(Schema.minItems(1))),
  streamFaultAfter: exact(Schema.Int.pipe(Schema.nonNegative())),
  chunkMillis: exact(NonNegativeNumber),
  deferredMillis: exact(NonNegativeNumber),
  slowMillis: exact(NonNegativeNumber),
  latencyMillis: exact(NonNegativeNumber),
  outages: exact(Schema.Array(OutageSchema)),
  script: exact(Schema.Array(ScriptStepSchema)),
  seed: exact(Schema.Int),
  reasoningTokens: exact(Schema.Int.pipe(Schema.nonNegative())),
  models: exact(Schema.Array(Schema.String.pipe(Schema.nonEmptyString())).pipe(Schema.minItems(1))),
  batches: exact(BatchOptionsSchema)
})

const decode = Schema.decodeUnknownEither(ScenarioSchema, { errors: "all", onExcessProperty: "error" })

/**
 * Validates a scenario read from JSON; the error is a readable description of every problem found.
 *
 * @example
 * ```ts
 * import { FakeGrok } from "grok-resilience/testing"
 *
 * const scenario = FakeGrok.decodeScenario(JSON.parse('{"requestsPerSecond": 20, "burst": 5}'))
 * ```
 */
export const decodeScenario = (input: unknown): Either.Either<Scenario, string> =>
  Either.mapLeft(
    decode(input),
    (error) => `Invalid fake Grok scenario: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
  )

/**
 * A scenario with every default filled in, as the server uses it.
 */
export interface Resolved {
  readonly apiKey: string
  readonly requestsPerSecond: number | undefined
  readonly requestsPerMinute: number | undefined
  readonly burst: number
  readonly tokensPerMinute: number | undefined
  readonly retryAfter: RetryAfterStyle
  readonly rateLimitHeaders: boolean
  readonly limitInBody: boolean
  readonly faultRate: number
  readonly faults: ReadonlyArray<FaultKind>
  readonly streamFaultRate: number
  readonly streamFaults: ReadonlyArray<StreamFaultKind>
  readonly streamFaultAfter: number
  readonly chunkMillis: number
  readonly deferredMillis: number
  readonly slowMillis: number
  readonly latencyMillis: number
  readonly outages: ReadonlyArray<Outage>
  readonly script: ReadonlyArray<ScriptStep>
  readonly seed: number
  readonly reasoningTokens: number
  readonly models: ReadonlyArray<string>
  readonly batches: BatchOptions | undefined
}

/**
 * The default API key the fake server accepts.
 */
export const defaultApiKey = "test-key"

/**
 * Fills in the documented defaults.
 */
export const resolve = (scenario: Scenario = {}): Resolved => ({
  apiKey: scenario.apiKey ?? defaultApiKey,
  requestsPerSecond: scenario.requestsPerSecond,
  requestsPerMinute: scenario.requestsPerMinute,
  burst: Math.max(1, scenario.burst ?? 1),
  tokensPerMinute: scenario.tokensPerMinute,
  retryAfter: scenario.retryAfter ?? "seconds",
  rateLimitHeaders: scenario.rateLimitHeaders ?? false,
  limitInBody: scenario.limitInBody ?? true,
  faultRate: scenario.faultRate ?? 0,
  faults:
    scenario.faults && scenario.faults.length > 0 ? scenario.faults : faultKinds.filter((kind) => kind !== "slow"),
  streamFaultRate: scenario.streamFaultRate ?? 0,
  streamFaults: scenario.streamFaults && scenario.streamFaults.length > 0 ? scenario.streamFaults : streamFaultKinds,
  streamFaultAfter: scenario.streamFaultAfter ?? 2,
  chunkMillis: scenario.chunkMillis ?? 0,
  deferredMillis: scenario.deferredMillis ?? 1000,
  slowMillis: scenario.slowMillis ?? 2000,
  latencyMillis: scenario.latencyMillis ?? 0,
  outages: scenario.outages ?? [],
  script: scenario.script ?? [],
  seed: scenario.seed ?? 1,
  reasoningTokens: scenario.reasoningTokens ?? 0,
  models: scenario.models ?? ["grok-4", "grok-3-mini"],
  batches: scenario.batches
})

/**
 * A small deterministic PRNG (mulberry32): the same seed draws the same faults.
 */
export const prng = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
