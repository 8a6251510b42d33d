/**
 * The options of `grok-resilience batch`, their defaults, and the parsed configuration the runner works from.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import { type BatchApiConfig, batchApiOptions } from "./batchApiOptions.js"

/**
 * Defaults of the batch options.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  baseUrl: "https://api.x.ai/v1",
  model: "grok-4",
  concurrency: 8,
  maxAttempts: 8,
  maxWait: "60s",
  timeout: "120s",
  grace: "5s",
  giveUpAfter: "10m",
  idleTimeout: "120s",
  api: "chat",
  limiterKey: "grok"
} as const

/**
 * The APIs `--api` chooses between: chat completions, or the Responses API (`POST /v1/responses`).
 *
 * @since 0.2.0
 * @category models
 */
export type Api = "chat" | "responses"

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

const UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  millis: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000
}

/**
 * Parses `500ms`, `30s`, `2m`, `1h`, `90 seconds`, or a bare number of seconds.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseDuration = (text: string): Duration.Duration | undefined => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  if (!match) return undefined
  const unit = match[2]!.toLowerCase()
  const scale = unit === "" ? 1000 : UNITS[unit]
  if (scale === undefined) return undefined
  const millis = Number(match[1]) * scale
  return millis > 0 && Number.isFinite(millis) ? Duration.millis(millis) : undefined
}

const durationOption = (name: string, fallback: string, description: string) =>
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

const positiveInteger = (name: string) =>
  Options.integer(name).pipe(
    Options.withPseudoName("N"),
    Options.mapEffect((n) =>
      n >= 1 ? Effect.succeed(n) : Effect.fail(invalid(`--${name}: must be at least 1, got ${n}`))
    )
  )

/**
 * The input file argument.
 *
 * @since 0.1.0
 * @category options
 */
export const input = Args.text({ name: "input.jsonl" }).pipe(
  Args.withDescription(
    'Prompts, one JSON object a line: {"id": "...", "prompt": "..."} or {"id": "...", "messages": [...]} (required)'
  )
)

/**
 * Every option of `batch`.
 *
 * @since 0.1.0
 * @category options
 */
export const batchOptions = {
  output: Options.text("output").pipe(
    Options.withAlias("o"),
    Options.withPseudoName("FILE"),
    Options.withDescription("Results file (JSON lines), appended to; an existing file is resumed (required)")
  ),
  baseUrl: Options.text("base-url").pipe(
    Options.withPseudoName("URL"),
    Options.optional,
    Options.withDescription(`API base URL (default: XAI_BASE_URL, else ${defaults.baseUrl})`)
  ),
  apiKey: Options.redacted("api-key").pipe(
    Options.withPseudoName("KEY"),
    Options.optional,
    Options.withDescription("xAI API key (default: XAI_API_KEY; with neither, the embedded fake server is used)")
  ),
  fake: Options.boolean("fake").pipe(
    Options.withDescription("Use the embedded fake Grok server instead of the real API, no key needed (default off)")
  ),
  fakeScenario: Options.text("fake-scenario").pipe(
    Options.withPseudoName("JSON|FILE"),
    Options.optional,
    Options.withDescription("Fake server scenario, inline JSON or a JSON file; implies --fake (default: none)")
  ),
  model: Options.text("model").pipe(
    Options.withPseudoName("NAME"),
    Options.withDefault(defaults.model),
    Options.withDescription(`Model for input lines that name none (default ${defaults.model})`)
  ),
  fallbackModels: Options.text("fallback-model").pipe(
    Options.withPseudoName("NAME"),
    Options.repeated,
    Options.withDescription(
      "Model to answer when a call's own keeps failing or its circuit breaker is open; repeat for a list, tried in order (default none)"
    )
  ),
  concurrency: positiveInteger("concurrency").pipe(
    Options.withDefault(defaults.concurrency),
    Options.withDescription(`Calls in flight at once (default ${defaults.concurrency})`)
  ),
  rpm: positiveInteger("rpm").pipe(
    Options.optional,
    Options.withDescription("Requests per minute (default: adaptive, learned from 429s and rate-limit headers)")
  ),
  tpm: positiveInteger("tpm").pipe(
    Options.optional,
    Options.withDescription("Tokens per minute, prompt + completion + reasoning (default: no token limit)")
  ),
  maxAttempts: positiveInteger("max-attempts").pipe(
    Options.withDefault(defaults.maxAttempts),
    Options.withDescription(`Attempts per call, the first included (default ${defaults.maxAttempts})`)
  ),
  maxWait: durationOption(
    "max-wait",
    defaults.maxWait,
    "Longest server-requested wait (Retry-After) to honour; a 429 asking for longer fails the call"
  ),
  timeout: durationOption("timeout", defaults.timeout, "Time limit of one attempt"),
  grace: durationOption(
    "grace",
    defaults.grace,
    "On Ctrl-C or SIGTERM, how long calls already on their way may take to finish and be written"
  ),
  giveUpAfter: durationOption(
    "give-up-after",
    defaults.giveUpAfter,
    "Stop calling when no call has succeeded for this long and the server answers 429; the rest get a line"
  ),
  api: Options.choice("api", ["chat", "responses"] as const).pipe(
    Options.withDefault(defaults.api),
    Options.withDescription(
      `chat (chat completions) or responses (the Responses API; lines may give "input" and "instructions") ` +
        `(default ${defaults.api})`
    )
  ),
  stream: Options.boolean("stream").pipe(
    Options.withDescription("Stream every answer and collect it; a broken stream is retried whole (default off)")
  ),
  idleTimeout: durationOption(
    "idle-timeout",
    defaults.idleTimeout,
    "With --stream: the longest silence of a stream before the attempt fails as stalled"
  ),
  redis: Options.text("redis").pipe(
    Options.withPseudoName("URL"),
    Options.optional,
    Options.withDescription(
      "Redis URL: share one quota with every worker using the same Redis and --limiter-key (default: none, in memory)"
    )
  ),
  limiterKey: Options.text("limiter-key").pipe(
    Options.withPseudoName("KEY"),
    Options.withDefault(defaults.limiterKey),
    Options.withDescription(`Name of the shared quota (default ${defaults.limiterKey})`)
  ),
  jsonSummary: Options.boolean("json-summary").pipe(
    Options.withDescription("Print the summary as one line of JSON on stdout (default off)")
  ),
  retryFailed: Options.boolean("retry-failed").pipe(
    Options.withDescription("Send again the ids whose line in the results file is a failed call (default off)")
  ),
  fresh: Options.boolean("fresh").pipe(
    Options.withDescription("Discard the results file and start over (default off)")
  ),
  quiet: Options.boolean("quiet").pipe(
    Options.withAlias("q"),
    Options.withDescription("No progress display and no human summary (default off)")
  ),
  verbose: Options.boolean("verbose").pipe(
    Options.withAlias("v"),
    Options.withDescription("Log retries and limiter decisions on stderr (default off)")
  ),
  ...batchApiOptions
}

/**
 * The parsed command line of `batch`.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchConfig extends BatchApiConfig {
  readonly input: string
  readonly output: string
  readonly baseUrl: Option.Option<string>
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
  readonly fake: boolean
  readonly fakeScenario: Option.Option<string>
  readonly model: string
  readonly fallbackModels: ReadonlyArray<string>
  readonly concurrency: number
  readonly rpm: Option.Option<number>
  readonly tpm: Option.Option<number>
  readonly maxAttempts: number
  readonly maxWait: Duration.Duration
  readonly timeout: Duration.Duration
  readonly grace: Duration.Duration
  readonly giveUpAfter: Duration.Duration
  readonly api: Api
  readonly stream: boolean
  readonly idleTimeout: Duration.Duration
  readonly redis: Option.Option<string>
  readonly limiterKey: string
  readonly jsonSummary: boolean
  readonly retryFailed: boolean
  readonly fresh: boolean
  readonly quiet: boolean
  readonly verbose: boolean
}
