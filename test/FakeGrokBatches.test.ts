import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import * as Batches from "../src/internal/testing/Batches.js"
import { prng } from "../src/internal/testing/Scenario.js"
import { fronts, inProcess, send } from "./support/fake.js"

const chat = (content: string) => ({ model: "grok-4", messages: [{ role: "user", content }] })
const entry = (id: string, content = `prompt ${id}`) => ({
  batch_request_id: id,
  batch_request: { chat_get_completion: chat(content) }
})

const json = <A = any>(text: string): A => JSON.parse(text) as A

const create = (name = "nightly") =>
  Effect.map(send({ path: "/batches", body: { name } }), (reply) => ({
    status: reply.status,
    batch: json<{ batch_id: string; state: Record<string, number> }>(reply.text)
  }))

const addTo = (batchId: string, entries: ReadonlyArray<unknown>) =>
  send({ path: `/batches/${batchId}/requests`, body: { batch_requests: entries } })

describe("FakeGrok Batch API", () => {
  for (const front of fronts) {
    describe(front.name, () => {
      it.effect("creates a batch, takes requests, and reports them with xAI's state counters", () =>
        Effect.gen(function* () {
          const { batch, status } = yield* create()
          expect(status).toBe(200)
          expect(batch.batch_id).toMatch(/^batch_/)
          expect(batch.state).toEqual({
            num_requests: 0,
            num_pending: 0,
            num_success: 0,
            num_error: 0,
            num_cancelled: 0
          })
          expect((yield* addTo(batch.batch_id, [entry("a"), entry("b")])).status).toBe(200)
          const got = json((yield* send({ path: `/batches/${batch.batch_id}` })).text)
          expect(got.state).toMatchObject({ num_requests: 2, num_pending: 2 })
          const listed = json((yield* send({ path: `/batches/${batch.batch_id}/requests` })).text)
          expect(listed.batch_request_metadata.map((m: any) => [m.batch_request_id, m.state, m.model])).toEqual([
            ["a", "pending", "grok-4"],
            ["b", "pending", "grok-4"]
          ])
        }).pipe(Effect.provide(front.layer({ batches: { processMillis: 60_000 } })))
      )

      it.effect("refuses a repeated batch_request_id, all or nothing, naming it", () =>
        Effect.gen(function* () {
          const { batch } = yield* create()
          yield* addTo(batch.batch_id, [entry("a")])
          const refused = yield* addTo(batch.batch_id, [entry("b"), entry("a")])
          expect(refused.status).toBe(400)
          expect(json(refused.text).error).toContain("already present: a")
          const twice = yield* addTo(batch.batch_id, [entry("c"), entry("c")])
          expect(twice.status).toBe(400)
          const got = json((yield* send({ path: `/batches/${batch.batch_id}` })).text)
          expect(got.state.num_requests).toBe(1)
        }).pipe(Effect.provide(front.layer({ batches: { processMillis: 60_000 } })))
      )

      it.effect("answers 404 for an unknown batch and 400 for malformed adds and page tokens", () =>
        Effect.gen(function* () {
          expect((yield* send({ path: "/batches/batch_nope" })).status).toBe(404)
          expect((yield* send({ path: "/batches", body: {} })).status).toBe(400)
          const { batch } = yield* create()
          expect((yield* addTo(batch.batch_id, [])).status).toBe(400)
          expect((yield* addTo(batch.batch_id, [{ batch_request_id: "x" }])).status).toBe(400)
          expect((yield* addTo(batch.batch_id, [entry("a"), entry("b"), entry("c")])).status).toBe(400)
          const hostile = yield* send({ path: `/batches/${batch.batch_id}/results?pagination_token=%27%3B--` })
          expect(hostile.status).toBe(400)
          expect((yield* send({ path: `/batches/${batch.batch_id}/requests?limit=-1` })).status).toBe(400)
          expect((yield* send({ path: "/batches", key: "wrong" })).status).toBe(400)
        }).pipe(Effect.provide(front.layer({ batches: { maxRequestsPerAdd: 2 } })))
      )
    })
  }

  it.effect("finishes requests between processMillis and processMillis + spreadMillis after they are added", () =>
    Effect.gen(function* () {
      const { batch } = yield* create()
      yield* addTo(
        batch.batch_id,
        Array.from({ length: 50 }, (_, i) => entry(`r${i}`))
      )
      const state = () => Effect.map(send({ path: `/batches/${batch.batch_id}` }), (r) => json(r.text).state)
      yield* TestClock.adjust("999 millis")
      expect((yield* state()).num_pending).toBe(50)
      yield* TestClock.adjust("1000 millis")
      const midway = yield* state()
      expect(midway.num_success).toBeGreaterThan(0)
      expect(midway.num_pending).toBeGreaterThan(0)
      yield* TestClock.adjust("1001 millis")
      expect(yield* state()).toMatchObject({ num_requests: 50, num_pending: 0, num_success: 50, num_error: 0 })
    }).pipe(Effect.provide(inProcess.layer({ batches: { processMillis: 1000, spreadMillis: 2000 } })))
  )

  it.effect("pages results in finish order with the fake's chat completions, each id once", () =>
    Effect.gen(function* () {
      const { batch } = yield* create()
      yield* addTo(
        batch.batch_id,
        Array.from({ length: 25 }, (_, i) => entry(`r${i}`))
      )
      yield* TestClock.adjust("10 seconds")
      const ids: Array<string> = []
      let token: string | null = null
      let pages = 0
      do {
        const query: string = token === null ? "?limit=10" : `?limit=10&pagination_token=${token}`
        const page: any = json((yield* send({ path: `/batches/${batch.batch_id}/results${query}` })).text)
        for (const result of page.results) {
          ids.push(result.batch_request_id)
          expect(result.batch_result.response.chat_get_completion.choices[0].message.content).toBe(
            `echo: prompt ${result.batch_request_id}`
          )
        }
        token = page.pagination_token
        pages++
      } while (token !== null)
      expect(pages).toBe(3)
      expect(new Set(ids).size).toBe(25)
    }).pipe(Effect.provide(inProcess.layer({ batches: { processMillis: 100, spreadMillis: 5000 } })))
  )

  it.effect("fails about errorRate of the requests with an error result, and cancels what is pending", () =>
    Effect.gen(function* () {
      const { batch } = yield* create()
      yield* addTo(
        batch.batch_id,
        Array.from({ length: 200 }, (_, i) => entry(`r${i}`))
      )
      yield* TestClock.adjust("1500 millis")
      const cancelled = json((yield* send({ method: "POST", path: `/batches/${batch.batch_id}:cancel` })).text)
      expect(cancelled.cancel_time).not.toBeNull()
      const { num_success, num_error, num_cancelled, num_pending } = cancelled.state
      expect(num_pending).toBe(0)
      expect(num_success + num_error + num_cancelled).toBe(200)
      expect(num_cancelled).toBeGreaterThan(50)
      expect(num_error / (num_success + num_error)).toBeGreaterThan(0.1)
      expect(num_error / (num_success + num_error)).toBeLessThan(0.5)
      const results = json((yield* send({ path: `/batches/${batch.batch_id}/results?limit=1000` })).text).results
      expect(results).toHaveLength(num_success + num_error)
      const failed = results.filter((r: any) => "error" in r.batch_result)
      expect(failed).toHaveLength(num_error)
      expect(failed[0].batch_result.error).toMatch(/internal error/i)
      expect((yield* addTo(batch.batch_id, [entry("late")])).status).toBe(400)
    }).pipe(
      Effect.provide(
        inProcess.layer({ seed: 7, batches: { processMillis: 1000, spreadMillis: 1000, errorRate: 0.25 } })
      )
    )
  )

  it("keeps requests within its bounds: a huge add is refused before it is kept", () => {
    const state = Batches.makeState({ maxAddBytes: 1000 })
    const clock = { nowMillis: 0, wallMillis: 0 }
    const random = prng(1)
    const created = Batches.handle(
      state,
      { method: "POST", path: "/v1/batches", query: "", body: '{"name":"x"}' },
      clock,
      random
    )
    const id = JSON.parse(created!.body).batch_id as string
    const body = JSON.stringify({ batch_requests: [entry("a", "x".repeat(2000))] })
    const refused = Batches.handle(
      state,
      { method: "POST", path: `/v1/batches/${id}/requests`, query: "", body },
      clock,
      random
    )
    expect(refused?.status).toBe(413)
    expect(state.requests).toBe(0)
    expect(
      Batches.handle(state, { method: "DELETE", path: `/v1/batches/${id}`, query: "", body: "" }, clock, random)
    ).toBe(undefined)
  })
})
