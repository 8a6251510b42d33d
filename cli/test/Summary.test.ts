import { describe, expect, it } from "@effect/vitest"
import { GrokError } from "grok-resilience"
import * as Records from "../src/records.js"
import * as Summary from "../src/summary.js"
import { Tally } from "../src/tally.js"

const answer = (model: string) => ({
  completion: {} as never,
  content: "ok",
  usage: undefined,
  requestId: undefined,
  attempts: 1,
  model
})

describe("the summary's containment counts", () => {
  it("counts calls answered by a fallback model and calls refused by an open breaker", () => {
    const tally = new Tally()
    tally.total = 5
    tally.add(Records.ok(Records.stringId("a"), answer("grok-4")))
    tally.add(Records.ok(Records.stringId("b"), answer("grok-4-fast"), "grok-4-fast"))
    tally.add(Records.ok(Records.stringId("c"), answer("grok-3"), "grok-3"))
    tally.add(
      Records.failed(Records.stringId("d"), new GrokError.Rejected({ reason: "CircuitOpen", retryAfterMillis: 4_000 }))
    )
    tally.add(Records.failed(Records.stringId("e"), new GrokError.Rejected({ reason: "DeadlineExceeded" })))
    const summary = tally.summary("complete")
    expect(summary).toMatchObject({ ok: 3, answeredByFallback: 2, refusedByOpenBreaker: 1 })
    expect(JSON.parse(Summary.json(summary))).toMatchObject({ answeredByFallback: 2, refusedByOpenBreaker: 1 })
    const human = Summary.human(summary, { output: "out.jsonl", failures: 2, retriable: 2 })
    expect(human).toContain("2 answered by a fallback model, 1 refused by an open circuit breaker")
  })

  it("marks the results line of a fallback answer with the model, and only then", () => {
    expect(Records.ok(Records.stringId("a"), answer("grok-4-fast"), "grok-4-fast").fallbackModel).toBe("grok-4-fast")
    expect("fallbackModel" in Records.ok(Records.stringId("b"), answer("grok-4"))).toBe(false)
    const human = Summary.human(new Tally().summary("complete"), { output: "out.jsonl", failures: 0, retriable: 0 })
    expect(human).not.toContain("fallback")
  })
})
