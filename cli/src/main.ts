/**
 * The `grok-resilience` command line: `batch` runs a file of prompts against Grok, resumably and within quota.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Batch from "./batch.js"
import { ExitCode } from "./errors.js"
import * as Logging from "./logging.js"
import { batchOptions, input } from "./options.js"

const make = (setExitCode: (code: number) => void) => {
  const batch = Command.make("batch", { input, ...batchOptions }, (config) =>
    Batch.run(config).pipe(
      Effect.catchTag("UsageError", (error) =>
        Effect.as(Console.error(`grok-resilience batch: ${error.message}`), ExitCode.usage)
      ),
      Effect.tap((code) => Effect.sync(() => setExitCode(code))),
      Logging.withLogging({ verbose: config.verbose, write: Batch.processIo.stderr, tty: Batch.processIo.stderrIsTTY })
    )
  ).pipe(
    Command.withDescription(
      "Run every prompt of a JSON-lines file through Grok once: rate-limited, retried, resumable. " +
        "Results are appended to --output as they arrive; run the same command again to resume."
    )
  )
  return Command.make("grok-resilience").pipe(
    Command.withDescription("Reliable calls to the xAI Grok API. See `grok-resilience batch --help`."),
    Command.withSubcommands([batch])
  )
}

/**
 * Runs the command line (`argv` as in `process.argv`, node and script first) and resolves to the exit code:
 * 0 all ok, 1 some failed, 2 usage or configuration error. Interruption is left to the caller (exit code 130).
 *
 * @since 0.1.0
 * @category running
 */
export const run = (argv: ReadonlyArray<string>): Effect.Effect<number> => {
  let exitCode: number = ExitCode.ok
  const cli = Command.run(
    make((code) => (exitCode = code)),
    { name: "grok-resilience", version: "0.1.0" }
  )
  return cli(argv).pipe(
    Effect.map(() => exitCode),
    Effect.catchIf(ValidationError.isValidationError, () => Effect.succeed(ExitCode.usage)),
    Effect.catchAllCause((cause) =>
      Effect.as(Console.error(`grok-resilience: unexpected failure\n${String(cause)}`), ExitCode.failed)
    ),
    Effect.provide(NodeContext.layer)
  )
}
