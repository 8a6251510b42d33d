import { NodeSdk } from "@effect/opentelemetry"
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Either, Layer, Logger, LogLevel, Redacted } from "effect"
import * as GrokClient from "../src/GrokClient.js"
import * as Prometheus from "../src/Prometheus.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"
import { scrub } from "../src/Redaction.js"
import { hello } from "./support/client.js"

const KEY = "xai-Redaction0Test0Key0Abcdefghijklmnopqrstuvwxyz"
const WRONG = "xai-Wrong0Key0For0Redaction0Test0Zyxwvutsrq"

describe("redaction", () => {
  it.scopedLive("keeps the API key out of every log line, span attribute, error message and rendered metric", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const capture = Logger.make((options) => {
        lines.push(Logger.logfmtLogger.log(options))
      })
      const exporter = new InMemorySpanExporter()
      const fake = yield* FakeGrok.make({
        apiKey: KEY,
        script: ["503", 429, "error-200", "ok", "wrong-key-400", "quota-exhausted-403", "truncated", "ok"],
        retryAfter: "ms"
      })
      const clients = Layer.mergeAll(
        Layer.effect(
          GrokClient.GrokClient,
          GrokClient.make({
            apiKey: Redacted.make(KEY),
            baseUrl: fake.url,
            retry: RetryPolicy.make({ base: "1 millis", max: "5 millis" })
          })
        )
      ).pipe(Layer.provide(FetchHttpClient.layer))
      const wrongKeyClient = GrokClient.make({ apiKey: Redacted.make(WRONG), baseUrl: fake.url }).pipe(
        Effect.provide(FetchHttpClient.layer)
      )
      const program = Effect.gen(function* () {
        const grok = yield* GrokClient.GrokClient
        const outcomes = yield* Effect.forEach([1, 2, 3, 4], (i) => Effect.either(grok.chat(hello(`call ${i}`))))
        const wrong = yield* wrongKeyClient
        const refused = yield* Effect.either(wrong.chat(hello("wrong key")))
        // Read before the layer closes: shutting the exporter down clears what it holds.
        return { outcomes: [...outcomes, refused], spans: exporter.getFinishedSpans() }
      })
      const { outcomes, spans } = yield* program.pipe(
        Effect.provide(clients),
        Effect.provide(
          NodeSdk.layer(() => ({
            resource: { serviceName: "redaction-test" },
            spanProcessor: new SimpleSpanProcessor(exporter)
          }))
        ),
        Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
        // Retry decisions log at Debug: capture them too.
        Logger.withMinimumLogLevel(LogLevel.Debug)
      )
      const errors = outcomes.filter(Either.isLeft).map((o) => o.left)
      expect(errors.map((e) => e._tag).sort()).toEqual(["AuthError", "AuthError", "QuotaExhausted"])
      expect(outcomes.filter(Either.isRight).length).toBe(2)

      expect(spans.some((s) => s.name === "grok.attempt")).toBe(true)
      const spanText = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })))
      const errorText = errors.map((e) => `${e.message} ${JSON.stringify(e)} ${String(e)}`).join("\n")
      const metrics = yield* Prometheus.render
      expect(lines.some((l) => l.includes("retrying"))).toBe(true)
      for (const secret of [KEY, WRONG]) {
        expect(lines.join("\n")).not.toContain(secret)
        expect(spanText).not.toContain(secret)
        expect(errorText).not.toContain(secret)
        expect(metrics).not.toContain(secret)
      }
    })
  )

  it("scrubs given secrets, xAI-shaped keys and bearer credentials from text", () => {
    expect(scrub(`key ${KEY} and Bearer abcdefgh12345 and xai-abcdefghijkl`, [])).toBe(
      "key <redacted> and Bearer <redacted> and <redacted>"
    )
    expect(scrub("token=s3cr3t-value!", ["s3cr3t-value"])).toBe("token=<redacted>!")
  })
})
