import { describe, expect, it } from "@effect/vitest"
import * as Input from "../src/input.js"
import * as Send from "../src/send.js"

const line = (number: number, value: unknown) => ({
  number,
  text: JSON.stringify(value),
  start: 0,
  end: 0,
  terminated: true,
  fault: undefined
})

/** A parser of its own for each test: a parser remembers the ids it has seen. */
const responsesParser = () => Input.parser({ model: "grok-4", api: "responses" })

describe("ResponseInput", () => {
  it("turns input and instructions into a Responses request and copies only its fields", () => {
    const parse = responsesParser()
    const item = parse(
      line(1, { id: "a", input: "hi", instructions: "Be brief.", max_output_tokens: 50, label: "mine", seed: 3 })
    )
    expect(item).toMatchObject({
      _tag: "Call",
      api: "responses",
      id: { json: '"a"' },
      request: { model: "grok-4", input: "hi", instructions: "Be brief.", max_output_tokens: 50 }
    })
    const request = item?._tag === "Call" ? (item.request as Record<string, unknown>) : {}
    expect("label" in request || "seed" in request).toBe(false)
  })

  it("reads a prompt as the input string and chat messages as input messages, with the line's model", () => {
    const parse = responsesParser()
    const messages = [
      { role: "system", content: "be brief" },
      { role: "user", content: "hi" }
    ]
    expect(parse(line(1, { id: "p", prompt: "hi", priority: "high" }))).toMatchObject({
      priority: "high",
      request: { input: "hi" }
    })
    expect(parse(line(2, { id: "m", messages, model: "grok-3-mini" }))).toMatchObject({
      request: { model: "grok-3-mini", input: messages }
    })
  })

  it("refuses no input, two inputs, an empty input, a bad priority and a request that does not decode", () => {
    const parse = responsesParser()
    const refused = (value: Record<string, unknown>) => {
      const item = parse(line(1, value))
      return item?._tag === "Invalid" ? item.record.error.message : "accepted"
    }
    expect(refused({ id: "a", instructions: "x" })).toContain('exactly one of "input"')
    expect(refused({ id: "b", input: "x", prompt: "y" })).toContain('exactly one of "input"')
    expect(refused({ id: "c", input: "" })).toContain('"input" must be a non-empty string or an array')
    expect(refused({ id: "d", prompt: ["x"] })).toContain('"prompt" must be a non-empty string')
    expect(refused({ id: "e", input: "x", priority: "urgent" })).toContain('"priority" must be one of')
    expect(refused({ id: "f", input: "x", max_output_tokens: -1 })).toContain("not a valid request")
  })

  it("names the Responses usage as chat usage: reasoning apart from completion tokens, cost kept", () => {
    expect(
      Send.chatUsage({
        input_tokens: 10,
        output_tokens: 30,
        total_tokens: 40,
        input_tokens_details: { cached_tokens: 4 },
        output_tokens_details: { reasoning_tokens: 12 },
        cost_in_usd_ticks: 900
      })
    ).toEqual({
      prompt_tokens: 10,
      completion_tokens: 18,
      total_tokens: 40,
      prompt_tokens_details: { cached_tokens: 4 },
      completion_tokens_details: { reasoning_tokens: 12 },
      cost_in_usd_ticks: 900
    })
    expect(Send.chatUsage({ input_tokens: 3, output_tokens: 5 })).toMatchObject({
      total_tokens: 8,
      completion_tokens: 5
    })
  })
})
