import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Layer, Redacted, TestClock } from "effect"
import * as GrokClient from "../src/GrokClient.js"
import { REFRESH_SPACING_MILLIS } from "../src/internal/pipeline/credentials.js"
import * as VirtualGrok from "./support/virtualGrok.js"
import { API_KEY, BASE_URL, runCalls } from "./support/virtualGrok.js"

const NEW_KEY = "xai-refreshed-key-1111111111"

/** A refresh that counts its runs and takes `millis` of virtual time; `next(n)` is the key of the n-th run. */
const counting = (next: (n: number) => string, millis = 100) => {
  const runs = { count: 0 }
  const refresh = Effect.suspend(() => {
    runs.count++
    return Effect.as(Effect.sleep(millis), Redacted.make(next(runs.count)))
  })
  return { runs, refresh }
}

describe("the key refresh stage", () => {
  it.effect("old key refused, the refresh yields the new one: 50/50 ok at concurrency 20 with one refresh", () =>
    Effect.gen(function* () {
      const { runs, refresh } = counting(() => NEW_KEY)
      const { ok, sent } = yield* runCalls({
        calls: 50,
        concurrency: 20,
        plan: { keys: [NEW_KEY] },
        options: { refreshApiKey: refresh }
      })
      expect(ok.length).toBe(50)
      expect(runs.count).toBe(1)
      // The first wave fails with the old key; every call after the refresh sends the new one.
      expect(sent.filter((s) => s.key === API_KEY).length).toBe(20)
      expect(sent.filter((s) => s.key === NEW_KEY).length).toBe(50)
      expect(ok.filter((result) => result.attempts === 2).length).toBe(20)
    })
  )

  it.effect("an instant refresh is shared too: a failure with an older key takes the current one", () =>
    Effect.gen(function* () {
      const { runs, refresh } = counting(() => NEW_KEY, 0)
      const { ok } = yield* runCalls({
        calls: 50,
        concurrency: 20,
        plan: { keys: [NEW_KEY] },
        options: { refreshApiKey: refresh }
      })
      expect(ok.length).toBe(50)
      expect(runs.count).toBe(1)
    })
  )

  it.effect("a refresh that yields another refused key: every call AuthError, at most two requests each", () =>
    Effect.gen(function* () {
      const { runs, refresh } = counting((n) => `xai-also-refused-${n}-00000000`)
      const { failed, sent } = yield* runCalls({
        calls: 50,
        concurrency: 20,
        plan: { keys: [NEW_KEY] },
        options: { refreshApiKey: refresh }
      })
      expect(failed.length).toBe(50)
      expect(failed.every((error) => error._tag === "AuthError")).toBe(true)
      expect(failed.every((error) => GrokClient.attemptsOf(error)! <= 2)).toBe(true)
      // One refresh: the first wave shares it and tries the new key once; the calls after it get the refreshed
      // key refused and fail without asking the refresh again within its spacing.
      expect(runs.count).toBe(1)
      expect(sent.length).toBe(20 * 2 + 30)
      expect(failed[49]!.detail).toContain("the refreshed key was refused as well")
    })
  )

  it.effect("refreshes a refused refreshed key again once the spacing has passed", () =>
    Effect.gen(function* () {
      const { runs, refresh } = counting((n) => (n === 1 ? "xai-also-refused-0000000000" : NEW_KEY), 0)
      const sent: Array<VirtualGrok.Sent> = []
      const client = GrokClient.layer({
        apiKey: Redacted.make(API_KEY),
        baseUrl: BASE_URL,
        refreshApiKey: refresh
      }).pipe(Layer.provide(VirtualGrok.layer({ keys: [NEW_KEY] }, sent)), Layer.orDie)
      const program = Effect.gen(function* () {
        const grok = yield* GrokClient.GrokClient
        const first = yield* Effect.either(grok.chat(VirtualGrok.request(0)))
        const soon = yield* Effect.either(grok.chat(VirtualGrok.request(1)))
        yield* Effect.sleep(REFRESH_SPACING_MILLIS)
        const later = yield* Effect.either(grok.chat(VirtualGrok.request(2)))
        return [first, soon, later].map((result) => (Either.isRight(result) ? "ok" : result.left._tag))
      })
      const fiber = yield* Effect.fork(Effect.provide(program, client))
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toEqual(["AuthError", "AuthError", "ok"])
      expect(runs.count).toBe(2)
      expect(sent.map((s) => s.status)).toEqual([400, 400, 400, 400, 200])
    })
  )

  it.effect("refreshes after a 401 and after a 403 (a revoked key) as after xAI's 400", () =>
    Effect.gen(function* () {
      for (const status of [401, 403] as const) {
        const { runs, refresh } = counting(() => NEW_KEY)
        const { ok } = yield* runCalls({
          calls: 5,
          concurrency: 5,
          plan: { keys: [NEW_KEY], refusal: { status } },
          options: { refreshApiKey: refresh }
        })
        expect([status, ok.length, runs.count]).toEqual([status, 5, 1])
      }
    })
  )

  it.effect("a refresh that fails leaves the AuthError, says why, and sends nothing more", () =>
    Effect.gen(function* () {
      const outcomes = []
      const refreshes = [
        Effect.fail(new Error("the vault is sealed")),
        Effect.succeed(Redacted.make("")),
        Effect.die("a bug in the refresh")
      ]
      for (const refreshApiKey of refreshes) {
        const { failed, sent } = yield* runCalls({
          calls: 1,
          concurrency: 1,
          plan: { keys: [NEW_KEY] },
          options: { refreshApiKey }
        })
        outcomes.push({ tag: failed[0]!._tag, sent: sent.length, detail: failed[0]!.detail })
      }
      expect(outcomes.map((o) => [o.tag, o.sent])).toEqual([
        ["AuthError", 1],
        ["AuthError", 1],
        ["AuthError", 1]
      ])
      expect(outcomes[0]!.detail).toContain("refreshApiKey failed: the vault is sealed")
      expect(outcomes[1]!.detail).toContain("refreshApiKey gave no key")
      expect(outcomes[2]!.detail).toContain("refreshApiKey died: a bug in the refresh")
    })
  )

  it.effect("scrubs a refreshed key from errors when a hostile server echoes it", () =>
    Effect.gen(function* () {
      const refused = "xai-refused-after-refresh-2222222222"
      const { failed } = yield* runCalls({
        calls: 1,
        concurrency: 1,
        plan: { keys: [NEW_KEY], refusal: { echo: true } },
        options: { refreshApiKey: Effect.succeed(Redacted.make(refused)) }
      })
      const text = `${failed[0]!.message} ${JSON.stringify(failed[0])}`
      expect(failed[0]!._tag).toBe("AuthError")
      expect(text).not.toContain(refused)
      expect(text).not.toContain(API_KEY)
    })
  )
})
