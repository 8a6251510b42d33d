/**
 * The benchmark scenarios: what the fake Grok server enforces, what every contender sends, how the grok-resilience
 * limiter is configured, the ideal time and the targets.
 *
 * The request-rate scenarios share one quota (20 requests per second, burst 5: the issue's numbers) and differ in
 * what the server tells and what the limiter is told. The token scenario makes tokens per minute the only limit.
 */
import type { RateLimiter } from "../src/index.js"
import type { FakeGrok } from "../src/testing/index.js"

/**
 * The body every contender sends for call `index`: the same JSON for the grok-resilience client, the openai SDK and
 * the fetch loop.
 */
export type BenchRequest = {
  readonly model: string
  readonly messages: ReadonlyArray<{ readonly role: "user"; readonly content: string }>
  readonly max_completion_tokens?: number
}

export interface Target {
  /** Largest share of calls that may be answered 429 (0: none at all). */
  readonly max429Share: number
  /** Largest wall / ideal. */
  readonly maxWallRatio: number
  /** How the target reads in a table, e.g. "0 × 429, wall ≤ 1.05 × ideal". */
  readonly text: string
}

export interface Scenario {
  /** Short id, for `--only` and the tables. */
  readonly id: string
  readonly title: string
  /** One sentence: what the server does and what the limiter is told. */
  readonly description: string
  readonly server: FakeGrok.Scenario
  /**
   * Scenarios of one group differ only in what the openai SDK and the fetch loop never read (the text of 429
   * bodies): those contenders run once per group unless `--all-baselines` is given.
   */
  readonly baselineGroup: string
  readonly calls: number
  readonly concurrency: number
  readonly request: (index: number) => BenchRequest
  /** The grok-resilience limiter of this scenario. */
  readonly limiter: RateLimiter.Options
  /** Why the limiter is set up this way (printed in the docs). */
  readonly limiterNote: string
  readonly idealSeconds: number
  readonly idealFormula: string
  /** Another lower bound worth printing beside the ideal (the token scenario's sliding window). */
  readonly floor?: { readonly seconds: number; readonly text: string }
  readonly target: Target
}

const MODEL = "grok-4"

const short = (index: number): BenchRequest => ({
  model: MODEL,
  messages: [{ role: "user", content: `bench call ${index}` }]
})

/** The issue's quota: 20 requests per second, burst 5, `Retry-After` in whole seconds. */
const RATE = 20
const BURST = 5
const CALLS = 300
const CONCURRENCY = 30
/** The limiter's burst when it is told the quota (scenario 1): see its `limiterNote`. */
const LIMITER_BURST = 3
const requestIdeal = (CALLS - BURST) / RATE
const requestFormula = `(N − b) / r = (${CALLS} − ${BURST}) / ${RATE}`

const quota: FakeGrok.Scenario = { requestsPerSecond: RATE, burst: BURST, retryAfter: "seconds" }

const configured = (max429Share: number, maxWallRatio: number): Target => ({
  max429Share,
  maxWallRatio,
  text: `${max429Share === 0 ? "0 × 429" : `429 ≤ ${max429Share * 100}% of calls`}, wall ≤ ${maxWallRatio} × ideal`
})

/**
 * The token scenario. Every call is a 500-character prompt with `max_completion_tokens: 125`: the fake server
 * counts ⌈500/4⌉ + 1 = 126 prompt tokens and min(⌈506/4⌉, 125) = 125 completion tokens, 251 in all; the client
 * estimates ⌈500/4⌉ + 4 + 125 = 254 and settles to 251 from `usage`.
 *
 * The fake server keeps tokens in a sliding 60 s window (not a bucket), so tokens only bind once a run has spent
 * more than one minute's quota: 130 calls × 251 = 32,630 tokens against 30,000 per minute. A client that sends at
 * once gets 119 calls through and must hold the other 11 until the first ones leave the window, 60 s later; a
 * client that paces at 500 tokens/s needs (32,630 − 500) / 500 = 64.3 s. Tokens cannot bind in a shorter run
 * against a 60 s window: a run under a minute that spends less than the quota is never refused.
 */
const TPM = 30_000
const TOKEN_CALLS = 130
const TOKEN_PROMPT_CHARS = 500
const TOKEN_COMPLETION = 125
export const tokensPerCall =
  Math.ceil(TOKEN_PROMPT_CHARS / 4) +
  1 +
  Math.min(Math.ceil((TOKEN_PROMPT_CHARS + "echo: ".length) / 4), TOKEN_COMPLETION)
const tokenBurst = TPM / 60
const totalTokens = TOKEN_CALLS * tokensPerCall

const tokenRequest = (index: number): BenchRequest => {
  const head = `bench call ${index} `
  return {
    model: MODEL,
    messages: [{ role: "user", content: head + "x".repeat(TOKEN_PROMPT_CHARS - head.length) }],
    max_completion_tokens: TOKEN_COMPLETION
  }
}

export const scenarios: ReadonlyArray<Scenario> = [
  {
    id: "configured",
    baselineGroup: "requests",
    title: "1. Quota configured",
    description: `${RATE} req/s burst ${BURST}, Retry-After in seconds; the limiter is told the quota`,
    server: quota,
    calls: CALLS,
    concurrency: CONCURRENCY,
    request: short,
    limiter: { requestsPerSecond: RATE, burst: LIMITER_BURST },
    limiterNote:
      `requestsPerSecond ${RATE}, burst ${LIMITER_BURST}: the server's bucket starts at the first arrival, and the ` +
      "first calls arrive late (each opens a connection) while the next ones, on warm connections, arrive on time: " +
      `a burst of ${BURST} leaves no slack for that and draws 429s on most runs (each costs a 1 s Retry-After hold), ` +
      `a burst of ${BURST - 1} leaves ${1000 / RATE} ms and still drew one now and then; ${LIMITER_BURST} leaves ` +
      `${((BURST - LIMITER_BURST) * 1000) / RATE} ms and costs ${((BURST - LIMITER_BURST) * 1000) / RATE} ms of wall`,
    idealSeconds: requestIdeal,
    idealFormula: requestFormula,
    target: configured(0, 1.05)
  },
  {
    id: "adaptive-hint",
    baselineGroup: "requests",
    title: "2a. Adaptive, the 429 body names the limit",
    description: `${RATE} req/s burst ${BURST}; 429 bodies say "Requests per Second (actual/limit): n/${RATE}"; limiter {}`,
    server: { ...quota, limitInBody: true },
    calls: CALLS,
    concurrency: CONCURRENCY,
    request: short,
    limiter: {},
    limiterNote: "{} (adaptive: slow start from 2 req/s, then the limit read from the first 429 body)",
    idealSeconds: requestIdeal,
    idealFormula: requestFormula,
    target: configured(0.05, 1.15)
  },
  {
    id: "adaptive-blind",
    baselineGroup: "requests",
    title: "2b. Adaptive, the 429 body says nothing",
    description: `${RATE} req/s burst ${BURST}; 429 bodies say only "Too many requests"; limiter {}`,
    server: { ...quota, limitInBody: false },
    calls: CALLS,
    concurrency: CONCURRENCY,
    request: short,
    limiter: {},
    limiterNote: "{} (adaptive: slow start, then CUBIC on 429s)",
    idealSeconds: requestIdeal,
    idealFormula: requestFormula,
    target: configured(0.05, 1.15)
  },
  {
    id: "headers",
    baselineGroup: "headers",
    title: "3. Header-driven",
    description:
      `${RATE} req/s burst ${BURST}; x-ratelimit-{limit,remaining,reset}-requests on every answer with OpenAI's ` +
      "meaning (limit per minute), " +
      "429 bodies say nothing; limiter {}",
    server: { ...quota, rateLimitHeaders: true, limitInBody: false },
    calls: CALLS,
    concurrency: CONCURRENCY,
    request: short,
    limiter: {},
    limiterNote:
      "{} (adaptive: the rate read from x-ratelimit-limit-requests as a quota per minute; no more sends than the " +
      "newest x-ratelimit-remaining-requests allows)",
    idealSeconds: requestIdeal,
    idealFormula: requestFormula,
    target: configured(0.01, 1.12)
  },
  {
    id: "tokens",
    baselineGroup: "tokens",
    title: "4. Tokens per minute bind",
    description:
      `${TPM.toLocaleString("en-US")} tokens/min (sliding 60 s window), no request limit; ${TOKEN_CALLS} calls of ` +
      `${tokensPerCall} tokens = ${totalTokens.toLocaleString("en-US")} tokens; the limiter is told the TPM`,
    server: { tokensPerMinute: TPM, retryAfter: "seconds" },
    calls: TOKEN_CALLS,
    concurrency: CONCURRENCY,
    request: tokenRequest,
    limiter: { tokensPerMinute: TPM },
    limiterNote: `tokensPerMinute ${TPM} (token burst: the default, one second's worth = ${tokenBurst} tokens)`,
    idealSeconds: (totalTokens - tokenBurst) / (TPM / 60),
    idealFormula: `(T − token burst) / (TPM / 60) = (${totalTokens} − ${tokenBurst}) / ${TPM / 60}`,
    floor: {
      seconds: 60,
      text:
        "the server's sliding 60 s window lets the first minute's quota through at once and the rest only when it " +
        "leaves the window: no client can finish before 60 s"
    },
    target: configured(0, 1.05)
  }
]
