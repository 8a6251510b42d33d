/**
 * The attempt stage: one HTTP exchange turned into what the rest of the pipeline needs, the classified result and
 * the pacing information of the answer. It never fails: every failure is a value for the retry stage to judge.
 *
 * It sends the client's current key (and notes which one, for the refresh stage), never follows a redirect (a 3xx is a typed error naming the location), caps the bytes
 * of an answer after decompression, scrubs every header value it passes on, and decodes a success with the
 * endpoint's schema.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as GrokError from "../../GrokError.js"
import * as RateLimitHeaders from "../../RateLimitHeaders.js"
import { scrub } from "../../Redaction.js"
import { isLive } from "../fiberClock.js"
import type { Endpoint } from "./endpoint.js"
import { type AttemptFetch, MAX_TIMER_MILLIS } from "./fetchTimer.js"
import { within } from "./within.js"

export interface Exchange<A> {
  readonly status: number | undefined
  readonly requestId: string | undefined
  readonly info: RateLimitHeaders.RateLimitInfo
  readonly result: Either.Either<A, GrokError.GrokError>
}

/** The key to send, read at every attempt, since a refresh replaces it. */
export interface CurrentKey {
  readonly key: Redacted.Redacted<string>
  readonly generation: number
}

/** Which key a call's last attempt sent: written here, read by the refresh stage. */
export interface KeyUse {
  generation: number
}

export interface Transport {
  readonly http: HttpClient.HttpClient
  readonly key: Effect.Effect<CurrentKey>
  readonly timeout: Duration.DurationInput
  /** Largest answer read, after decompression. */
  readonly maxResponseBytes: number
  readonly secrets: ReadonlyArray<string>
}

/** An exchange that got no HTTP answer and failed with `error`. */
const unanswered = <A>(error: GrokError.GrokError): Exchange<A> => ({
  status: undefined,
  requestId: undefined,
  info: RateLimitHeaders.empty,
  result: Either.left(error)
})

const describe = (cause: unknown): string =>
  cause instanceof Error
    ? `${cause.message}${cause.cause instanceof Error ? `: ${cause.cause.message}` : ""}`
    : String(cause)

/** Without `stream: true` a decode keeps no state between calls: one decoder serves every answer. */
const utf8 = new TextDecoder()

class TooLarge {
  readonly _tag = "TooLarge"
  constructor(readonly bytes: number) {}
}

const concat = (parts: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  const joined = new Uint8Array(size)
  let offset = 0
  for (const part of parts) {
    joined.set(part, offset)
    offset += part.length
  }
  return joined
}

/**
 * Reads the body as text, failing as soon as it grows past `max` bytes: memory stays bounded. An uncompressed body
 * that declares its length within the cap is read in one piece (most answers: no stream machinery per call); any
 * other is counted as it arrives, so a gzip bomb or a lying length still stops at the cap.
 */
const readCapped = (
  response: HttpClientResponse.HttpClientResponse,
  headers: HttpClientResponse.HttpClientResponse["headers"],
  max: number
) => {
  const declared = Number(headers["content-length"])
  const encoded = (headers["content-encoding"] ?? "identity") !== "identity"
  if (!encoded && Number.isInteger(declared) && declared >= 0 && declared <= max) {
    return Effect.flatMap(response.arrayBuffer, (buffer) =>
      buffer.byteLength > max ? Effect.fail(new TooLarge(buffer.byteLength)) : Effect.succeed(utf8.decode(buffer))
    )
  }
  return readCounted(response, max)
}

const readCounted = (response: HttpClientResponse.HttpClientResponse, max: number) =>
  Stream.runFoldEffect(
    response.stream,
    { parts: [] as Array<Uint8Array>, size: 0 },
    (acc, part): Effect.Effect<{ parts: Array<Uint8Array>; size: number }, TooLarge> => {
      acc.size += part.length
      if (acc.size > max) return Effect.fail(new TooLarge(acc.size))
      acc.parts.push(part)
      return Effect.succeed(acc)
    }
  ).pipe(Effect.map((acc) => utf8.decode(concat(acc.parts, acc.size))))

/** Fetch follows redirects unless told not to: a redirect would resend our key elsewhere and drop the prompt. */
const withoutRedirects = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.contextWithEffect((context: Context.Context<never>) => Effect.provide(effect, refusingRedirects(context)))

/** `context` with fetch's `RequestInit` (the caller's, if any) told not to follow redirects. */
const refusingRedirects = (context: Context.Context<never>): Context.Context<never> =>
  Context.add(context, FetchHttpClient.RequestInit, {
    ...Option.getOrElse(Context.getOption(context, FetchHttpClient.RequestInit), () => ({})),
    redirect: "manual"
  })

const classified = <A>(
  endpoint: Endpoint<A>,
  answer: { readonly status: number; readonly headers: RateLimitHeaders.HeaderInput; readonly body: string },
  nowMillis: number,
  secrets: ReadonlyArray<string>
): Exchange<A> => {
  const info = RateLimitHeaders.parse(answer.headers, nowMillis)
  const rawId = RateLimitHeaders.header(answer.headers, "x-request-id")
  const requestId = rawId === undefined ? undefined : scrub(rawId, secrets)
  const accepted = endpoint.accept?.(answer) ?? Option.none()
  if (Option.isSome(accepted)) return { status: answer.status, requestId, info, result: Either.right(accepted.value) }
  const result = Either.flatMap(GrokError.classify({ ...answer, nowMillis, info, secrets }), (json) =>
    Either.mapLeft(
      endpoint.decode(json),
      () =>
        new GrokError.Transient({
          reason: "MalformedBody",
          detail: `the ${endpoint.kind} response did not match the expected schema`,
          status: answer.status,
          ...(requestId !== undefined ? { requestId } : {})
        })
    )
  )
  return { status: answer.status, requestId, info, result }
}

/** Transport failures as typed errors: shared by whole answers and streams. */
const transportError = (error: HttpClientError.HttpClientError, secrets: ReadonlyArray<string>): GrokError.GrokError =>
  error._tag === "RequestError" && error.reason !== "Transport"
    ? // A bad base URL or an unencodable body is our mistake, not the network's: retrying cannot help.
      new GrokError.Validation({
        reason: "InvalidRequest",
        detail: scrub(`${error.reason}: ${describe(error.cause ?? error)}`, secrets)
      })
    : GrokError.classifyTransport({ reason: "ConnectionFailed", detail: describe(error.cause ?? error), secrets })

/**
 * Opens the endpoint's request as a stream: the answer's head within the attempt timeout, its body left to the
 * caller. The request is aborted when the enclosing scope closes, so interrupting a stream closes the connection.
 */
export const open = (
  transport: Transport,
  request: HttpClientRequest.HttpClientRequest,
  used: KeyUse
): Effect.Effect<HttpClientResponse.HttpClientResponse, GrokError.GrokError, Scope.Scope> =>
  Effect.flatMap(withKey(transport, request, used), (signed) =>
    HttpClient.withScope(transport.http)
      .execute(signed)
      .pipe(
        withoutRedirects,
        Effect.timeoutFail({
          duration: transport.timeout,
          onTimeout: () =>
            GrokError.classifyTransport({
              reason: "Timeout",
              detail: `no answer within ${Duration.format(Duration.decode(transport.timeout))}`
            })
        }),
        Effect.catchTags({
          RequestError: (error) => Effect.fail(transportError(error, transport.secrets)),
          ResponseError: (error) => Effect.fail(transportError(error, transport.secrets))
        })
      )
  )

/** The request with the current key, noted in `used`. */
const withKey = (transport: Transport, request: HttpClientRequest.HttpClientRequest, used: KeyUse) =>
  Effect.map(transport.key, (current) => {
    used.generation = current.generation
    return HttpClientRequest.bearerToken(request, current.key)
  })

/** The pacing information and scrubbed request id of an answer's head. */
export const headOf = (
  response: HttpClientResponse.HttpClientResponse,
  nowMillis: number,
  secrets: ReadonlyArray<string>
) => {
  // `response.headers` builds a new record at every read.
  const headers = response.headers
  const rawId = RateLimitHeaders.header(headers, "x-request-id")
  return {
    info: RateLimitHeaders.parse(headers, nowMillis),
    requestId: rawId === undefined ? undefined : scrub(rawId, secrets)
  }
}

/**
 * Sends the endpoint's request once with the current key and reads the whole answer within the attempt timeout.
 * Run it within a context made by `attemptContext` (the pipeline's attempt span provides one) and give its
 * `AttemptFetch`. `clock` is the fiber's, read in the step that classifies the answer.
 */
export const send = <A>(
  transport: Transport,
  endpoint: Endpoint<A>,
  used: KeyUse,
  clock: Clock.Clock,
  fetch: AttemptFetch | undefined
): Effect.Effect<Exchange<A>> =>
  Effect.flatMap(withKey(transport, endpoint.request, used), (request) =>
    exchange(transport, endpoint, request, clock, fetch)
  )

type Answer = { readonly status: number; readonly headers: RateLimitHeaders.HeaderInput; readonly body: string }

/** Every way an exchange can fail to give an answer, as the exchange that records it. */
const failedExchange = <A>(error: TooLarge | HttpClientError.HttpClientError, transport: Transport): Exchange<A> =>
  unanswered(
    error._tag === "TooLarge"
      ? new GrokError.Validation({
          reason: "ResponseTooLarge",
          detail: `the answer passed ${transport.maxResponseBytes} bytes (read ${error.bytes}); raise maxResponseBytes if that is expected`
        })
      : transportError(error, transport.secrets)
  )

const timedOut = <A>(transport: Transport): Exchange<A> =>
  unanswered<A>(
    GrokError.classifyTransport({
      reason: "Timeout",
      detail: `no complete answer within ${Duration.format(Duration.decode(transport.timeout))}`
    })
  )

/**
 * The exchange timed by the request's abort signal (see `fetchTimer.ts`): its answer and every failure turned into
 * one value in the step after it, where the timer also stops. The step runs when the caller is interrupted too,
 * and then aborts the request.
 */
const signalTimed = <A>(
  answering: Effect.Effect<Answer, TooLarge | HttpClientError.HttpClientError>,
  fetch: AttemptFetch,
  millis: number,
  settle: (answer: Answer) => Exchange<A>,
  transport: Transport
): Effect.Effect<Exchange<A>> =>
  Effect.uninterruptibleMask((restore) => {
    fetch.arm(millis)
    return Effect.matchCauseEffect(restore(answering), {
      onFailure: (cause) => {
        const failure = Cause.failureOption(cause)
        if (Cause.isInterrupted(cause) || Option.isNone(failure)) {
          fetch.abort()
          return Effect.failCause(cause) as Effect.Effect<never>
        }
        fetch.stop()
        return Effect.succeed(fetch.fired ? timedOut<A>(transport) : failedExchange<A>(failure.value, transport))
      },
      onSuccess: (answer) => {
        fetch.stop()
        return Effect.succeed(settle(answer))
      }
    })
  })

/** The exchange, its answer and every failure turned into one value in a single step after the timed part. */
const exchange = <A>(
  transport: Transport,
  endpoint: Endpoint<A>,
  request: HttpClientRequest.HttpClientRequest,
  clock: Clock.Clock,
  fetch: AttemptFetch | undefined
): Effect.Effect<Exchange<A>> => {
  const answering: Effect.Effect<Answer, TooLarge | HttpClientError.HttpClientError> = Effect.flatMap(
    transport.http.execute(request),
    (response) => {
      // `response.headers` builds a new record at every read: read once.
      const headers = response.headers
      return Effect.map(readCapped(response, headers, transport.maxResponseBytes), (body) => ({
        status: response.status,
        headers,
        body
      }))
    }
  )
  const settle = (answer: Answer) => classified(endpoint, answer, clock.unsafeCurrentTimeMillis(), transport.secrets)
  // Through the request's signal when the attempt's context holds its fetch and the HttpClient was seen calling
  // it, on the live Clock only: TestClock's virtual time moves sleeps, not timers.
  if (fetch !== undefined && fetch.bySignal && isLive(clock)) {
    const millis = Duration.toMillis(Duration.decode(transport.timeout))
    if (millis <= MAX_TIMER_MILLIS) return signalTimed(answering, fetch, millis, settle, transport)
  }
  return Effect.match(within(answering, transport.timeout), {
    onFailure: (error) => {
      fetch?.settle()
      return failedExchange<A>(error, transport)
    },
    onSuccess: (answer) => {
      fetch?.settle()
      return Option.isNone(answer) ? timedOut<A>(transport) : settle(answer.value)
    }
  })
}
