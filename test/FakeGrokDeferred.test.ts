import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, TestClock } from "effect"
import * as GrokApi from "../src/GrokApi.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"
import { chatBody, fronts, inProcess, send, socket } from "./support/fake.js"

const submit = (content = "later please") =>
  Effect.map(send({ path: "/chat/completions", body: chatBody(content, { deferred: true }) }), (reply) => ({
    ...reply,
    json: JSON.parse(reply.text) as { readonly request_id: string }
  }))

const collect = (id: string) => send({ path: `/chat/deferred-completion/${id}` })

describe("FakeGrok deferred completions", () => {
  for (const front of fronts) {
    describe(front.name, () => {
      it.effect("acknowledges a deferred request with its request_id, then gives the completion once, then 404", () =>
        Effect.gen(function* () {
          const submitted = yield* submit()
          expect(submitted.status).toBe(200)
          expect(submitted.json.request_id).toMatch(/^[0-9a-f-]{36}$/)
          const ready = yield* collect(submitted.json.request_id)
          expect(ready.status).toBe(200)
          const completion = Either.getOrThrow(GrokApi.decodeChatCompletion(JSON.parse(ready.text)))
          expect(completion.choices[0]?.message.content).toBe("echo: later please")
          expect(completion.id).toBe(submitted.json.request_id)
          const again = yield* collect(submitted.json.request_id)
          expect(again.status).toBe(404)
          expect(JSON.parse(again.text)).toMatchObject({ error: expect.stringContaining("not found") })
        }).pipe(Effect.provide(front.layer({ deferredMillis: 0 })))
      )

      it.effect("answers 404 for an unknown request id and applies the script to the submission", () =>
        Effect.gen(function* () {
          expect((yield* collect("no-such-id")).status).toBe(404)
          expect((yield* submit()).status).toBe(503)
          const fake = yield* FakeGrok.FakeGrok
          expect((yield* fake.arrivals).map((a) => a.path)).toEqual([
            "/v1/chat/deferred-completion/no-such-id",
            "/v1/chat/completions"
          ])
        }).pipe(Effect.provide(front.layer({ script: [503] })))
      )
    })
  }

  it.effect("answers 202 with an empty body while the completion is pending over the socket", () =>
    Effect.gen(function* () {
      const pending = yield* collect((yield* submit()).json.request_id)
      expect(pending.status).toBe(202)
      expect(pending.text).toBe("")
    }).pipe(Effect.provide(socket.layer({ deferredMillis: 600_000 })))
  )

  it.effect("makes a deferred completion ready after deferredMillis on the TestClock", () =>
    Effect.gen(function* () {
      const { request_id } = (yield* submit()).json
      yield* TestClock.adjust("1499 millis")
      expect((yield* collect(request_id)).status).toBe(202)
      yield* TestClock.adjust("1 millis")
      expect((yield* collect(request_id)).status).toBe(200)
      expect((yield* collect(request_id)).status).toBe(404)
    }).pipe(Effect.provide(inProcess.layer({ deferredMillis: 1500 })))
  )
})
