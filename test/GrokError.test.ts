import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { readFileSync } from "node:fs"
import * as GrokError from "../src/GrokError.js"

interface RecordedError {
  readonly status: number
  readonly expect: GrokError.GrokErrorTag
  readonly source: string
  readonly body: unknown
}

const recorded: ReadonlyArray<RecordedError> = JSON.parse(
  readFileSync(new URL("./fixtures/xai/error-bodies.json", import.meta.url), "utf8")
)

const classifyBody = (status: number, body: string, headers: Record<string, string> = {}) =>
  GrokError.classify({ status, headers, body, nowMillis: 0 })

const leftOf = (result: Either.Either<unknown, GrokError.GrokError>): GrokError.GrokError => {
  if (Either.isRight(result)) throw new Error(`expected an error, got ${JSON.stringify(result.right)}`)
  return result.left
}

describe("classify", () => {
  for (const fixture of recorded) {
    it(`classifies ${fixture.status} from ${fixture.source} as ${fixture.expect}`, () => {
      const error = leftOf(classifyBody(fixture.status, JSON.stringify(fixture.body)))
      expect(error._tag).toBe(fixture.expect)
      expect(error.status).toBe(fixture.status)
      expect(error.detail?.length).toBeGreaterThan(0)
    })
  }

  it("reads which limit a 429 hit and its numbers from the xAI body", () => {
    const fixture = recorded.find((r) => r.expect === "RateLimited")!
    const error = leftOf(classifyBody(429, JSON.stringify(fixture.body), { "retry-after": "2" }))
    expect(error._tag === "RateLimited" && [error.limit, error.hint?.limit, error.retryAfterMillis]).toEqual([
      "tokens",
      16000,
      2000
    ])
  })

  it("takes the wait of a 429 from the reset of the window that ran out when Retry-After is absent", () => {
    const error = leftOf(
      classifyBody(429, `{"error":"Too many requests"}`, {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1.5s",
        "x-ratelimit-remaining-tokens": "900"
      })
    )
    expect(error._tag === "RateLimited" && [error.limit, error.retryAfterMillis]).toEqual(["requests", 1500])
  })

  it("lets x-should-retry: false make a 503 non-retryable", () => {
    const error = leftOf(classifyBody(503, `{"error":"busy"}`, { "x-should-retry": "false" }))
    expect(error._tag).toBe("Transient")
    expect(error.isRetryable).toBe(false)
  })

  it("lets x-should-retry: true make a 409 retryable and a 400 retryable", () => {
    expect(leftOf(classifyBody(400, `{"error":"flaky"}`, { "x-should-retry": "true" })).isRetryable).toBe(true)
    expect(leftOf(classifyBody(409, `{"error":"conflict"}`, { "X-Should-Retry": "TRUE" })).isRetryable).toBe(true)
  })

  it("maps a 200 that is not JSON to Transient(MalformedBody) and an HTML 200 to Transient(HtmlBody)", () => {
    expect(leftOf(classifyBody(200, `{"id":"abc","choi`))).toMatchObject({ _tag: "Transient", reason: "MalformedBody" })
    expect(leftOf(classifyBody(200, "<!DOCTYPE html><html><body>oops</body></html>"))).toMatchObject({
      _tag: "Transient",
      reason: "HtmlBody"
    })
  })

  it("maps a redirect to a Validation that names the location, and an unknown 4xx like 418 to Validation", () => {
    const redirect = leftOf(
      GrokError.classify({ status: 302, headers: { location: "https://elsewhere.test/v1" }, body: "", nowMillis: 0 })
    )
    expect(redirect).toMatchObject({ _tag: "Validation", reason: "Redirected", status: 302 })
    expect(redirect.message).toContain("https://elsewhere.test/v1")
    expect(redirect.isRetryable).toBe(false)
    expect(leftOf(classifyBody(599, "")).isRetryable).toBe(true)
    expect(leftOf(classifyBody(418, `{"error":"teapot"}`))._tag).toBe("Validation")
  })

  it("accepts a success body and returns its JSON", () => {
    const body = readFileSync(new URL("./fixtures/xai/xai-text.json", import.meta.url), "utf8")
    const result = classifyBody(200, body)
    expect(Either.isRight(result) && (result.right as { id: string }).id).toBe("2af5c888-e886-6dcb-7844-95f8fe010b00")
  })

  it("keeps the request id and truncates a huge body", () => {
    const error = leftOf(classifyBody(500, "x".repeat(50_000), { "x-request-id": "req-123" }))
    expect(error.requestId).toBe("req-123")
    expect(error.body!.length).toBeLessThan(2_100)
  })

  it("never lets the API key into an error, even when the server echoes it", () => {
    const key = "xai-SECRETSECRETSECRET123"
    const error = leftOf(
      GrokError.classify({
        status: 400,
        headers: { "x-request-id": `id ${key}` },
        body: JSON.stringify({ code: "x", error: `Incorrect API key provided: ${key}` }),
        nowMillis: 0,
        secrets: [key]
      })
    )
    expect(error._tag).toBe("AuthError")
    expect(JSON.stringify(error)).not.toContain(key)
    expect(error.message).not.toContain(key)
    expect(String(error)).not.toContain(key)
  })

  it("writes messages a person can act on", () => {
    expect(new GrokError.AuthError({ reason: "InvalidKey", status: 400 }).message).toContain("XAI_API_KEY")
    expect(new GrokError.QuotaExhausted({ status: 403 }).message).toContain("credits")
    expect(new GrokError.Rejected({ reason: "QueueFull" }).message).toContain("queue is full")
    expect(new GrokError.RateLimited({ limit: "tokens", retryAfterMillis: 1200, requestId: "r1" }).message).toBe(
      "Rate limited on tokens; the server asks to wait 1200 ms. Lower the request rate or configure the RateLimiter (request r1)"
    )
  })

  it("recognises its own errors", () => {
    expect(GrokError.isGrokError(new GrokError.Transient({ reason: "Timeout" }))).toBe(true)
    expect(GrokError.isGrokError(new Error("boom"))).toBe(false)
    expect(GrokError.isGrokError({ _tag: "Transient" })).toBe(false)
  })

  it("reads key and credit wording only where xAI uses it, so a 5xx or a field named api_key is not misread", () => {
    expect(
      leftOf(classifyBody(500, `{"error":"failed to fetch credit balance: spending limit service down"}`))._tag
    ).toBe("Transient")
    expect(leftOf(classifyBody(400, `{"error":"tools[0].function: missing api_key property"}`))._tag).toBe("Validation")
    expect(leftOf(classifyBody(503, `{"error":"invalid api key cache, try again"}`))._tag).toBe("Transient")
  })

  it("maps a new team without credits (403) and a 402 to QuotaExhausted", () => {
    const noCredits = `{"code":"permission-denied","error":"Your newly created team doesn't have any credits yet. You can purchase credits on https://console.x.ai."}`
    expect(leftOf(classifyBody(403, noCredits))._tag).toBe("QuotaExhausted")
    expect(leftOf(classifyBody(402, `{"error":"Payment required"}`))._tag).toBe("QuotaExhausted")
  })

  it("keeps the Retry-After of a 503 on the Transient error", () => {
    const error = leftOf(classifyBody(503, `{"error":"overloaded"}`, { "retry-after": "30" }))
    expect(error._tag === "Transient" && error.retryAfterMillis).toBe(30_000)
  })

  it("scrubs a secret before truncating, so a key cut at the limit leaves no prefix behind", () => {
    const secret = "sk-live-0123456789abcdef"
    const error = leftOf(
      GrokError.classify({
        status: 500,
        headers: {},
        body: "x".repeat(1_995) + secret,
        nowMillis: 0,
        secrets: [secret]
      })
    )
    expect(error.body).not.toContain("sk-li")
  })
})
