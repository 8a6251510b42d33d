import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as GrokApi from "../src/GrokApi.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"
import * as Quota from "../src/internal/testing/Quota.js"
import { prng } from "../src/internal/testing/Scenario.js"

interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
}

const request = (url: string, init: RequestInit): Effect.Effect<Reply, unknown> =>
  Effect.tryPromise({
    try: async () => {
      const response = await fetch(url, init)
      return { status: response.status, headers: response.headers, text: await response.text() }
    },
    catch: (error) => error
  })

const chat = (grok: FakeGrok.Service, prompt = "hello", options: { key?: string | null; body?: string } = {}) => {
  const key = options.key === undefined ? grok.apiKey : options.key
  return request(`${grok.url}/chat/completions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(key === null ? {} : { authorization: `Bearer ${key}` })
    },
    body: options.body ?? JSON.stringify({ model: "grok-4", messages: [{ role: "user", content: prompt }] })
  })
}

const json = (reply: Reply): unknown => JSON.parse(reply.text)

/** Opens `n` keep-alive connections with unmetered requests, so that a burst that follows arrives at once. */
const warmUp = (grok: FakeGrok.Service, n: number) =>
  Effect.all(
    Array.from({ length: n }, () =>
      request(`${grok.url}/models`, { headers: { authorization: `Bearer ${grok.apiKey}` } })
    ),
    { concurrency: "unbounded", discard: true }
  )

const burst = (grok: FakeGrok.Service, n: number) =>
  Effect.all(
    Array.from({ length: n }, (_, i) => chat(grok, `p${i}`)),
    { concurrency: "unbounded" }
  )

describe("FakeGrok", () => {
  describe("normal answers", () => {
    it.scoped("answers a chat request with a completion that decodes and echoes the prompt", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make()
        const reply = yield* chat(grok, "What is 2+2?")
        expect(reply.status).toBe(200)
        expect(reply.headers.get("content-type")).toContain("application/json")
        expect(reply.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
        const completion = GrokApi.decodeChatCompletion(json(reply))
        expect(Either.isRight(completion)).toBe(true)
        const value = Either.getOrThrow(completion)
        expect(value.model).toBe("grok-4")
        expect(value.object).toBe("chat.completion")
        expect(value.choices[0]?.message.content).toBe("echo: What is 2+2?")
        expect(value.choices[0]?.finish_reason).toBe("stop")
        const usage = value.usage!
        expect(usage.prompt_tokens).toBe(Math.ceil("What is 2+2?".length / 4) + 1)
        expect(usage.completion_tokens).toBe(Math.ceil("echo: What is 2+2?".length / 4))
        expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens)
        expect(usage.cost_in_usd_ticks).toBeGreaterThan(0)
      })
    )

    it.scoped("counts reasoning tokens in the total and caps completion tokens at max_completion_tokens", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({ reasoningTokens: 50 })
        const body = JSON.stringify({
          model: "grok-3-mini",
          max_completion_tokens: 2,
          messages: [
            { role: "system", content: "Be brief." },
            { role: "user", content: [{ type: "text", text: "a fairly long prompt to echo" }] }
          ]
        })
        const value = Either.getOrThrow(GrokApi.decodeChatCompletion(json(yield* chat(grok, "", { body }))))
        expect(value.choices[0]?.message.content).toBe("echo: a fairly long prompt to echo")
        expect(value.choices[0]?.message.reasoning_content).toEqual(expect.any(String))
        expect(value.usage?.completion_tokens).toBe(2)
        expect(value.usage?.completion_tokens_details?.reasoning_tokens).toBe(50)
        expect(value.usage?.prompt_tokens).toBe(Math.ceil(("Be brief.".length + 28) / 4) + 1)
        expect(value.usage?.total_tokens).toBe(value.usage!.prompt_tokens + 2 + 50)
      })
    )

    it.scoped("lists the scenario's models on /v1/models", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({ models: ["grok-4", "grok-code-fast-1"] })
        const reply = yield* request(`${grok.url}/models`, { headers: { authorization: `Bearer ${grok.apiKey}` } })
        expect(reply.status).toBe(200)
        const list = Either.getOrThrow(GrokApi.decodeModelList(json(reply)))
        expect(list.data.map((m) => m.id)).toEqual(["grok-4", "grok-code-fast-1"])
        expect(list.data[0]).toMatchObject({ object: "model", owned_by: "xai" })
      })
    )

    it.scoped("answers an unknown path with xAI's 404 body", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make()
        const reply = yield* request(`${grok.url}/embeddings`, { method: "POST", body: "{}" })
        expect(reply.status).toBe(404)
        expect(json(reply)).toMatchObject({ code: "Some requested entity was not found" })
      })
    )

    it.scoped("answers invalid JSON and a request without messages with an invalid_request_error", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make()
        const bad = yield* chat(grok, "", { body: "{not json" })
        const empty = yield* chat(grok, "", { body: JSON.stringify({ model: "grok-4" }) })
        for (const reply of [bad, empty]) {
          expect(reply.status).toBe(400)
          expect(json(reply)).toMatchObject({ error: { type: "invalid_request_error", code: "invalid_value" } })
        }
      })
    )
  })

  describe("authentication", () => {
    it.scoped("answers a wrong bearer with xAI's 400 wrong-key body, masking the key", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({ apiKey: "xai-secret" })
        const reply = yield* chat(grok, "hi", { key: "test-key" })
        expect(reply.status).toBe(400)
        expect(json(reply)).toEqual({
          code: "Client specified an invalid argument",
          error: "Incorrect API key provided: te***ey. You can obtain an API key from https://console.x.ai."
        })
        const models = yield* request(`${grok.url}/models`, { headers: { authorization: "Bearer nope-nope" } })
        expect(models.status).toBe(400)
      })
    )

    it.scoped("answers a missing bearer with 400 saying no API key was provided", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make()
        const reply = yield* chat(grok, "hi", { key: null })
        expect(reply.status).toBe(400)
        expect(json(reply)).toMatchObject({ error: expect.stringContaining("No API key provided") })
        expect((yield* grok.arrivals)[0]).toMatchObject({ kind: "auth", status: 400 })
      })
    )
  })

  describe("script", () => {
    it.scoped("answers 503, 503 and then 200 in order", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({ script: ["503", 503, "ok"] })
        const statuses: Array<number> = []
        for (let i = 0; i < 4; i++) statuses.push((yield* chat(grok)).status)
        expect(statuses).toEqual([503, 503, 200, 200])
        const kinds = (yield* grok.arrivals).map((a) => a.kind)
        expect(kinds).toEqual(["script", "script", "ok", "ok"])
      })
    )

    it.scoped("sends xAI's bodies for credits, wrong key, prompt too long and a scripted 429", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({
          script: ["quota-exhausted-429", "quota-exhausted-403", "wrong-key-400", 400, 429, 422],
          rateLimitHeaders: true
        })
        const replies = [] as Array<Reply>
        for (let i = 0; i < 6; i++) replies.push(yield* chat(grok))
        expect(replies.map((r) => r.status)).toEqual([429, 403, 400, 400, 429, 422])
        expect(json(replies[0]!)).toMatchObject({
          code: "Some resource has been exhausted",
          error: expect.stringContaining("used all available credits")
        })
        expect(json(replies[1]!)).toMatchObject({ code: "permission-denied" })
        expect(json(replies[2]!)).toMatchObject({ error: expect.stringContaining("Incorrect API key provided") })
        expect(json(replies[3]!)).toMatchObject({ error: expect.stringContaining("maximum prompt length") })
        expect(json(replies[4]!)).toMatchObject({ error: expect.stringContaining("Requests per Second") })
        expect(replies[4]!.headers.get("retry-after")).toBe("1")
        expect(replies[4]!.headers.get("x-ratelimit-remaining-requests")).toBe("0")
        expect(replies[4]!.headers.get("x-ratelimit-reset-requests")).toBe("1s")
        expect(replies[0]!.headers.get("retry-after")).toBeNull()
      })
    )
  })

  describe("faults", () => {
    const withFault = (fault: FakeGrok.FaultKind) => FakeGrok.make({ faultRate: 1, faults: [fault], slowMillis: 30 })

    it.scoped("answers the 5xx faults with their status and an xAI error body", () =>
      Effect.gen(function* () {
        for (const fault of ["500", "502", "503", "529"] as const) {
          const grok = yield* withFault(fault)
          const reply = yield* chat(grok)
          expect(reply.status).toBe(Number(fault))
          expect(Option.isSome(GrokApi.decodeErrorBody(json(reply)))).toBe(true)
          expect((yield* grok.arrivals)[0]).toMatchObject({ kind: fault, status: Number(fault) })
        }
      })
    )

    it.scoped("resets the connection so that fetch rejects", () =>
      Effect.gen(function* () {
        const grok = yield* withFault("reset")
        const result = yield* Effect.either(chat(grok))
        expect(Either.isLeft(result)).toBe(true)
        expect((yield* grok.arrivals)[0]).toMatchObject({ kind: "reset", status: 0 })
      })
    )

    it.scoped("answers slowly but normally", () =>
      Effect.gen(function* () {
        const grok = yield* withFault("slow")
        const started = performance.now()
        const reply = yield* chat(grok)
        expect(reply.status).toBe(200)
        expect(performance.now() - started).toBeGreaterThanOrEqual(25)
        expect(Either.isRight(GrokApi.decodeChatCompletion(json(reply)))).toBe(true)
      })
    )

    it.scoped("answers HTTP 200 with an xAI error object", () =>
      Effect.gen(function* () {
        const grok = yield* withFault("error-200")
        const reply = yield* chat(grok)
        expect(reply.status).toBe(200)
        expect(json(reply)).toEqual({
          code: "The service is currently unavailable",
          error: "Timed out waiting for first token"
        })
      })
    )

    it.scoped("sends a truncated body that JSON.parse rejects", () =>
      Effect.gen(function* () {
        const grok = yield* withFault("truncated")
        const reply = yield* chat(grok)
        expect(reply.status).toBe(200)
        expect(reply.text.startsWith('{"id":')).toBe(true)
        expect(() => JSON.parse(reply.text)).toThrow()
      })
    )

    it.scoped("sends a 502 HTML page as text/html", () =>
      Effect.gen(function* () {
        const grok = yield* withFault("html")
        const reply = yield* chat(grok)
        expect(reply.status).toBe(502)
        expect(reply.headers.get("content-type")).toContain("text/html")
        expect(reply.text).toMatch(/^<!DOCTYPE html>[\s\S]*Bad Gateway[\s\S]*<\/html>/)
      })
    )

    it.scoped("draws the same faults for the same seed", () =>
      Effect.gen(function* () {
        const kindsFor = (seed: number) =>
          Effect.gen(function* () {
            const grok = yield* FakeGrok.make({ faultRate: 0.5, faults: ["500", "503"], seed })
            for (let i = 0; i < 12; i++) yield* chat(grok)
            return (yield* grok.arrivals).map((a) => a.kind)
          })
        const first = yield* kindsFor(7)
        expect(yield* kindsFor(7)).toEqual(first)
        expect(new Set(first).size).toBeGreaterThan(1)
      })
    )

    it.scoped("answers an outage window with its status", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({ outages: [{ fromMillis: 0, toMillis: 600_000, status: 529 }] })
        const reply = yield* chat(grok)
        expect(reply.status).toBe(529)
        expect((yield* grok.arrivals)[0]).toMatchObject({ kind: "outage", status: 529 })
      })
    )

    it.scoped("answers an outage that names models only for those models", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({ outages: [{ fromMillis: 0, toMillis: 600_000, models: ["grok-4"] }] })
        const down = yield* chat(grok)
        const up = yield* chat(grok, "hello", {
          body: JSON.stringify({ model: "grok-4-fast", messages: [{ role: "user", content: "hello" }] })
        })
        expect([down.status, up.status]).toEqual([503, 200])
        expect((yield* grok.arrivals).map((a) => a.kind)).toEqual(["outage", "ok"])
      })
    )
  })

  describe("quotas", () => {
    it.scoped(
      "admits the burst of 10 concurrent requests against 20 r/s burst 5 and rejects the rest with Retry-After",
      () =>
        Effect.gen(function* () {
          const grok = yield* FakeGrok.make({ requestsPerSecond: 20, burst: 5 })
          yield* warmUp(grok, 10)
          yield* grok.clearArrivals
          const replies = yield* burst(grok, 10)
          const arrivals = yield* grok.arrivals
          const ok = replies.filter((r) => r.status === 200).length
          const limited = replies.filter((r) => r.status === 429)
          // Exactly 5 when the burst arrives within one refill interval (50 ms); a loaded machine may spread it, and
          // the bucket must then admit no more than 5 + 20 r/s over the span it took.
          const span = arrivals[arrivals.length - 1]!.atMillis - arrivals[0]!.atMillis
          expect(ok).toBeGreaterThanOrEqual(5)
          expect(ok).toBeLessThanOrEqual(5 + Math.floor(span / 50))
          expect(ok + limited.length).toBe(10)
          expect(arrivals.slice(0, 5).every((a) => a.kind === "ok")).toBe(true)
          expect(arrivals.filter((a) => a.kind === "rate-limited").length).toBe(limited.length)
          for (const reply of limited) {
            expect(reply.headers.get("retry-after")).toBe("1")
            expect(json(reply)).toMatchObject({
              code: "Some resource has been exhausted",
              error: expect.stringMatching(/Requests per Second \(actual\/limit\): \d+\/20/)
            })
          }
        })
    )

    it.scoped("admits exactly 5 of a burst of 10 against 60 r/min burst 5, answering 429 with Retry-After", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({ requestsPerMinute: 60, burst: 5 })
        const replies = yield* burst(grok, 10)
        expect(replies.filter((r) => r.status === 200).length).toBe(5)
        const limited = replies.filter((r) => r.status === 429)
        expect(limited.length).toBe(5)
        expect(limited.every((r) => r.headers.get("retry-after") === "1")).toBe(true)
        const kinds = (yield* grok.arrivals).map((a) => a.kind)
        expect(kinds.filter((k) => k === "rate-limited").length).toBe(5)
      })
    )

    it.scoped("does not count rejected requests against the quota", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({ requestsPerMinute: 2, burst: 2 })
        const replies = yield* burst(grok, 6)
        expect(replies.filter((r) => r.status === 200).length).toBe(2)
        const later = yield* burst(grok, 3)
        expect(later.every((r) => r.status === 429)).toBe(true)
        expect(json(later[0]!)).toMatchObject({
          error: expect.stringContaining("Requests per Minute (actual/limit): 3/2")
        })
      })
    )

    it.scoped("sends Retry-After as an HTTP date when asked", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({ requestsPerMinute: 1, retryAfter: "date" })
        yield* chat(grok)
        const reply = yield* chat(grok)
        expect(reply.status).toBe(429)
        const date = Date.parse(reply.headers.get("retry-after") ?? "")
        expect(date - Date.now()).toBeGreaterThan(55_000)
        expect(date - Date.now()).toBeLessThanOrEqual(61_000)
        expect(reply.headers.get("retry-after-ms")).toBeNull()
      })
    )

    it.scoped("sends retry-after-ms and no Retry-After when asked", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({ requestsPerSecond: 1, retryAfter: "ms" })
        yield* chat(grok)
        const reply = yield* chat(grok)
        expect(reply.status).toBe(429)
        const ms = Number(reply.headers.get("retry-after-ms"))
        expect(ms).toBeGreaterThan(0)
        expect(ms).toBeLessThanOrEqual(1000)
        expect(reply.headers.get("retry-after")).toBeNull()
      })
    )

    it.scoped("sends no wait header and a generic body when asked", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({ requestsPerSecond: 1, retryAfter: "none", limitInBody: false })
        yield* chat(grok)
        const reply = yield* chat(grok)
        expect(reply.status).toBe(429)
        expect(reply.headers.get("retry-after")).toBeNull()
        expect(reply.headers.get("retry-after-ms")).toBeNull()
        expect(json(reply)).toEqual({ code: "Some resource has been exhausted", error: "Too many requests" })
      })
    )

    it.scoped("rejects a request that would exceed the tokens per minute, naming the token limit", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({ tokensPerMinute: 20 })
        const prompt = "x".repeat(30)
        const first = yield* chat(grok, prompt)
        expect(first.status).toBe(200)
        const second = yield* chat(grok, prompt)
        expect(second.status).toBe(429)
        expect(json(second)).toMatchObject({
          error: expect.stringMatching(/Tokens per Minute \(actual\/limit\): \d+\/20/)
        })
        expect(Number(second.headers.get("retry-after"))).toBeGreaterThanOrEqual(59)
      })
    )

    it.scoped("sends x-ratelimit headers with Go durations on every answer", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({
          requestsPerMinute: 60,
          burst: 3,
          tokensPerMinute: 10_000,
          rateLimitHeaders: true
        })
        const first = yield* chat(grok)
        expect(first.headers.get("x-ratelimit-limit-requests")).toBe("3")
        expect(first.headers.get("x-ratelimit-remaining-requests")).toBe("2")
        expect(first.headers.get("x-ratelimit-reset-requests")).toBe("1s")
        expect(first.headers.get("x-ratelimit-limit-tokens")).toBe("10000")
        const used = Either.getOrThrow(GrokApi.decodeChatCompletion(json(first))).usage!.total_tokens
        expect(first.headers.get("x-ratelimit-remaining-tokens")).toBe(String(10_000 - used))
        expect(first.headers.get("x-ratelimit-reset-tokens")).toMatch(/^(59(\.\d+)?s|1m0s)$/)
        const rest = yield* burst(grok, 3)
        const limited = rest.find((r) => r.status === 429)!
        expect(limited.headers.get("x-ratelimit-remaining-requests")).toBe("0")
      })
    )

    it.scoped("resets the quota and the script when the scenario is replaced", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({ requestsPerMinute: 1, script: ["503"] })
        expect((yield* chat(grok)).status).toBe(503)
        expect((yield* chat(grok)).status).toBe(200)
        expect((yield* chat(grok)).status).toBe(429)
        yield* grok.setScenario({ requestsPerMinute: 1, script: ["503"], apiKey: "other-key" })
        expect(grok.apiKey).toBe("other-key")
        expect((yield* chat(grok)).status).toBe(503)
        expect((yield* chat(grok)).status).toBe(200)
      })
    )
  })

  describe("arrivals", () => {
    it.scoped("logs every request with its status, kind, prompt, path and request id", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.make({ script: ["502"] })
        const failed = yield* chat(grok, "first")
        const ok = yield* chat(grok, "second")
        yield* request(`${grok.url}/models`, { headers: { authorization: `Bearer ${grok.apiKey}` } })
        const arrivals = yield* grok.arrivals
        expect(arrivals).toMatchObject([
          { status: 502, kind: "script", prompt: "first", path: "/v1/chat/completions" },
          { status: 200, kind: "ok", prompt: "second", path: "/v1/chat/completions" },
          { status: 200, kind: "ok", path: "/v1/models" }
        ])
        expect(arrivals[0]!.requestId).toBe(failed.headers.get("x-request-id"))
        expect(arrivals[1]!.requestId).toBe(ok.headers.get("x-request-id"))
        expect(arrivals[0]!.atMillis).toBeLessThanOrEqual(arrivals[1]!.atMillis)
        yield* grok.clearArrivals
        expect(yield* grok.arrivals).toEqual([])
      })
    )
  })

  describe("lifecycle", () => {
    it.scoped("provides the server through a layer", () =>
      Effect.gen(function* () {
        const grok = yield* FakeGrok.FakeGrok
        expect(grok.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/)
        expect((yield* chat(grok)).status).toBe(200)
      }).pipe(Effect.provide(FakeGrok.layer()))
    )

    it.effect("closes the server and its open connections when the scope closes", () =>
      Effect.gen(function* () {
        const { grok, pending } = yield* Effect.scoped(
          Effect.gen(function* () {
            const grok = yield* FakeGrok.make({ script: ["slow"], slowMillis: 60_000 })
            const pending = fetch(`${grok.url}/chat/completions`, {
              method: "POST",
              headers: { authorization: `Bearer ${grok.apiKey}` },
              body: JSON.stringify({ model: "grok-4", messages: [{ role: "user", content: "wait" }] })
            })
            yield* Effect.promise(async () => {
              while ((await Effect.runPromise(grok.arrivals)).length === 0) await new Promise((r) => setImmediate(r))
            })
            return { grok, pending }
          })
        )
        const hanging = yield* Effect.either(Effect.tryPromise(() => pending))
        expect(Either.isLeft(hanging)).toBe(true)
        const after = yield* Effect.either(chat(grok))
        expect(Either.isLeft(after)).toBe(true)
      })
    )

    it.effect("starts and closes a server outside a scope", () =>
      Effect.gen(function* () {
        const server = yield* Effect.promise(() => FakeGrok.start({ apiKey: "k-1234" }))
        expect(server.apiKey).toBe("k-1234")
        expect((yield* chat(server)).status).toBe(200)
        yield* Effect.promise(() => server.close())
        yield* Effect.promise(() => server.close())
      })
    )
  })

  describe("decodeScenario", () => {
    it("accepts a valid scenario", () => {
      const scenario = FakeGrok.decodeScenario({
        requestsPerSecond: 20,
        burst: 5,
        script: ["503", 503, "ok", "quota-exhausted-429"],
        faults: ["reset", "html"],
        outages: [{ fromMillis: 0, toMillis: 100 }]
      })
      expect(Either.isRight(scenario)).toBe(true)
    })

    it("rejects bad input with a message naming the problem", () => {
      const wrongType = FakeGrok.decodeScenario({ requestsPerSecond: "fast" })
      expect(Either.isLeft(wrongType) && wrongType.left).toContain("requestsPerSecond")
      const misspelt = FakeGrok.decodeScenario({ requestPerSecond: 20 })
      expect(Either.isLeft(misspelt) && misspelt.left).toContain("requestPerSecond")
      const badFault = FakeGrok.decodeScenario({ faults: ["explode"] })
      expect(Either.isLeft(badFault) && badFault.left).toContain("faults")
      const badRate = FakeGrok.decodeScenario({ faultRate: 2 })
      expect(Either.isLeft(badRate)).toBe(true)
      const badOutage = FakeGrok.decodeScenario({ outages: [{ fromMillis: 10, toMillis: 5 }] })
      expect(Either.isLeft(badOutage) && badOutage.left).toContain("fromMillis <= toMillis")
      expect(Either.isLeft(FakeGrok.decodeScenario("nope"))).toBe(true)
    })
  })

  describe("request bucket", () => {
    it("never admits more than burst + rate × T in any window and agrees with its remaining count", () => {
      for (const seed of [1, 2, 3, 4, 5]) {
        const random = prng(seed)
        const bucket = Quota.bucket(50, 5, 1000.123)
        const admitted: Array<number> = []
        const mismatches: Array<string> = []
        let now = 1000.123
        for (let i = 0; i < 2000; i++) {
          now += random() < 0.3 ? 0 : random() * 40
          const remaining = Quota.bucketRemaining(bucket, now)
          const admit = Quota.bucketWait(bucket, now) === 0
          if (admit !== remaining >= 1) mismatches.push(`at ${now}: admit ${admit}, remaining ${remaining}`)
          if (admit) {
            Quota.bucketTake(bucket, now)
            admitted.push(now)
          }
        }
        expect(mismatches).toEqual([])
        const excess: Array<string> = []
        for (let i = 0; i < admitted.length; i++) {
          for (let j = i; j < Math.min(admitted.length, i + 60); j++) {
            const allowed = 5 + ((admitted[j]! - admitted[i]!) * 20) / 1000 + 1e-6
            if (j - i + 1 > allowed) excess.push(`${j - i + 1} admitted in ${admitted[j]! - admitted[i]!} ms`)
          }
        }
        expect(excess).toEqual([])
        // Arrivals outpace the rate, so the bucket stays saturated: it admits the full rate over the run.
        expect(admitted.length).toBeGreaterThanOrEqual(Math.floor(((now - 1000.123) * 20) / 1000))
      }
    })
  })

  describe("token window", () => {
    it("sums a sliding minute and says how long until a request fits", () => {
      const log = Quota.timeLog(60_000)
      Quota.logAdd(log, 10, 0)
      Quota.logAdd(log, 20, 1000)
      Quota.logAdd(log, 30, 2000)
      expect(Quota.logSum(log, 2000)).toBe(60)
      expect(Quota.logSum(log, 2000, 1500)).toBe(50)
      expect(Quota.logWait(log, 0, 60, 2000)).toBe(0)
      expect(Quota.logWait(log, 15, 60, 2000)).toBe(59_000)
      expect(Quota.logWait(log, 100, 60, 2000)).toBe(60_000)
      expect(Quota.logReset(log, 2000)).toBe(60_000)
      expect(Quota.logSum(log, 61_000)).toBe(30)
      expect(Quota.logSum(log, 62_000)).toBe(0)
      expect(Quota.logReset(log, 62_000)).toBe(0)
    })

    it("keeps its sums right when it compacts old entries", () => {
      const log = Quota.timeLog(60_000)
      for (let t = 0; t < 3000; t++) Quota.logAdd(log, 1, t)
      expect(Quota.logSum(log, 62_000.5)).toBe(999)
      expect(Quota.logSum(log, 62_500.5)).toBe(499)
      Quota.logAdd(log, 5, 62_600)
      expect(Quota.logSum(log, 62_600)).toBe(404)
    })
  })

  describe("Go durations", () => {
    it("formats milliseconds like Go's time.Duration", () => {
      expect([0, 20, 1.5, 1000, 1500, 59_250, 59_999.8, 360_000, 90_500, 3_600_000].map(Quota.goDuration)).toEqual([
        "0s",
        "20ms",
        "1.5ms",
        "1s",
        "1.5s",
        "59.25s",
        "1m0s",
        "6m0s",
        "1m30.5s",
        "1h0m0s"
      ])
    })
  })
})
