/**
 * Deferred completions over a `Pipeline.Client`: submit now, collect later. Each submission and each poll is one
 * pipeline call (retried, classified, measured); the polls follow a jittered `Schedule` within a time budget.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as GrokApi from "../../GrokApi.js"
import * as GrokError from "../../GrokError.js"
import * as Pipeline from "../pipeline/pipeline.js"
import { pollEndpoint, submitEndpoint } from "./endpoints.js"
import * as Poll from "./poll.js"

/** Per-call settings of a deferred call: the pipeline's, for every submission and poll, and the polling rules. */
export interface DeferredOptions extends Pipeline.Settings {
  /** When to poll. Default `DEFAULT_SCHEDULE`. */
  readonly schedule?: Poll.PollSchedule | undefined
  /** How long to keep polling before failing with `Rejected(DeadlineExceeded)`. Default 10 minutes. */
  readonly maxWait?: Duration.DurationInput | undefined
}

/** An accepted submission. */
export interface Submitted {
  /** xAI's `request_id`, to collect the completion with. */
  readonly requestId: string
  readonly model: string
  /** Attempts the submission took. */
  readonly attempts: number
}

/** A collected deferred completion. */
export interface DeferredResult {
  readonly completion: GrokApi.ChatCompletion
  /** The first choice's text, or null for a tool call or refusal. */
  readonly content: string | null
  readonly usage: GrokApi.Usage | undefined
  /** xAI's `request_id` of the deferred request. */
  readonly requestId: string
  /** Polls made, the one that collected the completion included. */
  readonly polls: number
  /** HTTP attempts of the polls (and of the submission, for `chatDeferred`). */
  readonly attempts: number
}

/**
 * Polls after about 0.5 s, then 0.75 s, 1.1 s, … (×1.5) up to one every 10 s, each delay jittered to [0.8, 1.2).
 * A completion ready 1.5 s after submission is collected on the second or third poll, within 1.4 s of being ready;
 * one that takes ten minutes costs about 65 polls.
 */
export const DEFAULT_SCHEDULE: Poll.PollSchedule = Poll.backoff({ first: "500 millis", factor: 1.5, max: "10 seconds" })

/** Default time budget of the polling: 10 minutes (xAI keeps the completion for 24 h). */
export const DEFAULT_MAX_WAIT: Duration.DurationInput = "10 minutes"

/** Longest request id accepted: far above xAI's UUIDs, far below a URL that a server would refuse. */
const MAX_ID_LENGTH = 512

const attemptsIn = (error: GrokError.GrokError): number =>
  "attempts" in error && typeof error.attempts === "number" ? error.attempts : 0

/** A 404 names the id and why it can happen, keeping the attempt count. */
const notFound = (requestId: string) => (error: GrokError.GrokError) =>
  error._tag === "Validation" && error.reason === "NotFound"
    ? Pipeline.withAttempts(
        new GrokError.Validation({
          reason: "NotFound",
          ...(error.status !== undefined ? { status: error.status } : {}),
          ...(error.requestId !== undefined ? { requestId: error.requestId } : {}),
          ...(error.body !== undefined ? { body: error.body } : {}),
          detail:
            `deferred completion ${requestId} is unknown, expired (xAI keeps it 24 h) ` +
            "or already collected (xAI gives it once)"
        }),
        attemptsIn(error)
      )
    : error

/** Submits `request` with `deferred: true` and returns xAI's request id. */
export const submit = (
  client: Pipeline.Client,
  baseUrl: string,
  request: GrokApi.ChatRequest,
  settings: Pipeline.Settings = {}
): Effect.Effect<Submitted, GrokError.GrokError> =>
  Effect.gen(function* () {
    const valid = yield* Either.mapLeft(
      GrokApi.decodeChatRequest(request),
      (issue) => new GrokError.Validation({ reason: "InvalidRequest", detail: issue.message.slice(0, 2000) })
    )
    const result = yield* Pipeline.run(client, yield* submitEndpoint(baseUrl, valid), settings)
    return { requestId: result.value.request_id, model: valid.model, attempts: result.attempts }
  }).pipe(Effect.withSpan("grok.deferred.submit", { attributes: { "grok.model": request.model } }))

const invalidId = (requestId: string) =>
  requestId.length === 0 || requestId.length > MAX_ID_LENGTH
    ? new GrokError.Validation({
        reason: "InvalidInput",
        detail: `a deferred request id must be 1 to ${MAX_ID_LENGTH} characters, got ${requestId.length}`
      })
    : undefined

/** Polls for the completion of `requestId` until it is there, it is gone (404), or `maxWait` passes. */
export const awaitCompletion = (
  client: Pipeline.Client,
  baseUrl: string,
  requestId: string,
  options: DeferredOptions = {}
): Effect.Effect<DeferredResult, GrokError.GrokError> =>
  Effect.suspend(() => {
    const refused = invalidId(requestId)
    if (refused !== undefined) return Effect.fail(refused)
    const { schedule, maxWait, ...settings } = options
    const budget = maxWait ?? DEFAULT_MAX_WAIT
    let attempts = 0
    const endpoint = pollEndpoint(baseUrl, requestId)
    return Poll.until({
      schedule: schedule ?? DEFAULT_SCHEDULE,
      maxWait: budget,
      poll: () =>
        Pipeline.run(client, endpoint, settings).pipe(
          Effect.mapError(notFound(requestId)),
          Effect.tapBoth({
            onFailure: (error) => Effect.sync(() => (attempts += attemptsIn(error))),
            onSuccess: (answer) => Effect.sync(() => (attempts += answer.attempts))
          }),
          Effect.map((answer) => answer.value)
        ),
      exhausted: (polls) =>
        new GrokError.Rejected({
          reason: "DeadlineExceeded",
          detail:
            `deferred completion ${requestId} was not ready after ${polls} polls in ` +
            `${Duration.format(Duration.decode(budget))}; xAI keeps it 24 h: collect it later with awaitDeferred`
        })
    }).pipe(
      Effect.map(({ polls, value }) => ({
        completion: value,
        content: value.choices[0]?.message.content ?? null,
        usage: value.usage ?? undefined,
        requestId,
        polls,
        attempts
      })),
      Effect.withSpan("grok.deferred.await", { attributes: { "grok.deferred_id": requestId } })
    )
  })

/** Submits and collects: `submit`, then `awaitCompletion` with the same options. */
export const chat = (
  client: Pipeline.Client,
  baseUrl: string,
  request: GrokApi.ChatRequest,
  options: DeferredOptions = {}
): Effect.Effect<DeferredResult, GrokError.GrokError> => {
  const { schedule: _schedule, maxWait: _maxWait, ...settings } = options
  return Effect.flatMap(submit(client, baseUrl, request, settings), (submitted) =>
    Effect.map(awaitCompletion(client, baseUrl, submitted.requestId, options), (result) => ({
      ...result,
      attempts: result.attempts + submitted.attempts
    }))
  )
}
