/**
 * Where the calls go: the real xAI API with a key, or the embedded fake Grok server (`--fake`, or no key at all).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import { FakeGrok } from "grok-resilience/testing"
import { describe, UsageError } from "./errors.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Endpoint {
  readonly baseUrl: string
  readonly apiKey: Redacted.Redacted<string>
  /** Whether this is the embedded fake server. */
  readonly fake: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly baseUrl: string
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
  readonly fake: boolean
  /** Inline JSON (starting with `{`) or the path of a JSON file. */
  readonly fakeScenario: Option.Option<string>
}

/**
 * Reads and validates a fake server scenario given inline or as a file.
 *
 * @since 0.1.0
 * @category decoding
 */
export const readScenario = (source: string): Either.Either<FakeGrok.Scenario, string> => {
  let text = source
  if (!source.trimStart().startsWith("{")) {
    try {
      text = Fs.readFileSync(source, "utf8")
    } catch (error) {
      return Either.left(`cannot read the fake scenario file ${source}: ${describe(error)}`)
    }
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return Either.left(`the fake scenario is not valid JSON: ${describe(error)}`)
  }
  return FakeGrok.decodeScenario(json)
}

/**
 * What `start` will do: call the real API, or start the fake server with a scenario.
 *
 * @since 0.1.0
 * @category models
 */
export type Plan =
  | { readonly _tag: "Real"; readonly baseUrl: string; readonly apiKey: Redacted.Redacted<string> }
  | { readonly _tag: "Fake"; readonly scenario: FakeGrok.Scenario; readonly asked: boolean }

/**
 * Decides the endpoint and validates the fake scenario, before anything is started or written.
 *
 * @since 0.1.0
 * @category constructors
 */
export const plan = (options: Options): Either.Either<Plan, UsageError> => {
  const asked = options.fake || Option.isSome(options.fakeScenario)
  if (!asked && Option.isSome(options.apiKey) && Redacted.value(options.apiKey.value).trim() !== "") {
    return Either.right({ _tag: "Real", baseUrl: options.baseUrl, apiKey: options.apiKey.value })
  }
  const scenario = Option.isSome(options.fakeScenario) ? readScenario(options.fakeScenario.value) : Either.right({})
  return Either.match(scenario, {
    onLeft: (message) => Either.left(new UsageError({ message })),
    onRight: (scenario) => Either.right({ _tag: "Fake" as const, scenario, asked })
  })
}

/**
 * Starts what the plan says; a fake server lives until the scope closes. The notice names the fake server's URL.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (plan: Plan, notice: (text: string) => void): Effect.Effect<Endpoint, never, Scope.Scope> =>
  plan._tag === "Real"
    ? Effect.succeed({ baseUrl: plan.baseUrl, apiKey: plan.apiKey, fake: false })
    : Effect.map(FakeGrok.make(plan.scenario), (server) => {
        notice(
          plan.asked
            ? `Using the embedded fake Grok server at ${server.url} (--fake): answers are echoes, not Grok.\n`
            : `No API key (--api-key or XAI_API_KEY): using the embedded fake Grok server at ${server.url}; ` +
                "answers are echoes, not Grok.\n"
        )
        return { baseUrl: server.url, apiKey: Redacted.make(server.apiKey), fake: true }
      })

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
 * The plan from the command's flags, falling back to the environment, then to `defaultBaseUrl`: the one place
 * `batch`, `--via batch-api` and `queue work` decide which server they call.
 *
 * @since 0.2.0
 * @category constructors
 */
export const planFromFlags = (
  flags: {
    readonly baseUrl: Option.Option<string>
    readonly apiKey: Option.Option<Redacted.Redacted<string>>
    readonly fake: boolean
    readonly fakeScenario: Option.Option<string>
  },
  defaultBaseUrl: string
): Effect.Effect<Plan, UsageError> =>
  Effect.gen(function* () {
    const env = yield* Effect.orElseSucceed(environment, () => ({ apiKey: Option.none(), baseUrl: Option.none() }))
    return yield* plan({
      baseUrl: Option.getOrElse(
        Option.orElse(flags.baseUrl, () => env.baseUrl),
        () => defaultBaseUrl
      ),
      apiKey: Option.orElse(flags.apiKey, () => env.apiKey),
      fake: flags.fake,
      fakeScenario: flags.fakeScenario
    })
  })
