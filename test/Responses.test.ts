import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as GrokApi from "../src/GrokApi.js"
import { fixture, fixtureLines } from "./StreamSupport.js"

const webSearch = () => Either.getOrThrow(GrokApi.decodeResponse(JSON.parse(fixture("responses-web-search.json"))))

describe("Responses API schemas", () => {
  it("decode the recorded web search answer with its server-side call, citations and usage", () => {
    const response = webSearch()
    expect(response.status).toBe("completed")
    expect(response.output.map((item) => item.type)).toEqual(["web_search_call", "message"])
    expect(response.output[0]).toMatchObject({ name: "web_search", status: "completed" })
    const message = response.output.find(isMessage)!
    expect(message.content[0]).toMatchObject({ type: "output_text" })
    const annotations = (message.content[0] as { annotations?: ReadonlyArray<{ url?: string }> }).annotations
    expect(annotations?.map((annotation) => annotation.url)).toContain("https://x.ai/company")
    expect(response.usage?.num_server_side_tools_used).toBe(1)
    expect(GrokApi.responseText(response)).toMatch(/^xAI is an American artificial intelligence company/)
  })

  it("keep unknown fields of the response and of its usage", () => {
    const raw = JSON.parse(fixture("responses-web-search.json")) as Record<string, Record<string, unknown>>
    const decoded = GrokApi.decodeResponse({
      ...raw,
      brand_new: true,
      usage: {
        ...raw.usage,
        cost_in_usd_ticks: 292331500,
        server_side_tool_usage_details: { web_search_calls: 1, x_search_calls: 0 },
        context_details: { input_tokens: 5 }
      }
    })
    const response = Either.getOrThrow(decoded)
    expect((response as unknown as Record<string, unknown>).brand_new).toBe(true)
    expect(response.usage?.server_side_tool_usage_details).toEqual({ web_search_calls: 1, x_search_calls: 0 })
    expect((response.usage as unknown as Record<string, unknown>).context_details).toEqual({ input_tokens: 5 })
    expect(GrokApi.responseUsageSummary(response.usage)).toEqual({
      prompt: 1941,
      completion: 583 - 380,
      reasoning: 380,
      cached: 947,
      total: 2524,
      costUsd: 0.02923315,
      serverSideTools: 1
    })
  })

  it("reject a known output item that is malformed instead of passing it as an unknown one", () => {
    const raw = JSON.parse(fixture("responses-web-search.json")) as Record<string, unknown>
    const broken = GrokApi.decodeResponse({ ...raw, output: [{ type: "message", role: "assistant", content: "x" }] })
    expect(Either.isLeft(broken)).toBe(true)
    const unknown = GrokApi.decodeResponse({ ...raw, output: [{ type: "image_generation_call", id: "i1", url: "u" }] })
    expect(Either.getOrThrow(unknown).output[0]).toEqual({ type: "image_generation_call", id: "i1", url: "u" })
  })

  it("decode a request with input items, function and server-side tools, and pass unknown fields through", () => {
    const request = {
      model: "grok-4",
      input: [
        { role: "system", content: "Be brief." },
        { role: "user", content: [{ type: "input_text", text: "What is new on X?" }] },
        { type: "function_call_output", call_id: "call_1", output: "{}" }
      ],
      instructions: "Cite sources.",
      tools: [
        { type: "function", name: "weather", parameters: { type: "object" } },
        { type: "web_search", allowed_domains: ["x.ai"] },
        { type: "x_search", from_date: "2025-01-01" }
      ],
      previous_response_id: "resp_1",
      store: false,
      reasoning: { effort: "high" },
      max_output_tokens: 512,
      text: { format: { type: "json_schema", name: "answer", schema: { type: "object" } } },
      stream: true,
      search_parameters: { mode: "auto" }
    }
    expect(Either.getOrThrow(GrokApi.decodeResponseRequest(request))).toEqual(request)
    expect(Either.isRight(GrokApi.decodeResponseRequest({ model: "grok-4", input: "Hi" }))).toBe(true)
  })

  it("refuse a request without a model, with a nameless function tool, or a bad token limit", () => {
    const refused = [
      { model: "", input: "Hi" },
      { model: "grok-4", input: "Hi", tools: [{ type: "function" }] },
      { model: "grok-4", input: "Hi", max_output_tokens: 0 },
      { model: "grok-4", input: "Hi", text: { format: { type: "json_schema" } } },
      { model: "grok-4", input: 42 }
    ]
    for (const request of refused) expect(Either.isLeft(GrokApi.decodeResponseRequest(request))).toBe(true)
  })

  it("decode every recorded stream event, known or not, and narrow them by type", () => {
    const events = fixtureLines("responses-text-reasoning.chunks.txt").map((line) =>
      Either.getOrThrow(GrokApi.decodeResponseEvent(JSON.parse(line)))
    )
    expect(events).toHaveLength(679)
    const deltas = events.filter(GrokApi.isResponseEvent("response.output_text.delta"))
    expect(deltas).toHaveLength(600)
    const summary = events.filter(GrokApi.isResponseEvent("response.reasoning_summary_text.done"))[0]!
    expect(summary.text).toMatch(/^First, the question is/)
    const unknown = events.find((event) => event.type === "response.content_part.added")
    expect(unknown).toMatchObject({ part: { type: "output_text" } })
    const completed = events.filter(GrokApi.isResponseEvent("response.completed"))[0]!
    expect(GrokApi.responseText(completed.response)).toBe(deltas.map((delta) => delta.delta).join(""))
  })
})

const isMessage = (item: GrokApi.OutputItem): item is Extract<GrokApi.OutputItem, { type: "message" }> =>
  item.type === "message"
