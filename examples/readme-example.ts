// The README's example, type-checked by `npm run typecheck` so that it cannot drift from the API.
import { FetchHttpClient } from "@effect/platform"
import { Effect, Layer, Redacted } from "effect"
import { GrokClient, RateLimiter, RetryPolicy } from "grok-resilience"

const GrokLive = GrokClient.layer({
  apiKey: Redacted.make(process.env.XAI_API_KEY!), // or GrokClient.layerConfig() to read XAI_API_KEY
  retry: RetryPolicy.standard // 8 attempts, full-jitter backoff 250 ms → 20 s, Retry-After up to 60 s
}).pipe(
  Layer.provide(RateLimiter.layer({ requestsPerSecond: 8, tokensPerMinute: 100_000 })), // shared by every call
  Layer.provide(FetchHttpClient.layer)
)

const program = Effect.gen(function* () {
  const grok = yield* GrokClient.GrokClient

  // the default policy
  const summary = yield* grok.chat({ model: "grok-4", messages: [{ role: "user", content: "Summarise: ..." }] })

  // an interactive call site: fail fast instead of waiting
  const quick = yield* grok
    .chat(
      { model: "grok-3-mini", messages: [{ role: "user", content: "Say hi" }] },
      { priority: "critical", deadline: "5 seconds" }
    )
    .pipe(RetryPolicy.withPolicy(RetryPolicy.make({ maxAttempts: 2 })))

  return [summary.content, quick.content]
}).pipe(
  Effect.catchTags({
    AuthError: (e) => Effect.die(e.message), // "The API key was refused: check XAI_API_KEY ..."
    QuotaExhausted: () => Effect.succeed(["out of credits", ""]),
    RateLimited: (e) => Effect.fail(`still rate limited; server asked for ${e.retryAfterMillis} ms`)
  })
)

Effect.runPromise(program.pipe(Effect.provide(GrokLive))).then(console.log)
