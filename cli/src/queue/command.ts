/**
 * The `queue` command and its subcommands `push`, `work`, `collect` and `status`: one job held in Redis, worked
 * on by any number of processes on any number of machines.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { ExitCode, type UsageError } from "../errors.js"
import * as Logging from "../logging.js"
import { takesEscapes } from "../terminal.js"
import * as Collect from "./collect.js"
import type { QueueError } from "./connection.js"
import { collectOptions, pushOptions, statusOptions, workOptions } from "./options.js"
import * as Push from "./push.js"
import * as Status from "./status.js"
import * as Work from "./work.js"

const stderr = (text: string) => void process.stderr.write(text)
const stdout = (text: string) => void process.stdout.write(text)

/** Usage errors exit 2, a Redis that stays away exits 1; both print one line naming the command. */
const finish =
  (name: string, setExitCode: (code: number) => void, verbose = false) =>
  (self: Effect.Effect<number, UsageError | QueueError>): Effect.Effect<void> =>
    self.pipe(
      Effect.catchTags({
        UsageError: (error) =>
          Effect.as(Console.error(`grok-resilience queue ${name}: ${error.message}`), ExitCode.usage),
        QueueError: (error) =>
          Effect.as(Console.error(`grok-resilience queue ${name}: ${error.message}`), ExitCode.failed)
      }),
      Effect.map(setExitCode),
      Logging.withLogging({ verbose, write: stderr, tty: takesEscapes(process.stderr) })
    )

const input = Args.text({ name: "input.jsonl" }).pipe(
  Args.withDescription("Prompts, one JSON object a line, as for batch (required)")
)

/** The `queue` command; `setExitCode` receives the exit code of the subcommand that ran. */
export const make = (setExitCode: (code: number) => void) => {
  const push = Command.make("push", { input, ...pushOptions }, (config) =>
    finish("push", setExitCode)(Push.run(config, stderr))
  ).pipe(
    Command.withDescription(
      "Load a JSON-lines file of prompts into the job. Idempotent: pushing the same input again adds nothing; " +
        "refused lines (bad JSON, no id, duplicate id) become error results of the job."
    )
  )
  const work = Command.make("work", workOptions, (config) =>
    finish("work", setExitCode, config.verbose)(Work.run(config, stderr))
  ).pipe(
    Command.withDescription(
      "Take the job's items, call Grok within the quota shared through the same Redis, and store each result. " +
        "Exits 0 when the job has nothing left; SIGINT or SIGTERM hands unfinished items back."
    )
  )
  const collect = Command.make("collect", collectOptions, (config) =>
    finish("collect", setExitCode)(Collect.run(config, stderr))
  ).pipe(
    Command.withDescription(
      "Write the job's results to --output, each id exactly once, in the format of batch. Resumable; waits for " +
        "the workers until every item has a result (--once: write what there is and stop)."
    )
  )
  const status = Command.make("status", statusOptions, (config) =>
    finish("status", setExitCode)(Status.run(config, stdout))
  ).pipe(Command.withDescription("Show the job's counts (pending, in flight, done, failed), rate and ETA."))
  return Command.make("queue").pipe(
    Command.withDescription("A job held in Redis, worked on by many processes: push, work, collect, status."),
    Command.withSubcommands([push, work, collect, status])
  )
}
