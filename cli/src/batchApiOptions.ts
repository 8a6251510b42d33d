/**
 * The options of `batch` for the xAI Batch API: which lane the prompts take, cancelling a running batch, and the
 * size of the chunks requests are added in.
 *
 * @since 0.2.0
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Effect from "effect/Effect"

/**
 * Defaults of the Batch API options.
 *
 * @since 0.2.0
 * @category constants
 */
export const batchApiDefaults = { via: "sync", chunkSize: 1000 } as const

/**
 * @since 0.2.0
 * @category options
 */
export const batchApiOptions = {
  via: Options.choice("via", ["sync", "batch-api"]).pipe(
    Options.withDefault(batchApiDefaults.via),
    Options.withDescription(
      "sync: one chat call per prompt, within the rate limits; batch-api: every prompt through one xAI batch, " +
        `cheaper and outside the rate limits, results within 24 h (default ${batchApiDefaults.via})`
    )
  ),
  cancel: Options.boolean("cancel").pipe(
    Options.withDescription(
      "With --via batch-api: cancel this run's batch, write the results that finished and a cancelled line for " +
        "the rest (default off)"
    )
  ),
  chunkSize: Options.integer("chunk-size").pipe(
    Options.withPseudoName("N"),
    Options.withDefault(batchApiDefaults.chunkSize),
    Options.mapEffect((n) =>
      n >= 1 && n <= 10_000
        ? Effect.succeed(n)
        : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--chunk-size: must be 1 to 10000, got ${n}`)))
    ),
    Options.withDescription(
      `With --via batch-api: requests per add call, each call also kept under 10 MiB (default ${batchApiDefaults.chunkSize})`
    )
  )
}

/**
 * @since 0.2.0
 * @category models
 */
export interface BatchApiConfig {
  readonly via: "sync" | "batch-api"
  readonly cancel: boolean
  readonly chunkSize: number
}
