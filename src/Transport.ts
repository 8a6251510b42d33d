/**
 * One HTTP exchange with the Grok API, turned into what the pipeline needs: the classified result and the
 * pacing information of the answer. It never fails: every failure is a value for the retry policy to judge.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as GrokError from "./GrokError.js"
import * as RateLimitHeaders from "./RateLimitHeaders.js"
import { scrub } from "./Redaction.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Exchange {
  readonly status: number | undefined
  readonly requestId: string | undefined
  readonly info: RateLimitHeaders.RateLimitInfo
  readonly result: Either.Either<unknown, GrokError.GrokError>
}

/** An exchange that got no HTTP answer and failed with `error`. */
const unanswered = (error: GrokError.GrokError): Exchange => ({
  status: undefined,
  requestId: undefined,
  info: RateLimitHeaders.empty,
  result: Either.left(error)
})

const noAnswer = (failure: GrokError.TransportFailure): Exchange => unanswered(GrokError.classifyTransport(failure))

const describe = (cause: unknown): string =>
  cause instanceof Error
    ? `${cause.message}${cause.cause instanceof Error ? `: ${cause.cause.message}` : ""}`
    : String(cause)

/**
 * Sends one request and reads the whole body within `timeout`.
 *
 * @since 0.1.0
 * @category transport
 */
export const sendOnce = (options: {
  readonly http: HttpClient.HttpClient
  readonly request: HttpClientRequest.HttpClientRequest
  readonly timeout: Duration.DurationInput
  readonly secrets: ReadonlyArray<string>
}): Effect.Effect<Exchange> =>
  options.http.execute(options.request).pipe(
    Effect.flatMap((response) =>
      Effect.map(response.text, (body) => ({ status: response.status, headers: response.headers, body }))
    ),
    Effect.timeout(options.timeout),
    Effect.flatMap((answer) =>
      Effect.map(Clock.currentTimeMillis, (nowMillis): Exchange => {
        const info = RateLimitHeaders.parse(answer.headers, nowMillis)
        return {
          status: answer.status,
          requestId: RateLimitHeaders.header(answer.headers, "x-request-id"),
          info,
          result: GrokError.classify({ ...answer, nowMillis, info, secrets: options.secrets })
        }
      })
    ),
    Effect.catchTags({
      TimeoutException: () =>
        Effect.succeed(
          noAnswer({
            reason: "Timeout",
            detail: `no complete answer within ${Duration.format(Duration.decode(options.timeout))}`
          })
        ),
      RequestError: (error) =>
        Effect.succeed(
          // A bad base URL or an unencodable body is our mistake, not the network's: retrying cannot help.
          error.reason === "Transport"
            ? noAnswer({ reason: "ConnectionFailed", detail: describe(error.cause ?? error), secrets: options.secrets })
            : unanswered(
                new GrokError.Validation({
                  reason: "InvalidRequest",
                  detail: scrub(`${error.reason}: ${describe(error.cause ?? error)}`, options.secrets)
                })
              )
        ),
      ResponseError: (error) =>
        Effect.succeed(
          noAnswer({ reason: "ConnectionFailed", detail: describe(error.cause ?? error), secrets: options.secrets })
        )
    })
  )
