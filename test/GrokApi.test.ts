import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { readFileSync } from "node:fs"
import * as GrokApi from "../src/GrokApi.js"

const fixture = (name: string) => readFileSync(new URL(`./fixtures/xai/${name}`, import.meta.url), "utf8")

describe("GrokApi", () => {
  it("decodes the recorded text completion with reasoning tokens and cost", () => {
    const decoded = GrokApi.decodeChatCompletion(JSON.parse(fixture("xai-text.json")))
    if (Either.isLeft(decoded)) throw decoded.left
    const completion = decoded.right
    expect(completion.choices[0]?.message.content).toBe("Hello")
    expect(completion.choices[0]?.message.reasoning_content).toContain("Say a single word")
    expect(GrokApi.usageSummary(completion.usage ?? undefined)).toEqual({
      prompt: 12,
      completion: 1,
      reasoning: 228,
      cached: 2,
      total: 241,
      costUsd: 1176500 / 1e10
    })
  })

  it("decodes the recorded tool call completion", () => {
    const decoded = GrokApi.decodeChatCompletion(JSON.parse(fixture("xai-tool-call.json")))
    if (Either.isLeft(decoded)) throw decoded.left
    const message = decoded.right.choices[0]!.message
    expect(message.tool_calls?.[0]?.function).toEqual({ name: "weather", arguments: '{"location":"San Francisco"}' })
    expect(decoded.right.choices[0]?.finish_reason).toBe("tool_calls")
  })

  it("keeps unknown fields such as num_sources_used and system_fingerprint", () => {
    const decoded = GrokApi.decodeChatCompletion({ ...JSON.parse(fixture("xai-text.json")), brand_new: 1 })
    expect(Either.isRight(decoded) && (decoded.right as Record<string, unknown>)["brand_new"]).toBe(1)
  })

  it("decodes a completion with every optional field missing or null", () => {
    const decoded = GrokApi.decodeChatCompletion({
      id: "x",
      model: "grok-4",
      choices: [{ index: 0, message: { role: "assistant", content: null }, finish_reason: null }],
      usage: null
    })
    expect(Either.isRight(decoded)).toBe(true)
  })

  it("decodes every recorded stream chunk", () => {
    for (const file of ["xai-text.chunks.txt", "xai-tool-call.chunks.txt"]) {
      const lines = fixture(file)
        .split("\n")
        .filter((l) => l.trim().length > 0)
      expect(lines.length).toBeGreaterThan(3)
      for (const line of lines) expect(Either.isRight(GrokApi.decodeChatCompletionChunk(JSON.parse(line)))).toBe(true)
    }
  })

  it("reads message, code and type from all three error body shapes", () => {
    const shapes = [
      { code: "Client specified an invalid argument", error: "bad key" },
      { error: { message: "bad temperature", type: "invalid_request_error", code: "invalid_value" } },
      { error: "speed must be between 0.7 and 1.5" }
    ]
    const details = shapes.map((s) =>
      GrokApi.decodeErrorBody(s).pipe((o) => (o._tag === "Some" ? GrokApi.errorDetail(o.value) : null))
    )
    expect(details).toEqual([
      { message: "bad key", code: "Client specified an invalid argument" },
      { message: "bad temperature", code: "invalid_value", type: "invalid_request_error" },
      { message: "speed must be between 0.7 and 1.5" }
    ])
  })

  it("rejects a request with no messages or an out-of-range temperature", () => {
    expect(Either.isLeft(GrokApi.decodeChatRequest({ model: "grok-4", messages: [] }))).toBe(true)
    expect(
      Either.isLeft(
        GrokApi.decodeChatRequest({ model: "grok-4", messages: [{ role: "user", content: "x" }], temperature: 3 })
      )
    ).toBe(true)
  })

  it("estimates tokens from prompt length plus the completion budget", () => {
    const request = { model: "grok-4", messages: [{ role: "user" as const, content: "a".repeat(400) }] }
    expect(GrokApi.estimateTokens(request)).toBe(100 + 4 + GrokApi.DEFAULT_COMPLETION_ESTIMATE)
    expect(GrokApi.estimateTokens({ ...request, max_completion_tokens: 50 })).toBe(154)
  })
})
