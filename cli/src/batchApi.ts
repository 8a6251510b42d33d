/**
 * `batch --via batch-api`: the whole input through one xAI batch. The run finds its batch (the batch journal, or
 * the batch list by name when a kill came between creating it and writing its id down), settles what was added
 * with the server's request list when the journal is unsure, adds the rest in chunks, shows progress while the
 * batch runs, and pages the results into the results file, each id once. Interrupted, it leaves the batch running
 * and says how to resume; `--cancel` cancels it and writes what there is.
 *
 * @since 0.2.0
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { randomBytes } from "node:crypto"
import * as Path from "node:path"
import { GrokBatches, RetryPolicy } from "grok-resilience"
import type { GrokApi, GrokError } from "grok-resilience"
import { addAll, type Target } from "./batchApiAdd.js"
import { writeResults } from "./batchApiResults.js"
import { type Io, processIo } from "./batch.js"
import * as BatchJournal from "./batchJournal.js"
import * as BatchProgress from "./batchProgress.js"
import * as Endpoint from "./endpoint.js"
import { describe, ExitCode, UsageError } from "./errors.js"
import * as Journal from "./journal.js"
import { countNonBlankLines } from "./lines.js"
import { type BatchConfig, defaults } from "./options.js"
import * as Summary from "./summary.js"
import { Tally } from "./tally.js"

interface Located {
  readonly batchId: string
  /** Whether the batch may hold requests the journal does not know of. */
  readonly unsure: boolean
}

const isNotFound = (error: GrokError.GrokError) => error._tag === "Validation" && error.reason === "NotFound"

/** The batch of this run: the journal's, the one named in an interrupted creation, or a new one. */
const locate = (
  batches: GrokBatches.Service,
  journal: BatchJournal.BatchJournal,
  config: BatchConfig,
  notice: (text: string) => void
): Effect.Effect<Located, GrokError.GrokError | UsageError> =>
  Effect.gen(function* () {
    const { batchId, name, uncertain } = journal.recorded
    if (batchId !== undefined) {
      yield* batches.get(batchId).pipe(
        Effect.catchIf(
          isNotFound,
          () =>
            new UsageError({
              message: `the batch ${batchId} named in ${journal.path} is unknown to xAI; --fresh starts a new batch`
            })
        )
      )
      notice(`Resuming batch ${batchId} (from ${journal.path}).`)
      return { batchId, unsure: uncertain.length > 0 }
    }
    if (name !== undefined) {
      const found = yield* Stream.runHead(Stream.filter(batches.list(), (batch) => batch.name === name))
      if (Option.isSome(found)) {
        yield* journal.created(found.value.batch_id, name)
        notice(`Found batch ${found.value.batch_id} ("${name}"), created by an interrupted run.`)
        return { batchId: found.value.batch_id, unsure: true }
      }
    }
    if (config.cancel) {
      return yield* new UsageError({ message: `no batch to cancel: ${journal.path} names none` })
    }
    const fresh = name ?? `grok-resilience ${Path.basename(config.output)} ${randomBytes(6).toString("hex")}`
    if (name === undefined) yield* journal.creating(fresh)
    const created = yield* batches.create(fresh)
    yield* journal.created(created.batch_id, fresh)
    notice(`Created batch ${created.batch_id} ("${fresh}").`)
    return { batchId: created.batch_id, unsure: false }
  })

/**
 * The request ids the batch holds: the journal's, or the server's list when the journal is unsure; the unsure ids
 * the server holds are then written down as present, so that a later run need not ask again.
 */
const knownIds = (
  batches: GrokBatches.Service,
  journal: BatchJournal.BatchJournal,
  located: Located,
  notice: (text: string) => void
) =>
  located.unsure
    ? Effect.gen(function* () {
        const known = yield* Stream.runFold(
          batches.requests(located.batchId, { pageSize: 1000 }),
          new Set<string>(),
          (set, request) => set.add(request.batch_request_id)
        )
        const present = journal.recorded.uncertain.filter((id) => known.has(id))
        if (present.length > 0) yield* journal.present(present)
        notice(`Reconciled with the batch's request list: it holds ${known.size} requests.`)
        return known
      })
    : Effect.succeed(new Set(journal.recorded.added))

/** Watches the batch to its end, drawing progress; resolves to its last state. */
const watchToEnd = (batches: GrokBatches.Service, batchId: string, config: BatchConfig, io: Io) =>
  Effect.gen(function* () {
    const progress = BatchProgress.display({ tty: io.stderrTakesEscapes, write: io.stderr })
    let last: GrokApi.Batch | undefined
    yield* Stream.runForEach(batches.watch(batchId), (batch) =>
      Effect.sync(() => {
        last = batch
        if (!config.quiet) progress.show(batch)
      })
    ).pipe(Effect.ensuring(Effect.sync(() => (config.quiet ? undefined : progress.end()))))
    return last!
  })

const resumeHint = (batchId: string) =>
  `The batch ${batchId} keeps running on xAI. Run the same command again to collect its results, ` +
  "or add --cancel to cancel it.\n"

const setup = (config: BatchConfig) =>
  Effect.gen(function* () {
    if (Path.resolve(config.input) === Path.resolve(config.output)) {
      return yield* new UsageError({ message: "the results file must not be the input file" })
    }
    if (config.retryFailed) {
      return yield* new UsageError({
        message: "--retry-failed sends failed ids again synchronously: use it with --via sync (the default)"
      })
    }
    if (config.api !== "chat") {
      return yield* new UsageError({
        message: "the xAI Batch API runs chat completions: use --api chat (the default) with --via batch-api"
      })
    }
    const total = yield* Effect.try({
      try: () => countNonBlankLines(config.input),
      catch: (error) => new UsageError({ message: `cannot read the input file: ${describe(error)}` })
    })
    const target = yield* Endpoint.planFromFlags(config, defaults.baseUrl)
    return { total, target }
  })

/** What the phases of one run share. */
interface Run {
  readonly config: BatchConfig
  readonly io: Io
  readonly batches: GrokBatches.Service
  readonly journal: Journal.Journal
  readonly batchJournal: BatchJournal.BatchJournal
  readonly tally: Tally
  readonly notice: (text: string) => void
  /** Known once the batch is found or created, for the resume hint. */
  batchId: string | undefined
}

const pass = (run: Run, target: Target | undefined, known: Set<string>, written: Set<string>) =>
  addAll({
    input: run.config.input,
    model: run.config.model,
    target,
    journal: run.journal,
    tally: run.tally,
    known,
    written,
    chunkSize: run.config.chunkSize,
    onChunk: (sent) => run.notice(`Added ${sent} requests to batch ${target?.batchId}.`)
  })

/** Find the batch, settle what it holds, add the rest (or cancel), watch it to its end, write its results. */
const phases = (run: Run) =>
  Effect.gen(function* () {
    const { batches, batchJournal, config, notice } = run
    const located = yield* locate(batches, batchJournal, config, notice)
    run.batchId = located.batchId
    const known = yield* knownIds(batches, batchJournal, located, notice)
    if (config.cancel) {
      yield* batches.cancel(located.batchId)
      notice(`Cancelled batch ${located.batchId}: what finished is kept, the rest will not run.`)
    }
    const written = new Set<string>()
    const target = config.cancel ? undefined : { batches, batchId: located.batchId, batchJournal }
    const { ids } = yield* pass(run, target, known, written)
    const last = yield* watchToEnd(batches, located.batchId, config, run.io)
    const cancelled = last.cancel_time != null || last.cancel_by_xai_message != null
    const sink = { journal: run.journal, tally: run.tally, ids, written }
    const strangers = yield* writeResults(batches, { batchId: located.batchId, cancelled }, sink)
    if (strangers > 0) notice(`Left out ${strangers} results of the batch whose id is not in the input.`)
  })

const report = (run: Run, outcome: "complete" | "interrupted") =>
  Effect.sync(() => {
    const { config, io, tally } = run
    const summary = tally.summary(outcome)
    if (!config.quiet) {
      const failures = tally.failedCount + tally.skippedFailed
      io.stderr(Summary.human(summary, { output: config.output, failures, retriable: tally.retriable }))
    }
    if (config.jsonSummary) io.stdout(Summary.json(summary))
  })

/** The phases, or only a count of the input when every line is done already: no batch is needed then. */
const runAll = (run: Run, allDone: boolean): Effect.Effect<number, UsageError> =>
  (allDone ? Effect.asVoid(pass(run, undefined, new Set(), new Set())) : phases(run)).pipe(
    Effect.onExit((exit) =>
      Exit.isInterrupted(exit)
        ? Effect.zipRight(
            Effect.sync(() => (run.batchId !== undefined ? run.io.stderr(resumeHint(run.batchId)) : undefined)),
            report(run, "interrupted")
          )
        : Effect.void
    ),
    Effect.zipRight(report(run, "complete")),
    Effect.map(() => (run.tally.failedCount + run.tally.skippedFailed > 0 ? ExitCode.failed : ExitCode.ok)),
    Effect.catchIf(
      (error): error is GrokError.GrokError => error._tag !== "UsageError",
      (error) =>
        Effect.sync(() => {
          run.io.stderr(`grok-resilience batch: a Batch API call failed: ${error.message}\n`)
          if (run.batchId !== undefined) run.io.stderr(resumeHint(run.batchId))
          return ExitCode.failed
        })
    )
  )

/**
 * Runs the batch through the Batch API and resolves to the exit code (as `Batch.run`).
 *
 * @since 0.2.0
 * @category running
 */
export const run = (config: BatchConfig, io: Io = processIo): Effect.Effect<number, UsageError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const { total, target } = yield* setup(config)
      const journal = yield* Journal.open(config.output, { fresh: config.fresh, retryFailed: false })
      const batchJournal = yield* BatchJournal.open(config.output, { fresh: config.fresh })
      const endpoint = yield* Endpoint.start(target, io.stderr)
      const notice = (text: string) => (config.quiet ? undefined : io.stderr(`${text}\n`))
      if (journal.recovery.tornLineRemoved) notice("Removed a torn last line left by an interrupted run.")
      if (journal.recovery.kept > 0) notice(`Resuming: ${journal.recovery.kept} lines already in ${config.output}.`)
      const batches = yield* GrokBatches.make({
        apiKey: endpoint.apiKey,
        baseUrl: endpoint.baseUrl,
        retry: RetryPolicy.make({ maxAttempts: config.maxAttempts, maxWait: config.maxWait }),
        attemptTimeout: config.timeout
      }).pipe(Effect.provide(FetchHttpClient.layer))
      const tally = new Tally()
      tally.total = total
      const run: Run = { config, io, batches, journal, batchJournal, tally, notice, batchId: undefined }
      return yield* runAll(run, journal.recovery.kept >= total && !config.cancel)
    })
  )
