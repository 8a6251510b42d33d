/**
 * Builds the `Pipeline.Client` every public client (GrokClient, GrokBatches) runs its calls with, from the same
 * options: key, base URL, retry policy, timeouts, answer size cap, and the limiter and alert monitor found when
 * the client is built.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Alerts from "../../Alerts.js"
import * as RateLimiter from "../../RateLimiter.js"
import * as RetryPolicy from "../../RetryPolicy.js"
import type { Client } from "./pipeline.js"

/** The options a client is built from (`GrokClient.Options` has this shape). */
export interface ClientOptions {
  readonly apiKey: Redacted.Redacted<string>
  readonly baseUrl?: string
  readonly retry?: RetryPolicy.RetryPolicy
  readonly attemptTimeout?: Duration.DurationInput
  readonly deadline?: Duration.DurationInput
  readonly maxQueueWait?: Duration.DurationInput
  readonly maxResponseBytes?: number
}

/** The default base URL of the xAI API. */
export const DEFAULT_BASE_URL = "https://api.x.ai/v1"

/** The default cap on the bytes of one answer, after decompression: 16 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024

/** The base URL without trailing slashes. */
export const baseUrlOf = (options: ClientOptions): string => (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "")

export const makeClient = (options: ClientOptions): Effect.Effect<Client, never, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    return {
      transport: {
        http: yield* HttpClient.HttpClient,
        apiKey: options.apiKey,
        maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
        secrets: [Redacted.value(options.apiKey)]
      },
      defaults: {
        retry: options.retry ?? RetryPolicy.standard,
        attemptTimeout: options.attemptTimeout ?? "120 seconds",
        deadline: options.deadline,
        maxQueueWait: options.maxQueueWait
      },
      built: {
        limiter: yield* Effect.serviceOption(RateLimiter.RateLimiter),
        alerts: yield* Effect.serviceOption(Alerts.AlertMonitor)
      }
    } satisfies Client
  })
