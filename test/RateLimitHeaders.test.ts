import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as RateLimitHeaders from "../src/RateLimitHeaders.js"

/** Wed, 21 Oct 2015 07:28:00 GMT */
const NOW = Date.UTC(2015, 9, 21, 7, 28, 0)

const TOKENS_TEXT =
  "Too many tokens for team 00000000-0000-0000-0000-000000000000 and model grok-4-0709. Your team's rate limit is " +
  "— Tokens per Minute (actual/limit): 65605/16000. You can view your team rate limits at https://console.x.ai."
const REQUESTS_TEXT = "Too many requests ... Requests per Second (actual/limit): 21/20"

describe("RateLimitHeaders", () => {
  describe("header", () => {
    it("finds a header whatever the case of its name", () => {
      expect(RateLimitHeaders.header({ "Retry-After": "3" }, "retry-after")).toBe("3")
      expect(RateLimitHeaders.header({ "retry-after": "3" }, "RETRY-AFTER")).toBe("3")
      expect(RateLimitHeaders.header({ "retry-after": "3" }, "x-request-id")).toBeUndefined()
    })

    it("joins the values of a repeated header with a comma", () => {
      expect(RateLimitHeaders.header({ ratelimit: ['"a";r=1', '"b";r=2'] }, "RateLimit")).toBe('"a";r=1, "b";r=2')
    })

    it("reads a WHATWG Headers object and ignores an invalid name", () => {
      const headers = new Headers({ "X-Request-Id": "req_1" })
      expect(RateLimitHeaders.header(headers, "x-request-id")).toBe("req_1")
      expect(RateLimitHeaders.header(headers, "not a name")).toBeUndefined()
    })
  })

  describe("Retry-After", () => {
    it("reads Retry-After delay-seconds, whole or decimal", () => {
      expect(RateLimitHeaders.parseRetryAfter("120", NOW)).toBe(120_000)
      expect(RateLimitHeaders.parseRetryAfter(" 1.5 ", NOW)).toBe(1500)
      expect(RateLimitHeaders.parseRetryAfter("0", NOW)).toBe(0)
    })

    it("reads a Retry-After HTTP-date relative to the given time", () => {
      expect(RateLimitHeaders.parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", NOW)).toBe(30_000)
      expect(RateLimitHeaders.parseRetryAfter("Wednesday, 21-Oct-15 07:29:00 GMT", NOW)).toBe(60_000)
      expect(RateLimitHeaders.parseRetryAfter("Wed Oct 21 07:28:05 2015", NOW)).toBe(5000)
    })

    it("turns a Retry-After date in the past into no wait at all", () => {
      expect(RateLimitHeaders.parseRetryAfter("Tue, 20 Oct 2015 07:28:00 GMT", NOW)).toBe(0)
    })

    it("rejects malformed Retry-After values", () => {
      for (const value of ["", "-1", "soon", "Infinity", "NaN", "1e3", "1e13", "Wed, 31 Feb 2015 07:28:30 GMT", "١٢"]) {
        expect(RateLimitHeaders.parseRetryAfter(value, NOW)).toBeUndefined()
      }
    })

    it("reads retry-after-ms and x-should-retry", () => {
      expect(RateLimitHeaders.parseRetryAfterMs("250")).toBe(250)
      expect(RateLimitHeaders.parseRetryAfterMs("-5")).toBeUndefined()
      expect(RateLimitHeaders.parseShouldRetry(" TRUE ")).toBe(true)
      expect(RateLimitHeaders.parseShouldRetry("false")).toBe(false)
      expect(RateLimitHeaders.parseShouldRetry("yes")).toBeUndefined()
    })
  })

  describe("parseDuration", () => {
    it("reads Go durations and bare seconds as milliseconds", () => {
      const cases: Array<[string, number]> = [
        ["1s", 1000],
        ["6m0s", 360_000],
        ["20ms", 20],
        ["1h2m3.5s", 3_723_500],
        ["0.5s", 500],
        ["1.1s", 1100],
        ["250us", 0.25],
        ["250µs", 0.25],
        ["100ns", 0.0001],
        ["30", 30_000],
        ["0.5", 500]
      ]
      for (const [value, millis] of cases) expect(RateLimitHeaders.parseDuration(value)).toBe(millis)
    })

    it("rejects malformed durations", () => {
      for (const value of ["", "s", "1x", "-1s", "1s ms", "Infinity", "1e400", "99999999999999h"]) {
        expect(RateLimitHeaders.parseDuration(value)).toBeUndefined()
      }
    })
  })

  describe("parse", () => {
    it("gives an empty info for headers that say nothing about pacing", () => {
      expect(RateLimitHeaders.parse({}, NOW)).toStrictEqual({})
      expect(RateLimitHeaders.parse({ "content-type": "application/json" }, NOW)).toStrictEqual(RateLimitHeaders.empty)
    })

    it("reads Retry-After seconds into retryAfterMillis", () => {
      expect(RateLimitHeaders.parse({ "retry-after": "7" }, NOW)).toStrictEqual({ retryAfterMillis: 7000 })
    })

    it("reads a Retry-After HTTP-date into retryAfterMillis", () => {
      const info = RateLimitHeaders.parse({ "retry-after": "Wed, 21 Oct 2015 07:28:10 GMT" }, NOW)
      expect(info).toStrictEqual({ retryAfterMillis: 10_000 })
    })

    it("prefers retry-after-ms over Retry-After, and falls back when it is malformed", () => {
      expect(RateLimitHeaders.parse({ "retry-after": "2", "retry-after-ms": "1234" }, NOW)).toStrictEqual({
        retryAfterMillis: 1234
      })
      expect(RateLimitHeaders.parse({ "retry-after": "2", "retry-after-ms": "junk" }, NOW)).toStrictEqual({
        retryAfterMillis: 2000
      })
    })

    it("reads x-should-retry", () => {
      expect(RateLimitHeaders.parse({ "x-should-retry": "false" }, NOW)).toStrictEqual({ shouldRetry: false })
      expect(RateLimitHeaders.parse({ "x-should-retry": "maybe" }, NOW)).toStrictEqual({})
    })

    it("reads OpenAI-style x-ratelimit-* headers for requests and tokens, the limit as a quota per minute", () => {
      const info = RateLimitHeaders.parse(
        {
          "x-ratelimit-limit-requests": "60",
          "x-ratelimit-remaining-requests": "59",
          "x-ratelimit-reset-requests": "1s",
          "x-ratelimit-limit-tokens": "150000",
          "x-ratelimit-remaining-tokens": "149984",
          "x-ratelimit-reset-tokens": "6m0s"
        },
        NOW
      )
      expect(info).toStrictEqual({
        requests: { limit: 60, remaining: 59, resetMillis: 1000, periodMillis: 60_000 },
        tokens: { limit: 150_000, remaining: 149_984, resetMillis: 360_000, periodMillis: 60_000 }
      })
      expect(RateLimitHeaders.parse({ "x-ratelimit-reset-tokens": "20ms" }, NOW)).toStrictEqual({
        tokens: { resetMillis: 20 }
      })
    })

    it("reads legacy X-RateLimit-* with a delta-seconds reset", () => {
      const info = RateLimitHeaders.parse(
        { "X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "45" },
        NOW
      )
      expect(info).toStrictEqual({ requests: { limit: 100, remaining: 0, resetMillis: 45_000 } })
    })

    it("reads legacy X-RateLimit-Reset as epoch seconds when it is past 1e9, never negative", () => {
      const in90s = String(NOW / 1000 + 90)
      expect(RateLimitHeaders.parse({ "X-RateLimit-Reset": in90s }, NOW)).toStrictEqual({
        requests: { resetMillis: 90_000 }
      })
      expect(RateLimitHeaders.parse({ "X-RateLimit-Reset": String(NOW / 1000 - 90) }, NOW)).toStrictEqual({
        requests: { resetMillis: 0 }
      })
    })

    it("lets OpenAI-style requests headers win over legacy ones", () => {
      const info = RateLimitHeaders.parse({ "x-ratelimit-remaining-requests": "5", "x-ratelimit-remaining": "9" }, NOW)
      expect(info).toStrictEqual({ requests: { remaining: 5 } })
    })

    it("reads the IETF RateLimit and RateLimit-Policy fields, taking the lowest remaining and its policy's window", () => {
      expect(
        RateLimitHeaders.parse({ RateLimit: '"default";r=50;t=30', "RateLimit-Policy": '"permin";q=50;w=60' }, NOW)
      ).toStrictEqual({ requests: { limit: 50, remaining: 50, resetMillis: 30_000, periodMillis: 60_000 } })
      const several = RateLimitHeaders.parse(
        {
          RateLimit: '"permin";r=40;t=12, "daily";r=3;t=3600',
          "RateLimit-Policy": '"permin";q=50;w=60, "daily";q=1000;w=86400'
        },
        NOW
      )
      expect(several).toStrictEqual({
        requests: { limit: 1000, remaining: 3, resetMillis: 3_600_000, periodMillis: 86_400_000 }
      })
    })

    it("reads the older RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset trio", () => {
      const info = RateLimitHeaders.parse(
        { "RateLimit-Limit": "10, 10;w=1", "RateLimit-Remaining": "4", "RateLimit-Reset": "2" },
        NOW
      )
      expect(info).toStrictEqual({ requests: { limit: 10, remaining: 4, resetMillis: 2000 } })
    })

    it("matches header names case-insensitively", () => {
      const info = RateLimitHeaders.parse({ "RETRY-AFTER": "1", "X-RateLimit-Remaining-Tokens": "0" }, NOW)
      expect(info).toStrictEqual({ retryAfterMillis: 1000, tokens: { remaining: 0 } })
    })

    it("reads a WHATWG Headers object", () => {
      const headers = new Headers({
        "Retry-After-Ms": "150",
        "X-Should-Retry": "true",
        "x-ratelimit-reset-tokens": "1s"
      })
      expect(RateLimitHeaders.parse(headers, NOW)).toStrictEqual({
        retryAfterMillis: 150,
        shouldRetry: true,
        tokens: { resetMillis: 1000 }
      })
    })

    it("reads a plain object with array values, as Node gives", () => {
      const info = RateLimitHeaders.parse({ "retry-after": ["3"], "x-ratelimit-limit-requests": undefined }, NOW)
      expect(info).toStrictEqual({ retryAfterMillis: 3000 })
    })

    it("leaves out garbage values instead of throwing", () => {
      const info = RateLimitHeaders.parse(
        {
          "retry-after": "-3",
          "x-ratelimit-limit-requests": "NaN",
          "x-ratelimit-remaining-requests": "Infinity",
          "x-ratelimit-reset-requests": "1e13",
          "x-ratelimit-remaining-tokens": "١٠",
          RateLimit: '"x";r=-1;t=;q',
          "RateLimit-Reset": "99999999999999"
        },
        NOW
      )
      expect(info).toStrictEqual({})
    })
  })

  describe("body hints", () => {
    it("reads a tokens-per-minute limit from a real xAI 429 text", () => {
      expect(RateLimitHeaders.parseBodyLimitHint(TOKENS_TEXT)).toStrictEqual({
        kind: "tokens",
        per: "minute",
        actual: 65_605,
        limit: 16_000
      })
    })

    it("reads a requests-per-second limit from a real xAI 429 text", () => {
      expect(RateLimitHeaders.parseBodyLimitHint(REQUESTS_TEXT)).toStrictEqual({
        kind: "requests",
        per: "second",
        actual: 21,
        limit: 20
      })
    })

    it("finds no hint in an unrelated text", () => {
      expect(RateLimitHeaders.parseBodyLimitHint("Incorrect API key provided")).toBeUndefined()
    })

    it("gives the length of each hint window", () => {
      expect(["second", "minute", "hour", "day"].map((per) => RateLimitHeaders.windowMillis(per as never))).toEqual([
        1000, 60_000, 3_600_000, 86_400_000
      ])
    })
  })

  describe("properties", () => {
    const NAMES = [
      "retry-after",
      "retry-after-ms",
      "x-should-retry",
      "x-ratelimit-limit-requests",
      "x-ratelimit-remaining-requests",
      "x-ratelimit-reset-requests",
      "x-ratelimit-limit-tokens",
      "x-ratelimit-remaining-tokens",
      "x-ratelimit-reset-tokens",
      "x-ratelimit-limit",
      "x-ratelimit-remaining",
      "x-ratelimit-reset",
      "ratelimit",
      "ratelimit-policy",
      "ratelimit-limit",
      "ratelimit-remaining",
      "ratelimit-reset"
    ]
    const name = FastCheck.oneof(
      FastCheck.tuple(FastCheck.constantFrom(...NAMES), FastCheck.boolean()).map(([n, upper]) =>
        upper ? n.toUpperCase() : n
      ),
      FastCheck.string()
    )
    const text = FastCheck.oneof(
      FastCheck.string(),
      FastCheck.string({ unit: "grapheme" }),
      FastCheck.double().map(String),
      FastCheck.bigInt().map(String),
      FastCheck.date().map((date) => (Number.isNaN(date.getTime()) ? "Invalid Date" : date.toUTCString())),
      FastCheck.stringMatching(/^(\d{1,14}(\.\d{1,3})?(h|m|s|ms|us|ns)){1,4}$/),
      FastCheck.stringMatching(/^"\w{0,5}";r=-?\d{1,14};t=\d{0,14}(, "\w{0,5}";q=\d{1,14};w=\d{1,5})?$/)
    )
    const headers = FastCheck.dictionary(name, FastCheck.oneof(text, FastCheck.array(text, { maxLength: 3 })))
    const now = FastCheck.oneof(FastCheck.integer({ min: 0, max: 4_102_444_800_000 }), FastCheck.double())
    const isSane = (n: number | undefined) => n === undefined || (Number.isFinite(n) && n >= 0)
    const isRateLimitInfo = Schema.is(RateLimitHeaders.RateLimitInfo)

    it.prop("parse never throws and only yields finite non-negative numbers", [headers, now], ([input, nowMillis]) => {
      const info = RateLimitHeaders.parse(input, nowMillis)
      expect(isRateLimitInfo(info)).toBe(true)
      expect(JSON.stringify(info)).not.toContain("null")
      const windows = [info.requests, info.tokens].filter((w) => w !== undefined)
      for (const w of windows) expect(Object.values(w).length).toBeGreaterThan(0)
      for (const n of [info.retryAfterMillis, ...windows.flatMap((w) => Object.values(w))]) {
        expect(isSane(n)).toBe(true)
      }
      for (const value of [info, ...windows]) expect(Object.values(value)).not.toContain(undefined)
    })

    it.prop("parseDuration and parseRetryAfter only yield finite non-negative numbers", [text, now], ([value, n]) => {
      expect(isSane(RateLimitHeaders.parseDuration(value))).toBe(true)
      expect(isSane(RateLimitHeaders.parseRetryAfter(value, n))).toBe(true)
      expect(isSane(RateLimitHeaders.parseRetryAfterMs(value))).toBe(true)
    })

    it.prop("parseBodyLimitHint yields a valid hint or nothing", [text], ([message]) => {
      const hint = RateLimitHeaders.parseBodyLimitHint(`Too many requests: ${message}`)
      if (hint !== undefined) expect(Schema.is(RateLimitHeaders.BodyLimitHint)(hint)).toBe(true)
      expect(isSane(hint?.actual) && isSane(hint?.limit)).toBe(true)
    })

    it.prop(
      "reads back any HTTP-date rendered by Date#toUTCString",
      [FastCheck.integer({ min: 0, max: 253_402_300_799 }), FastCheck.integer({ min: 0, max: 253_402_300_799 })],
      ([dateSeconds, nowSeconds]) => {
        const date = new Date(dateSeconds * 1000).toUTCString()
        expect(RateLimitHeaders.parseRetryAfter(date, nowSeconds * 1000)).toBe(
          Math.max(0, (dateSeconds - nowSeconds) * 1000)
        )
      }
    )

    it.prop(
      "reads back any duration built from hours, minutes and seconds",
      [FastCheck.nat(1000), FastCheck.nat(59), FastCheck.nat(59)],
      ([h, m, s]) => {
        expect(RateLimitHeaders.parseDuration(`${h}h${m}m${s}s`)).toBe(((h * 60 + m) * 60 + s) * 1000)
      }
    )
  })
})
