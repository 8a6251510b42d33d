import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { GrokClient, RetryPolicy } from "grok-resilience"
import * as Calls from "../src/calls.js"
import * as Control from "../src/control.js"
import * as Input from "../src/input.js"
import * as Journal from "../src/journal.js"
import * as Send from "../src/send.js"
import { Tally } from "../src/tally.js"
import { readResults, tempDir } from "./support.js"

const dir = tempDir()
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let n = 0

const completion = (content: string) =>
  JSON.stringify({
    id: "c",
    object: "chat.completion",
    created: 0,
    model: "grok-4",
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }
  })

/** One answer of the stub server, after a delay on the test clock. */
interface Answer {
  readonly afterMillis: number
  readonly status: number
  readonly body?: string
  readonly headers?: Record<string, string>
}

/** A run of the call handler against a stub HTTP server on the test clock, with a real journal. */
const setup = (
  answer: () => Answer,
  settings: { grace?: Duration.DurationInput; giveUpAfter?: Duration.DurationInput } = {}
) =>
  Effect.gen(function* () {
    let requests = 0
    const http = HttpClient.make((request) => {
      requests++
      const { afterMillis, status, body, headers } = answer()
      const response = new Response(body ?? completion("hi"), {
        status,
        headers: { "content-type": "application/json", ...headers }
      })
      return Effect.as(Effect.sleep(Duration.millis(afterMillis)), HttpClientResponse.fromWeb(request, response))
    })
    const tally = new Tally()
    const control = new Control.Control(
      {
        retry: RetryPolicy.make({ maxAttempts: 8 }),
        grace: Duration.decode(settings.grace ?? "5 seconds"),
        giveUpAfter: Duration.decode(settings.giveUpAfter ?? "10 minutes"),
        secrets: ["xai-secret-key"],
        notice: () => undefined
      },
      0
    )
    const client = yield* Layer.build(
      GrokClient.layer({ apiKey: Redacted.make("xai-secret-key"), baseUrl: "http://stub/v1" }).pipe(
        Layer.provide(Layer.succeed(HttpClient.HttpClient, Control.instrument(control, tally)(http)))
      )
    )
    const output = Path.join(dir, `calls-${n++}.jsonl`)
    const journal = yield* Journal.open(output, { fresh: true, retryFailed: false })
    const handle = Calls.handler(
      Send.make(Context.get(client, GrokClient.GrokClient), { stream: false }),
      journal,
      tally,
      control,
      yield* Effect.scope
    )
    const parse = Input.parser({ model: "grok-4" })
    const item = (id: string) =>
      parse({
        number: 1,
        text: JSON.stringify({ id, prompt: id }),
        start: 0,
        end: 0,
        terminated: true,
        fault: undefined
      })!
    return { handle, item, control, results: () => readResults(output), requests: () => requests }
  }).pipe(Effect.withRandom(Random.make(7)))

describe("Calls", () => {
  it.scoped("journals an answer on its way that arrives within the grace period after an interruption", () =>
    Effect.gen(function* () {
      const run = yield* setup(() => ({ afterMillis: 3000, status: 200 }))
      const call = yield* Effect.fork(run.handle(run.item("a")))
      yield* TestClock.adjust("1 second")
      const stopping = yield* Effect.fork(Fiber.interrupt(call))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(stopping)
      expect(run.control.draining).toBe(true)
      expect(run.results()).toMatchObject([{ id: "a", ok: true, content: "hi", attempts: 1 }])
      expect(run.control.abandoned).toBe(0)
    })
  )

  it.scoped("abandons an answer that does not come within the grace period, leaving the id for the resume", () =>
    Effect.gen(function* () {
      const run = yield* setup(() => ({ afterMillis: 10_000, status: 200 }), { grace: "5 seconds" })
      const call = yield* Effect.fork(run.handle(run.item("a")))
      yield* TestClock.adjust("1 second")
      const stopping = yield* Effect.fork(Fiber.interrupt(call))
      yield* TestClock.adjust("4999 millis")
      expect(stopping.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(stopping)
      expect(run.results()).toEqual([])
      expect(run.control.abandoned).toBe(1)
    })
  )

  it.scoped("abandons at once a call waiting for its retry, and starts no attempt once stopping", () =>
    Effect.gen(function* () {
      const run = yield* setup(() => ({ afterMillis: 0, status: 503, body: '{"error":"overloaded"}' }))
      const call = yield* Effect.fork(run.handle(run.item("a")))
      yield* TestClock.adjust("10 millis")
      expect(run.requests()).toBe(1)
      yield* Fiber.interrupt(call)
      yield* TestClock.adjust("1 minute")
      expect(run.requests()).toBe(1)
      expect(run.results()).toEqual([])
      expect(run.control.abandoned).toBe(1)
      // Seeded: the default policy's full jitter may draw a first backoff under 10 ms, which would retry in time.
    }).pipe(Effect.withRandom(Random.make("abandon-while-waiting")))
  )

  it.scoped("abandons, without another attempt, a call whose answer on its way asks for a retry", () =>
    Effect.gen(function* () {
      const run = yield* setup(() => ({ afterMillis: 2000, status: 503, body: '{"error":"overloaded"}' }))
      const call = yield* Effect.fork(run.handle(run.item("a")))
      yield* TestClock.adjust("1 second")
      const stopping = yield* Effect.fork(Fiber.interrupt(call))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(stopping)
      expect(run.requests()).toBe(1)
      expect(run.results()).toEqual([])
      expect(run.control.abandoned).toBe(1)
    })
  )

  it.scoped("stops calling once the server has answered 429 to every call for --give-up-after", () =>
    Effect.gen(function* () {
      const run = yield* setup(() => ({ afterMillis: 0, status: 429, headers: { "retry-after": "20" } }), {
        giveUpAfter: "30 seconds"
      })
      yield* Control.watchRefusals(run.control)
      const calls = yield* Effect.fork(
        Effect.all([run.handle(run.item("a")), run.handle(run.item("b"))], { concurrency: 2 })
      )
      yield* TestClock.adjust("29 seconds")
      expect(run.results()).toEqual([])
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(calls)
      yield* run.handle(run.item("c"))
      const results = run.results()
      expect(results.map((r) => [r.id, r.error?._tag, r.error?.reason])).toEqual([
        ["a", "RateLimited", "GaveUp"],
        ["b", "RateLimited", "GaveUp"],
        ["c", "RateLimited", "NotSent"]
      ])
      expect(results.map((r) => r.attempts)).toEqual([2, 2, 0])
      expect(results[0]?.error?.message).toContain("Gave up: the server answered 429 to every call for 30.0s")
    })
  )

  it.scoped("fails only that id when a call dies of a defect, without the key in the line", () =>
    Effect.gen(function* () {
      const run = yield* setup(() => {
        throw new RangeError("Maximum call stack size exceeded near Bearer xai-secret-key")
      })
      yield* run.handle(run.item("a"))
      const [line] = run.results()
      expect(line).toMatchObject({ id: "a", ok: false, error: { _tag: "Transient", reason: "Defect" } })
      expect(line?.error?.message).toContain("RangeError: Maximum call stack size exceeded")
      expect(JSON.stringify(line)).not.toContain("xai-secret-key")
    })
  )
})
