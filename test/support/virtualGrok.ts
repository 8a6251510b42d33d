/**
 * A unit double of the Grok API on Effect's Clock, for containment rules tested in virtual time: an HttpClient that
 * answers every chat request at once, with 503 while a model is down, a wrong-key 400 for a key it does not accept,
 * and a completion otherwise, and records what it was sent.
 */
import { HttpClient, HttpClientResponse } from "@effect/platform"
import type { Duration } from "effect"
import { Clock, Effect, Either, Fiber, Layer, Random, Redacted, TestClock } from "effect"
import type * as GrokApi from "../../src/GrokApi.js"
import * as GrokClient from "../../src/GrokClient.js"

export interface Sent {
  readonly atMillis: number
  readonly model: string
  readonly key: string
  readonly status: number
}

export interface Plan {
  /** Whether `model` answers 503 at `nowMillis` (virtual time since the epoch of the TestClock). */
  readonly down?: (model: string, nowMillis: number) => boolean
  /** The keys accepted; default every key. */
  readonly keys?: ReadonlyArray<string>
  /** How a key not in `keys` is refused: xAI's wrong-key 400 (default), 401 or 403; `echo` puts the key in the body. */
  readonly refusal?: { readonly status?: 400 | 401 | 403; readonly echo?: boolean }
}

const completion = (model: string) => ({
  id: "c-1",
  object: "chat.completion",
  created: 1,
  model,
  choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }
})

const modelOf = (body: unknown): string => {
  if (typeof body !== "object" || body === null || !("_tag" in body) || body._tag !== "Uint8Array") return "none"
  const bytes = (body as unknown as { readonly body: Uint8Array }).body
  const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes))
  return typeof parsed === "object" && parsed !== null && "model" in parsed ? String(parsed.model) : "none"
}

const answer = (plan: Plan, model: string, key: string, now: number): { status: number; body: unknown } => {
  if (plan.keys !== undefined && !plan.keys.includes(key)) {
    const shown = plan.refusal?.echo ? key : "xa***yz"
    const status = plan.refusal?.status ?? 400
    const error =
      status === 400
        ? `Incorrect API key provided: ${shown}.`
        : status === 401
          ? `The bearer token ${shown} could not be authenticated.`
          : `The API key ${shown} was revoked.`
    return { status, body: { code: "unauthenticated", error } }
  }
  if (plan.down?.(model, now)) return { status: 503, body: { code: "unavailable", error: "Service unavailable" } }
  return { status: 200, body: completion(model) }
}

/** The double as a layer; `sent` receives every request in the order sent. */
export const layer = (plan: Plan, sent: Array<Sent>): Layer.Layer<HttpClient.HttpClient> =>
  Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const model = modelOf(request.body)
        const key = (request.headers["authorization"] ?? "").replace(/^Bearer /, "")
        const { status, body } = answer(plan, model, key, now)
        sent.push({ atMillis: now, model, key, status })
        return HttpClientResponse.fromWeb(
          request,
          new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })
        )
      })
    )
  )

/** Down for every model from time 0 until `untilMillis`. */
export const outageUntil =
  (untilMillis: number) =>
  (_model: string, now: number): boolean =>
    now < untilMillis

export const API_KEY = "xai-virtual-key-0000000000"
export const BASE_URL = "http://127.0.0.1:9/v1"

export const request = (index: number, model = "grok-4"): GrokApi.ChatRequest => ({
  model,
  messages: [{ role: "user", content: `call ${index}` }]
})

export interface Run {
  readonly calls: number
  readonly concurrency: number
  readonly plan: Plan
  readonly options?: Partial<GrokClient.Options>
  readonly callOptions?: (index: number) => GrokClient.CallOptions
  /** Services provided around the calls (a CircuitBreaker, a RetryBudget, …). */
  readonly around?: Layer.Layer<any>
  readonly seed?: number
  /** Virtual time given to the run. Default 10 minutes. */
  readonly advance?: Duration.DurationInput
}

/** Runs `calls` chat calls at `concurrency` through a client over the double, in virtual time with seeded jitter. */
export const runCalls = (run: Run) =>
  Effect.gen(function* () {
    const sent: Array<Sent> = []
    const client = GrokClient.layer({ apiKey: Redacted.make(API_KEY), baseUrl: BASE_URL, ...run.options }).pipe(
      Layer.provide(layer(run.plan, sent)),
      Layer.orDie
    )
    const program = Effect.flatMap(GrokClient.GrokClient, (grok) =>
      Effect.forEach(
        Array.from({ length: run.calls }, (_, index) => index),
        (index) => Effect.either(grok.chat(request(index), run.callOptions?.(index))),
        { concurrency: run.concurrency }
      )
    )
    const provided = run.around === undefined ? program : Effect.provide(program, run.around)
    const fiber = yield* Effect.fork(
      provided.pipe(Effect.provide(client), Effect.withRandom(Random.make(run.seed ?? 7)), Effect.scoped)
    )
    yield* TestClock.adjust(run.advance ?? "10 minutes")
    const results = yield* Fiber.join(fiber)
    const ok = results.filter(Either.isRight).map((result) => result.right)
    const failed = results.filter(Either.isLeft).map((result) => result.left)
    return { results, ok, failed, sent }
  })
