import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import * as FakeGrok from "../src/testing/FakeGrok.js"
import type { Exchange, Front, Reply } from "./support/fake.js"
import { chatBody, framesOf, inProcess, responsesBody, send, socket } from "./support/fake.js"

/** A scenario that exercises every rule at once: script, faults, stream faults, request quota, headers. */
const scenario: FakeGrok.Scenario = {
  script: [503, "html", 429, "stream-cut", "ok", "quota-exhausted-403"],
  faultRate: 0.3,
  faults: ["500", "truncated", "error-200", "reset", "html"],
  streamFaultRate: 0.5,
  streamFaults: ["stream-cut", "stream-error-event", "stream-json-error"],
  streamFaultAfter: 1,
  requestsPerMinute: 1,
  burst: 14,
  tokensPerMinute: 100_000,
  rateLimitHeaders: true,
  reasoningTokens: 3,
  seed: 5
}

const exchanges: ReadonlyArray<Exchange> = [
  ...Array.from({ length: 28 }, (_, i): Exchange => {
    const prompt = `prompt number ${i}`
    switch (i % 4) {
      case 0:
        return { path: "/chat/completions", body: chatBody(prompt) }
      case 1:
        return { path: "/chat/completions", body: chatBody(prompt, { stream: true }) }
      case 2:
        return { path: "/responses", body: responsesBody(prompt) }
      default:
        return { path: "/responses", body: responsesBody(prompt, { stream: true }) }
    }
  }),
  { path: "/models" },
  { path: "/embeddings", body: {} },
  { path: "/chat/completions", body: chatBody(), key: "wrong-key" }
]

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g

/** Ids are random and `created` is the clock: both are blanked; everything else must agree. */
const normalize = (value: unknown, key?: string): unknown => {
  if (key === "created" || key === "created_at") return "<time>"
  if (typeof value === "string") return value.replace(UUID, "<id>")
  if (Array.isArray(value)) return value.map((item) => normalize(item))
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v, k)]))
  }
  return value
}

const parsed = (text: string): unknown => {
  try {
    return normalize(JSON.parse(text))
  } catch {
    return `<not JSON: ${text.length} characters>`
  }
}

/** The socket's waits shrink with the wall-clock time the run took; in process no time passes. Whole seconds. */
const retryAfterOf = (answer: unknown): number | undefined =>
  typeof answer === "object" && answer !== null && "retryAfter" in answer && typeof answer.retryAfter === "string"
    ? Number(answer.retryAfter)
    : undefined

const summary = (reply: Reply) => ({
  status: reply.status,
  contentType: reply.headers["content-type"],
  retryAfter: reply.headers["retry-after"],
  remainingRequests: reply.headers["x-ratelimit-remaining-requests"],
  remainingTokens: reply.headers["x-ratelimit-remaining-tokens"],
  body: reply.headers["content-type"]?.startsWith("text/event-stream")
    ? framesOf(reply.text).map((frame) => ({ event: frame.event, data: parsed(frame.data) }))
    : parsed(reply.text)
})

const transcript = (front: Front) =>
  Effect.gen(function* () {
    const answers: Array<unknown> = []
    for (const exchange of exchanges) {
      const reply = yield* Effect.either(send(exchange))
      answers.push(reply._tag === "Right" ? summary(reply.right) : `${reply.left._tag}: ${reply.left.reason}`)
    }
    const kinds = (yield* Effect.flatMap(FakeGrok.FakeGrok, (fake) => fake.arrivals)).map((a) => a.kind)
    return { answers, kinds }
  }).pipe(Effect.provide(front.layer(scenario)))

describe("FakeGrok front ends", () => {
  it.effect("give the same answers to the same scenario over the socket and in process", () =>
    Effect.gen(function* () {
      const started = performance.now()
      const overSocket = yield* transcript(socket)
      const socketSeconds = Math.ceil((performance.now() - started) / 1000)
      // In process on a TestClock set to now: no time passes there, and `created` fields have as many digits.
      yield* TestClock.setTime(Date.now())
      const inside = yield* transcript(inProcess)
      // Over the socket a Retry-After shrinks with the wall-clock time the run took.
      const aligned = overSocket.answers.map((answer, i) => {
        const socketWait = retryAfterOf(answer)
        const insideWait = retryAfterOf(inside.answers[i])
        if (socketWait === undefined || insideWait === undefined) return answer
        expect(insideWait - socketWait).toBeGreaterThanOrEqual(0)
        expect(insideWait - socketWait).toBeLessThanOrEqual(socketSeconds)
        return { ...(answer as object), retryAfter: String(insideWait) }
      })
      expect(inside).toEqual({ ...overSocket, answers: aligned })
      // The scenario is rich enough to matter: every outcome below occurred.
      const kinds = new Set(overSocket.kinds)
      for (const kind of ["script", "ok", "rate-limited", "reset", "auth", "invalid"]) expect(kinds).toContain(kind)
      expect([...kinds].some((kind) => kind.startsWith("stream-"))).toBe(true)
      expect(overSocket.answers).toContain("RequestError: Transport")
    })
  )
})
