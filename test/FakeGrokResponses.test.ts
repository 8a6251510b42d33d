import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { readFileSync } from "node:fs"
import * as FakeGrok from "../src/testing/FakeGrok.js"
import type { Frame } from "./support/fake.js"
import { arrivalsUntil, framesOf, fronts, responsesBody, send } from "./support/fake.js"

const fixture = (name: string) => readFileSync(new URL(`./fixtures/xai/${name}`, import.meta.url), "utf8")

interface ResponseObject {
  readonly id: string
  readonly object: string
  readonly status: string
  readonly output: ReadonlyArray<{ readonly type: string; readonly content?: ReadonlyArray<{ readonly text: string }> }>
  readonly usage: Record<string, unknown>
}

const outputText = (response: ResponseObject) =>
  response.output
    .filter((item) => item.type === "message")
    .flatMap((item) => item.content ?? [])
    .map((part) => part.text)
    .join("")

const create = (body: unknown) =>
  Effect.map(send({ path: "/responses", body }), (reply) => ({ ...reply, json: JSON.parse(reply.text) }))

const events = (frames: ReadonlyArray<Frame>) => frames.map((frame) => JSON.parse(frame.data) as Record<string, any>)

/** Consecutive duplicates dropped: the shape of an event sequence, deltas counted once. */
const shape = (types: ReadonlyArray<string>) => types.filter((type, i) => type !== types[i - 1])

const lastArrival = Effect.map(
  Effect.flatMap(FakeGrok.FakeGrok, (fake) => fake.arrivals),
  (all) => all.at(-1)!
)

for (const front of fronts) {
  describe(`FakeGrok Responses API ${front.name}`, () => {
    it.effect("answers POST /v1/responses with a response object whose output text echoes the input", () =>
      Effect.gen(function* () {
        const reply = yield* create(responsesBody("What is 2+2?", { instructions: "Be brief." }))
        expect(reply.status).toBe(200)
        const response = reply.json as ResponseObject
        expect(response).toMatchObject({ object: "response", status: "completed", model: "grok-4" })
        expect(outputText(response)).toBe("echo: What is 2+2?")
        expect(response.usage).toMatchObject({
          input_tokens: Math.ceil(("What is 2+2?".length + "Be brief.".length) / 4) + 1,
          output_tokens: Math.ceil("echo: What is 2+2?".length / 4),
          cost_in_usd_ticks: expect.any(Number),
          num_server_side_tools_used: 0
        })
        expect(yield* lastArrival).toMatchObject({ method: "POST", path: "/v1/responses", prompt: "What is 2+2?" })
      }).pipe(Effect.provide(front.layer()))
    )

    it.effect("reads input items and answers with the top-level keys of the recorded xAI response", () =>
      Effect.gen(function* () {
        const input = [
          { role: "system", content: "Be brief." },
          { type: "message", role: "user", content: [{ type: "input_text", text: "an item prompt" }] }
        ]
        const response = (yield* create(responsesBody(input, { tools: [{ type: "web_search" }] }))).json
        expect(outputText(response)).toBe("echo: an item prompt")
        expect(response.tools).toEqual([{ type: "web_search" }])
        const recorded = JSON.parse(fixture("responses-web-search.json"))
        expect(Object.keys(response).sort()).toEqual(Object.keys(recorded).sort())
        expect(Object.keys(recorded.usage).every((key) => key in response.usage)).toBe(true)
      }).pipe(Effect.provide(front.layer()))
    )

    it.effect("keeps a stored response for GET and forgets it after DELETE", () =>
      Effect.gen(function* () {
        const created = (yield* create(responsesBody("keep me"))).json as ResponseObject
        const got = yield* send({ path: `/responses/${created.id}` })
        expect(got.status).toBe(200)
        expect(JSON.parse(got.text)).toEqual(created)
        const deleted = yield* send({ method: "DELETE", path: `/responses/${created.id}` })
        expect(JSON.parse(deleted.text)).toEqual({ id: created.id, object: "response", deleted: true })
        const gone = yield* send({ path: `/responses/${created.id}` })
        expect(gone.status).toBe(404)
        expect(JSON.parse(gone.text)).toMatchObject({ error: `Response with id ${created.id} not found.` })
        expect((yield* send({ method: "DELETE", path: `/responses/${created.id}` })).status).toBe(404)
      }).pipe(Effect.provide(front.layer()))
    )

    it.effect("stores nothing for store: false, and refuses a wrong key on the stored-response routes", () =>
      Effect.gen(function* () {
        const created = (yield* create(responsesBody("forget me", { store: false }))).json as ResponseObject
        expect((yield* send({ path: `/responses/${created.id}` })).status).toBe(404)
        const kept = (yield* create(responsesBody("keep me"))).json as ResponseObject
        const wrongKey = yield* send({ path: `/responses/${kept.id}`, key: "nope-nope" })
        expect(wrongKey.status).toBe(400)
        expect(JSON.parse(wrongKey.text)).toMatchObject({ error: expect.stringContaining("Incorrect API key") })
      }).pipe(Effect.provide(front.layer()))
    )

    it.effect("applies the scenario's script and request quota to the Responses endpoint as to chat", () =>
      Effect.gen(function* () {
        expect((yield* create(responsesBody())).status).toBe(503)
        expect((yield* create(responsesBody())).status).toBe(200)
        const limited = yield* create(responsesBody())
        expect(limited.status).toBe(429)
        expect(limited.headers["retry-after"]).toBe("60")
        expect(limited.json).toMatchObject({ error: expect.stringContaining("Requests per Minute") })
      }).pipe(Effect.provide(front.layer({ script: [503], requestsPerMinute: 1 })))
    )

    it.effect("refuses a Responses request without input with an invalid_request_error", () =>
      Effect.gen(function* () {
        const reply = yield* create({ model: "grok-4" })
        expect(reply.status).toBe(400)
        expect(reply.json).toMatchObject({ error: { type: "invalid_request_error", message: expect.any(String) } })
      }).pipe(Effect.provide(front.layer()))
    )

    it.effect("streams events named by their type, in the recorded order, ending in response.completed", () =>
      Effect.gen(function* () {
        const reply = yield* send({ path: "/responses", body: responsesBody("hello there", { stream: true }) })
        expect(reply.headers["content-type"]).toContain("text/event-stream")
        const frames = framesOf(reply.text)
        const payloads = events(frames)
        expect(frames.every((frame, i) => frame.event === payloads[i]!.type)).toBe(true)
        expect(payloads.map((p) => p.sequence_number)).toEqual(payloads.map((_, i) => i))
        const recorded = fixture("responses-text-reasoning.chunks.txt")
          .split("\n")
          .filter((line) => line !== "")
          .map((line) => JSON.parse(line).type as string)
        expect(shape(payloads.map((p) => p.type))).toEqual(shape(recorded))
        const deltas = payloads.filter((p) => p.type === "response.output_text.delta").map((p) => p.delta)
        expect(deltas.join("")).toBe("echo: hello there")
        const completed = payloads.at(-1)!.response as ResponseObject
        expect(outputText(completed)).toBe("echo: hello there")
        expect(completed.usage).toMatchObject({ output_tokens_details: { reasoning_tokens: 7 } })
        const stored = yield* send({ path: `/responses/${completed.id}` })
        expect(JSON.parse(stored.text)).toEqual(completed)
      }).pipe(Effect.provide(front.layer({ reasoningTokens: 7 })))
    )

    it.effect("cuts a Responses stream before its terminal event", () =>
      Effect.gen(function* () {
        const body = responsesBody("a longer prompt to stream", { stream: true })
        const payloads = events(framesOf((yield* send({ path: "/responses", body })).text))
        expect(payloads.length).toBe(4)
        expect(payloads.some((p) => p.type === "response.completed")).toBe(false)
      }).pipe(Effect.provide(front.layer({ script: ["stream-cut"], streamFaultAfter: 4 })))
    )

    it.effect("sends a Responses error event mid-stream, then ends the body", () =>
      Effect.gen(function* () {
        const body = responsesBody("a longer prompt to stream", { stream: true })
        const frames = framesOf((yield* send({ path: "/responses", body })).text)
        expect(frames.map((f) => f.event)).toEqual(["response.created", "response.in_progress", "error"])
        expect(JSON.parse(frames[2]!.data)).toMatchObject({
          type: "error",
          sequence_number: 2,
          code: "The service is currently unavailable",
          message: expect.any(String)
        })
      }).pipe(Effect.provide(front.layer({ script: ["stream-error-event"] })))
    )

    it.effect("answers a streamed Responses request with a JSON error body and HTTP 200", () =>
      Effect.gen(function* () {
        const reply = yield* send({ path: "/responses", body: responsesBody("x", { stream: true }) })
        expect(reply.status).toBe(200)
        expect(reply.headers["content-type"]).toContain("application/json")
        expect(JSON.parse(reply.text)).toMatchObject({ error: "Timed out waiting for first token" })
      }).pipe(Effect.provide(front.layer({ script: ["stream-json-error"] })))
    )

    it.effect("stalls a Responses stream until the client closes it", () =>
      Effect.gen(function* () {
        const reading = yield* Effect.fork(send({ path: "/responses", body: responsesBody("x", { stream: true }) }))
        yield* arrivalsUntil((all) => all[0]?.stream?.chunksSent === 2)
        yield* Fiber.interrupt(reading)
        const closed = yield* arrivalsUntil((all) => all[0]?.stream !== undefined && all[0].stream.state !== "open")
        expect(closed[0]).toMatchObject({ kind: "stream-stall", stream: { chunksSent: 2, state: "client-closed" } })
      }).pipe(Effect.provide(front.layer({ streamFaultRate: 1, streamFaults: ["stream-stall"] })))
    )
  })
}
