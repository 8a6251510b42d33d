/**
 * The options of the `queue` commands. `work` takes the call options of `batch` (endpoint, model, limits,
 * retries) from `batchOptions`, so that both commands read them the same way.
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { batchOptions, parseDuration } from "../options.js"
import * as Keys from "./keys.js"

/** Defaults of the queue options. */
export const queueDefaults = {
  reclaimAfter: "30s",
  redisWait: "2m",
  pollInterval: Duration.millis(200),
  heartbeatShare: 3
} as const

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

const duration = (name: string, fallback: string, description: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("DURATION"),
    Options.withDefault(fallback),
    Options.mapEffect((text) => {
      const parsed = parseDuration(text)
      return parsed === undefined
        ? Effect.fail(invalid(`--${name}: expected a duration like 500ms, 30s, 2m or 1h, got "${text}"`))
        : Effect.succeed(parsed)
    }),
    Options.withDescription(`${description} (default ${fallback})`)
  )

/** `--redis` and `--job`, which every queue command needs. */
export const jobOptions = {
  redis: Options.text("redis").pipe(
    Options.withPseudoName("URL"),
    Options.withDescription("Redis URL that holds the job, redis://[:password@]host:port[/db] (required)")
  ),
  job: Options.text("job").pipe(
    Options.withPseudoName("NAME"),
    Options.mapEffect((name) =>
      Either.match(Keys.jobName(name), { onLeft: (m) => Effect.fail(invalid(m)), onRight: Effect.succeed })
    ),
    Options.withDescription('Name of the job: letters, digits, ".", "_" or "-" (required)')
  ),
  redisWait: duration("redis-wait", queueDefaults.redisWait, "How long to wait for a Redis that does not answer")
}

export const pushOptions = {
  ...jobOptions,
  model: batchOptions.model,
  api: batchOptions.api,
  quiet: batchOptions.quiet
}

export const workOptions = {
  ...jobOptions,
  baseUrl: batchOptions.baseUrl,
  apiKey: batchOptions.apiKey,
  fake: batchOptions.fake,
  fakeScenario: batchOptions.fakeScenario,
  model: batchOptions.model,
  fallbackModels: batchOptions.fallbackModels,
  concurrency: batchOptions.concurrency,
  rpm: batchOptions.rpm,
  tpm: batchOptions.tpm,
  maxAttempts: batchOptions.maxAttempts,
  maxWait: batchOptions.maxWait,
  timeout: batchOptions.timeout,
  limiterKey: batchOptions.limiterKey,
  api: batchOptions.api,
  stream: batchOptions.stream,
  idleTimeout: batchOptions.idleTimeout,
  reclaimAfter: duration(
    "reclaim-after",
    queueDefaults.reclaimAfter,
    "Take again an item whose worker sent no heartbeat for this long (a dead worker's)"
  ),
  quiet: batchOptions.quiet,
  verbose: batchOptions.verbose
}

export const collectOptions = {
  ...jobOptions,
  output: batchOptions.output,
  once: Options.boolean("once").pipe(
    Options.withDescription(
      "Write the results there are now and stop, instead of waiting for the job to finish (default off)"
    )
  ),
  quiet: batchOptions.quiet
}

export const statusOptions = {
  ...jobOptions,
  json: Options.boolean("json").pipe(Options.withDescription("Print the counts as one line of JSON (default off)"))
}

type Parsed<T> = { readonly [K in keyof T]: T[K] extends Options.Options<infer A> ? A : never }

export type PushConfig = Parsed<typeof pushOptions> & { readonly input: string }
export type WorkConfig = Parsed<typeof workOptions>
export type CollectConfig = Parsed<typeof collectOptions>
export type StatusConfig = Parsed<typeof statusOptions>
