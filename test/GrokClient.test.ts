import { describe, expect, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Either, Fiber, Layer, TestClock } from "effect"
import * as GrokClient from "../src/GrokClient.js"
import * as GrokError from "../src/GrokError.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { FetchHttpClient } from "@effect/platform"
import { hello, untilArrivals, withFake } from "./support/client.js"

const fast = RetryPolicy.make({ base: "5 millis", max: "50 millis", jitter: "full" })

describe("GrokClient", () => {
  it.scopedLive("answers with the completion, its usage and the echoed prompt", () =>
    Effect.gen(function* () {
      const { grok } = yield* withFake()
      const result = yield* grok.chat(hello("what is 2+2?"))
      expect(result.content).toBe("echo: what is 2+2?")
      expect(result.attempts).toBe(1)
      expect(result.usage?.total_tokens).toBeGreaterThan(0)
      expect(result.completion.model).toBe("grok-4")
    })
  )

  it.scopedLive("retries 503, 503 and then succeeds on the third attempt", () =>
    Effect.gen(function* () {
      const { fake, grok } = yield* withFake({ script: ["503", "503", "ok"] }, { retry: fast })
      const result = yield* grok.chat(hello())
      expect(result.attempts).toBe(3)
      expect((yield* fake.arrivals).map((a) => a.status)).toEqual([503, 503, 200])
    })
  )

  it.scopedLive("lets two call sites in one program use different policies", () =>
    Effect.gen(function* () {
      const { fake, grok } = yield* withFake({ script: ["503", "503", "ok"] }, { retry: fast })
      const strict = yield* Effect.flip(grok.chat(hello("strict"))).pipe(RetryPolicy.withPolicy(RetryPolicy.none))
      const patient = yield* grok.chat(hello("patient"), {
        retry: RetryPolicy.make({ maxAttempts: 3, base: "1 millis" })
      })
      expect(strict._tag).toBe("Transient")
      expect(GrokClient.attemptsOf(strict)).toBe(1)
      expect(patient.attempts).toBe(2)
      expect((yield* fake.arrivals).map((a) => a.prompt)).toEqual(["strict", "patient", "patient"])
    })
  )

  it.scopedLive("prefers the per-call policy over the one set with withPolicy", () =>
    Effect.gen(function* () {
      const { grok } = yield* withFake({ script: ["500", "ok"] })
      const result = yield* grok.chat(hello(), { retry: fast }).pipe(RetryPolicy.withPolicy(RetryPolicy.none))
      expect(result.attempts).toBe(2)
    })
  )

  it.scoped("fails with Rejected(DeadlineExceeded) when the whole call outlives its deadline, in virtual time", () =>
    Effect.gen(function* () {
      const { fake, grok } = yield* withFake({ script: ["slow"], slowMillis: 60_000 }, { deadline: "3 seconds" })
      const fiber = yield* Effect.fork(Effect.flip(grok.chat(hello())))
      yield* untilArrivals(fake, 1)
      yield* TestClock.adjust("3 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error).toBeInstanceOf(GrokError.Rejected)
      expect(error._tag === "Rejected" && error.reason).toBe("DeadlineExceeded")
    })
  )

  it.scopedLive("stops retrying once the next retry could not start before the deadline", () =>
    Effect.gen(function* () {
      const { fake, grok } = yield* withFake(
        { script: ["503", "503", "503", "503"] },
        { retry: RetryPolicy.make({ base: "200 millis", jitter: "none" }), deadline: "500 millis" }
      )
      const error = yield* Effect.flip(grok.chat(hello()))
      expect(error._tag === "Rejected" && error.reason).toBe("DeadlineExceeded")
      expect(error.detail).toContain("Transient")
      expect((yield* fake.arrivals).length).toBe(2)
    })
  )

  it.scopedLive("refuses a request JSON cannot encode with Validation instead of a defect", () =>
    Effect.gen(function* () {
      const { fake, grok } = yield* withFake()
      const error = yield* Effect.flip(grok.chat({ ...hello(), metadata: { big: 10n } }))
      expect(error._tag === "Validation" && error.reason).toBe("InvalidRequest")
      expect((yield* fake.arrivals).length).toBe(0)
    })
  )

  it.scopedLive("does not retry a base URL that is not a URL", () =>
    Effect.gen(function* () {
      const { grok } = yield* withFake({}, { baseUrl: "not a url", retry: RetryPolicy.standard })
      const error = yield* Effect.flip(grok.chat(hello()))
      expect(error._tag === "Validation" && error.reason).toBe("InvalidRequest")
      expect(GrokClient.attemptsOf(error)).toBe(1)
      expect(error.stack).toContain("Validation")
    })
  )

  it.scopedLive("lists models", () =>
    Effect.gen(function* () {
      const { grok } = yield* withFake()
      const models = yield* grok.models()
      expect(models.data.map((m) => m.id)).toContain("grok-4")
    })
  )

  it.scopedLive("reads XAI_API_KEY and XAI_BASE_URL with layerConfig", () =>
    Effect.gen(function* () {
      const { fake } = yield* withFake()
      const config = ConfigProvider.fromMap(
        new Map([
          ["XAI_API_KEY", fake.apiKey],
          ["XAI_BASE_URL", fake.url]
        ])
      )
      const result = yield* Effect.flatMap(GrokClient.GrokClient, (grok) => grok.chat(hello("configured"))).pipe(
        Effect.provide(
          GrokClient.layerConfig().pipe(
            Layer.provide(FetchHttpClient.layer),
            Layer.provide(Layer.setConfigProvider(config))
          )
        )
      )
      expect(result.content).toBe("echo: configured")
    })
  )

  it.scopedLive("fails layerConfig with a ConfigError when XAI_API_KEY is missing", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.flatMap(GrokClient.GrokClient, () => Effect.void).pipe(
        Effect.provide(
          GrokClient.layerConfig().pipe(
            Layer.provide(FetchHttpClient.layer),
            Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map())))
          )
        ),
        Effect.either
      )
      expect(Either.isLeft(exit) && exit.left._tag).toBe("ConfigError")
    })
  )

  it.scopedLive("fails layerConfig with a ConfigError naming XAI_API_KEY when it is empty or missing", () =>
    Effect.gen(function* () {
      const load = (entries: ReadonlyArray<readonly [string, string]>) =>
        Effect.flatMap(GrokClient.GrokClient, () => Effect.void).pipe(
          Effect.provide(
            GrokClient.layerConfig().pipe(
              Layer.provide(FetchHttpClient.layer),
              Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(entries))))
            )
          ),
          Effect.flip
        )
      const empty = yield* load([["XAI_API_KEY", ""]])
      const missing = yield* load([])
      expect(empty._tag).toBe("ConfigError")
      expect(String(empty)).toContain("XAI_API_KEY")
      expect(String(empty)).toContain("empty")
      expect(String(missing)).toContain("XAI_API_KEY")
      expect(String(missing)).not.toContain("<redacted>")
    })
  )

  it.scopedLive("takes each option of layerConfig from its own Config", () =>
    Effect.gen(function* () {
      const { fake } = yield* withFake()
      const config = ConfigProvider.fromMap(
        new Map([
          ["MY_KEY", fake.apiKey],
          ["MY_URL", fake.url]
        ])
      )
      const result = yield* Effect.flatMap(GrokClient.GrokClient, (grok) => grok.chat(hello("own names"))).pipe(
        Effect.provide(
          GrokClient.layerConfig({
            apiKey: GrokClient.apiKeyConfig("MY_KEY"),
            baseUrl: Config.string("MY_URL"),
            attemptTimeout: Config.succeed("5 seconds")
          }).pipe(Layer.provide(FetchHttpClient.layer), Layer.provide(Layer.setConfigProvider(config)))
        )
      )
      expect(result.content).toBe("echo: own names")
    })
  )

  it.scopedLive(
    "completes 300 calls at concurrency 30 against 20% transient faults with the default policy",
    () =>
      Effect.gen(function* () {
        const { fake, grok } = yield* withFake(
          { faultRate: 0.2, faults: ["500", "502", "503", "529", "reset", "error-200", "truncated", "html"], seed: 7 },
          { retry: RetryPolicy.standard }
        )
        const results = yield* Effect.forEach(
          Array.from({ length: 300 }, (_, i) => i),
          (i) => Effect.either(grok.chat(hello(`prompt ${i}`))),
          { concurrency: 30 }
        )
        const failed = results.filter(Either.isLeft)
        expect(failed.map((f) => f.left._tag)).toEqual([])
        results.forEach((r, i) => expect(Either.isRight(r) && r.right.content).toBe(`echo: prompt ${i}`))
        const arrivals = yield* fake.arrivals
        const faults = arrivals.filter((a) => a.kind !== "ok").length
        expect(faults).toBeGreaterThan(30)
        expect(arrivals.length).toBe(300 + faults)
      }),
    60_000
  )
})
