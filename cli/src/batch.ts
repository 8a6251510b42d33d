/**
 * The batch runner: streams the input, skips what the results file already holds, sends the rest through one
 * GrokClient (retries, rate limiter) with bounded concurrency, and appends each result as it arrives.
 *
 * @since 0.1.0
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Path from "node:path"
import type { GrokError, RateLimiter } from "grok-resilience"
import { GrokClient, RetryPolicy } from "grok-resilience"
import * as Endpoint from "./endpoint.js"
import { describe, ExitCode, UsageError } from "./errors.js"
import * as Input from "./input.js"
import * as Journal from "./journal.js"
import * as Limiter from "./limiter.js"
import { countNonBlankLines } from "./lines.js"
import { type BatchConfig, defaults } from "./options.js"
import * as Progress from "./progress.js"
import * as Records from "./records.js"
import * as Send from "./send.js"
import * as Summary from "./summary.js"
import { type Outcome, Tally } from "./tally.js"
import { takesEscapes } from "./terminal.js"

/**
 * Where the runner writes: progress, notices and the human summary go to stderr, the JSON summary to stdout.
 *
 * @since 0.1.0
 * @category models
 */
export interface Io {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  /** stderr is a terminal that takes escapes (and NO_COLOR is unset): progress is redrawn in place. */
  readonly stderrTakesEscapes: boolean
}

/**
 * The Node process's streams.
 *
 * @since 0.1.0
 * @category constructors
 */
export const processIo: Io = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  stderrTakesEscapes: takesEscapes(process.stderr)
}

/** An error after which no other call can succeed: the key is refused or the credits are gone. */
const stopsTheRun = (error: GrokError.GrokError): boolean =>
  (error._tag === "AuthError" && error.reason === "InvalidKey") || error._tag === "QuotaExhausted"

/** The fetch HttpClient, counting the 429 answers it receives. */
const countingHttp = (tally: Tally): Layer.Layer<HttpClient.HttpClient> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (client) =>
      HttpClient.tap(client, (response) =>
        Effect.sync(() => {
          if (response.status === 429) tally.rateLimited429++
        })
      )
    )
  ).pipe(Layer.provide(FetchHttpClient.layer))

/**
 * Handles one input item: writes the refusal of an invalid line, or makes the call and writes its result. After an
 * error that every call would get (`stopsTheRun`), the remaining calls are not sent but answered with a "Not sent"
 * line of the same tag.
 */
const makeHandler = (send: Send.Send, journal: Journal.Journal, tally: Tally) => {
  let stoppedBy: GrokError.GrokError | undefined
  const write = (record: Records.ResultLine) =>
    Effect.zipRight(
      journal.append(record),
      Effect.sync(() => tally.add(record))
    )
  const call = (item: Input.Call) =>
    Effect.suspend(() => {
      if (stoppedBy !== undefined) return write(Records.notSent(item.id, stoppedBy))
      const options = item.priority !== undefined ? { priority: item.priority } : {}
      // A result that arrived is written even if an interruption comes right after: only waiting calls are abandoned.
      return Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Effect.either(restore(send(item, options))), (result) => {
          if (Either.isRight(result)) {
            const answered = result.right.model
            return write(Records.ok(item.id, result.right, answered !== item.request.model ? answered : undefined))
          }
          if (stoppedBy === undefined && stopsTheRun(result.left)) stoppedBy = result.left
          return write(Records.failed(item.id, result.left))
        })
      )
    })
  return {
    handle: (item: Input.Item) => (item._tag === "Invalid" ? write(item.record) : call(item)),
    stoppedBy: () => stoppedBy
  }
}

/** The notices of a run's start: what the results file held and where the quota is shared. */
const announce = (config: BatchConfig, recovery: Journal.Journal["recovery"], io: Io): void => {
  const notice = (text: string) => (config.quiet ? undefined : io.stderr(`${text}\n`))
  if (recovery.tornLineRemoved) notice("Removed a torn last line left by an interrupted run.")
  if (recovery.unreadableRemoved > 0) notice(`Removed ${recovery.unreadableRemoved} unreadable lines.`)
  if (recovery.failedDropped > 0) notice(`--retry-failed: sending ${recovery.failedDropped} failed ids again.`)
  if (Option.isSome(config.redis)) {
    notice(`Sharing the quota "${config.limiterKey}" through Redis at ${Limiter.redactUrl(config.redis.value)}.`)
  }
  if (recovery.kept > 0) notice(`Resuming: ${recovery.kept} lines already in ${config.output}.`)
}

/**
 * The client of a run: the retry policy and timeouts of the flags, the client's own circuit breaker and retry
 * budget (on, with their defaults), the fallback models, the run's limiter, and an HttpClient that counts 429s.
 */
const clientLayer = (
  config: BatchConfig,
  endpoint: { readonly apiKey: Redacted.Redacted<string>; readonly baseUrl: string },
  tally: Tally,
  limiter: Context.Context<RateLimiter.RateLimiter>
) =>
  GrokClient.layer({
    apiKey: endpoint.apiKey,
    baseUrl: endpoint.baseUrl,
    retry: RetryPolicy.make({ maxAttempts: config.maxAttempts, maxWait: config.maxWait }),
    attemptTimeout: config.timeout,
    idleTimeout: config.idleTimeout,
    fallbackModels: config.fallbackModels
  }).pipe(
    Layer.provide(countingHttp(tally)),
    Layer.provide(Layer.succeedContext(limiter)),
    // The breaker's and the budget's options are their defaults here, which are valid.
    Layer.orDie
  )

/**
 * The key and base URL from the environment (`XAI_API_KEY`, `XAI_BASE_URL`), each optional.
 *
 * @since 0.2.0
 * @category config
 */
export const environment = Config.all({
  apiKey: Config.option(Config.redacted("XAI_API_KEY")),
  baseUrl: Config.option(Config.string("XAI_BASE_URL"))
})

/**
 * Runs one batch and resolves to the exit code. Interruption (Ctrl-C) still writes the summary with the resume
 * hint; the caller maps it to exit code 130.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (config: BatchConfig, io: Io = processIo): Effect.Effect<number, UsageError> =>
  Effect.scoped(
    Effect.gen(function* () {
      if (Path.resolve(config.input) === Path.resolve(config.output)) {
        return yield* new UsageError({ message: "the results file must not be the input file" })
      }
      const total = yield* Effect.try({
        try: () => countNonBlankLines(config.input),
        catch: (error) => new UsageError({ message: `cannot read the input file: ${describe(error)}` })
      })
      const env = yield* Effect.orElseSucceed(environment, () => ({ apiKey: Option.none(), baseUrl: Option.none() }))
      const target = yield* Endpoint.plan({
        baseUrl: Option.getOrElse(
          Option.orElse(config.baseUrl, () => env.baseUrl),
          () => defaults.baseUrl
        ),
        apiKey: Option.orElse(config.apiKey, () => env.apiKey),
        fake: config.fake,
        fakeScenario: config.fakeScenario
      })
      const limiter = yield* Layer.build(
        Limiter.layer({
          rpm: config.rpm,
          tpm: config.tpm,
          concurrency: config.concurrency,
          redis: config.redis,
          limiterKey: config.limiterKey
        })
      )
      const journal = yield* Journal.open(config.output, { fresh: config.fresh, retryFailed: config.retryFailed })
      const endpoint = yield* Endpoint.start(target, io.stderr)
      announce(config, journal.recovery, io)

      const tally = new Tally()
      tally.total = total
      const services = yield* Layer.build(clientLayer(config, endpoint, tally, limiter))
      const grok = Context.get(services, GrokClient.GrokClient)

      const handler = makeHandler(Send.make(grok, { stream: config.stream }), journal, tally)
      const parse = Input.parser({ model: config.model, api: config.api })
      const pending = (item: Input.Item | undefined): item is Input.Item => {
        if (item === undefined) return false
        const seen = journal.finished(item.key)
        if (seen === undefined) return true
        tally.skip(seen)
        return false
      }
      const processAll = Effect.scoped(
        Effect.gen(function* () {
          if (!config.quiet) yield* Progress.show(tally, { tty: io.stderrTakesEscapes, write: io.stderr })
          yield* Input.lines(config.input).pipe(
            Stream.map(parse),
            Stream.filter(pending),
            Stream.mapEffect(handler.handle, { concurrency: config.concurrency, unordered: true }),
            Stream.runDrain
          )
        })
      )

      const report = (outcome: Outcome) =>
        Effect.sync(() => {
          const summary = tally.summary(outcome)
          if (!config.quiet) {
            io.stderr(
              Summary.human(summary, {
                output: config.output,
                failures: tally.failedCount + tally.skippedFailed,
                retriable: tally.retriable,
                ...(handler.stoppedBy() !== undefined ? { stoppedBy: handler.stoppedBy()!.message } : {})
              })
            )
          }
          if (config.jsonSummary) io.stdout(Summary.json(summary))
        })

      yield* Effect.onExit(processAll, (exit) => (Exit.isInterrupted(exit) ? report("interrupted") : Effect.void))
      yield* report(handler.stoppedBy() !== undefined ? "stopped" : "complete")
      return tally.failedCount + tally.skippedFailed > 0 ? ExitCode.failed : ExitCode.ok
    })
  )
