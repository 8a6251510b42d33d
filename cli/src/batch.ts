/**
 * The batch runner: streams the input, skips what the results file already holds, sends the rest through one
 * GrokClient (retries, rate limiter) with bounded concurrency, and appends each result as it arrives.
 *
 * @since 0.1.0
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type { RateLimiter } from "grok-resilience"
import { GrokClient, RetryPolicy } from "grok-resilience"
import * as Calls from "./calls.js"
import * as Control from "./control.js"
import * as Endpoint from "./endpoint.js"
import { describe, ExitCode, UsageError } from "./errors.js"
import * as Input from "./input.js"
import * as Format from "./format.js"
import * as Journal from "./journal.js"
import * as Limiter from "./limiter.js"
import { countNonBlankLines } from "./lines.js"
import { type BatchConfig, defaults } from "./options.js"
import * as Paths from "./paths.js"
import * as Progress from "./progress.js"
import * as Send from "./send.js"
import * as Summary from "./summary.js"
import { type Outcome, Tally } from "./tally.js"
import { takesEscapes } from "./terminal.js"
import * as Workers from "./workers.js"

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

/** The fetch HttpClient, instrumented for the run (attempts, 429s, the refusal rule, stopping). */
const runHttp = (control: Control.Control, tally: Tally): Layer.Layer<HttpClient.HttpClient> =>
  Layer.effect(HttpClient.HttpClient, Effect.map(HttpClient.HttpClient, Control.instrument(control, tally))).pipe(
    Layer.provide(FetchHttpClient.layer)
  )

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
 * budget (on, with their defaults), the fallback models, the run's limiter, and the run's instrumented HttpClient.
 * Each call adds its own stop conditions to the retry policy (see `Control.policyFor`).
 */
const clientLayer = (
  config: BatchConfig,
  endpoint: { readonly apiKey: Redacted.Redacted<string>; readonly baseUrl: string },
  http: Layer.Layer<HttpClient.HttpClient>,
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
    Layer.provide(http),
    Layer.provide(Layer.succeedContext(limiter)),
    // The breaker's and the budget's options are their defaults here, which are valid.
    Layer.orDie
  )

const resolvePath = (path: string, what: string) =>
  Effect.try({
    try: () => Paths.resolveTarget(path),
    catch: (error) => new UsageError({ message: `cannot find the ${what} ${path}: ${describe(error)}` })
  })

/** What a run needs before its first call: checked input, the endpoint, the limiter and the opened journal. */
const prepare = (config: BatchConfig, io: Io) =>
  Effect.gen(function* () {
    if ((yield* resolvePath(config.input, "input file")) === (yield* resolvePath(config.output, "results file"))) {
      return yield* new UsageError({ message: "the results file must not be the input file" })
    }
    const total = yield* Effect.try({
      try: () => countNonBlankLines(config.input),
      catch: (error) => new UsageError({ message: `cannot read the input file: ${describe(error)}` })
    })
    const target = yield* Endpoint.planFromFlags(config, defaults.baseUrl)
    const limiter = yield* Layer.build(
      Limiter.layer({
        rpm: config.rpm,
        tpm: config.tpm,
        concurrency: config.concurrency,
        redis: config.redis,
        limiterKey: config.limiterKey
      })
    )
    const journal = yield* Journal.open(config.output, {
      fresh: config.fresh,
      retryFailed: config.retryFailed,
      expectedIds: total
    })
    const endpoint = yield* Endpoint.start(target, io.stderr)
    announce(config, journal.recovery, io)
    return { total, limiter, journal, endpoint }
  })

/** Prints the summary: the human one on stderr (unless quiet), the JSON line on stdout with `--json-summary`. */
const reporter = (config: BatchConfig, io: Io, tally: Tally, control: Control.Control) => (outcome: Outcome) =>
  Effect.sync(() => {
    const summary = tally.summary(outcome, control.abandoned)
    if (!config.quiet) {
      io.stderr(
        Summary.human(summary, {
          output: config.output,
          failures: tally.failedCount + tally.skippedFailed,
          retriable: tally.retriable,
          grace: Format.duration(Duration.toMillis(config.grace)),
          ...(control.stop !== undefined ? { stoppedBy: control.stop.message } : {})
        })
      )
    }
    if (config.jsonSummary) io.stdout(Summary.json(summary))
  })

/**
 * Runs one batch and resolves to the exit code. Interruption (Ctrl-C, SIGTERM) still journals the answers on their
 * way (within `--grace`) and writes the summary with the resume hint; the caller maps it to exit code 130 or 143.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (config: BatchConfig, io: Io = processIo): Effect.Effect<number, UsageError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const { total, limiter, journal, endpoint } = yield* prepare(config, io)
      const tally = new Tally()
      tally.total = total
      const control = new Control.Control(
        {
          retry: RetryPolicy.make({ maxAttempts: config.maxAttempts, maxWait: config.maxWait }),
          grace: config.grace,
          giveUpAfter: config.giveUpAfter,
          secrets: [Redacted.value(endpoint.apiKey)],
          notice: (text) =>
            config.quiet ? undefined : io.stderr(`${io.stderrTakesEscapes ? "\r\x1b[2K" : ""}${text}\n`)
        },
        yield* Clock.currentTimeMillis
      )
      const services = yield* Layer.build(clientLayer(config, endpoint, runHttp(control, tally), limiter))
      const grok = Context.get(services, GrokClient.GrokClient)
      const send = Send.make(grok, { stream: config.stream })
      const handle = Calls.handler(send, journal, tally, control, yield* Effect.scope)
      // What the results file holds is skipped before its request is decoded.
      const done = (key: string): boolean => {
        const seen = journal.finished(key)
        if (seen !== undefined) tally.skip(seen)
        return seen !== undefined
      }
      // One table of ids for the journal and the parser (see `Journal.Journal.ids`), sized from the input.
      const parse = Input.parser({ model: config.model, api: config.api, skip: done, ids: journal.ids })
      const pending = (item: Input.Item | undefined): item is Input.Item => item !== undefined
      const processAll = Effect.scoped(
        Effect.gen(function* () {
          if (!config.quiet) yield* Progress.show(tally, { tty: io.stderrTakesEscapes, write: io.stderr })
          yield* Control.watchRefusals(control)
          // Long-lived workers, not Stream.mapEffect: its fork and FiberRefs merge per element cost more than the call.
          yield* Workers.drain(
            Input.lines(config.input).pipe(Stream.map(parse), Stream.filter(pending)),
            config.concurrency,
            handle
          )
        })
      )
      const report = reporter(config, io, tally, control)
      yield* Effect.onExit(processAll, (exit) => (Exit.isInterrupted(exit) ? report("interrupted") : Effect.void))
      yield* report(control.stop !== undefined ? "stopped" : "complete")
      return tally.failedCount + tally.skippedFailed > 0 ? ExitCode.failed : ExitCode.ok
    })
  )
