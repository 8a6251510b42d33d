import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Stream } from "effect"
import * as GrokApi from "../src/GrokApi.js"
import { decodeChatStream } from "../src/internal/stream/chatStream.js"
import { collectChat, collectChatStream } from "../src/internal/stream/collectChat.js"
import { answer, body, chatSse, fixture, fixtureLines } from "./StreamSupport.js"

const chunksOf = (name: string) =>
  fixtureLines(name).map((line) => Either.getOrThrow(GrokApi.decodeChatCompletionChunk(JSON.parse(line))))

const chunk = (choices: ReadonlyArray<unknown>, extra: Record<string, unknown> = {}) =>
  Either.getOrThrow(GrokApi.decodeChatCompletionChunk({ id: "c1", model: "grok-4", created: 5, choices, ...extra }))

describe("collectChat", () => {
  it("rebuilds the recorded text completion, which decodes as a ChatCompletion", () => {
    const completion = Either.getOrThrow(collectChat(chunksOf("xai-text.chunks.txt")))
    const choice = completion.choices[0]!
    expect(choice.message.content).toBe("Hello")
    expect(choice.message.reasoning_content).toBe("First, the user said")
    expect(choice.finish_reason).toBe("stop")
    expect(completion.id).toBe("7327b9f5-1c2f-0a15-3fef-c14a71c460d3")
    expect(completion.model).toBe("grok-3-mini")
    expect(completion.created).toBe(1770774058)
    expect(GrokApi.usageSummary(completion.usage ?? undefined)).toMatchObject({
      prompt: 12,
      reasoning: 290,
      total: 303
    })
    expect(Either.isRight(GrokApi.decodeChatCompletion(JSON.parse(JSON.stringify(completion))))).toBe(true)
  })

  it("rebuilds the recorded tool call like the unstreamed answer has it", () => {
    const completion = Either.getOrThrow(collectChat(chunksOf("xai-tool-call.chunks.txt")))
    const unstreamed = Either.getOrThrow(GrokApi.decodeChatCompletion(JSON.parse(fixture("xai-tool-call.json"))))
    const call = completion.choices[0]!.message.tool_calls![0]!
    expect(call).toMatchObject({ id: "call_55117580", type: "function", index: 0 })
    expect(call.function).toEqual(unstreamed.choices[0]!.message.tool_calls![0]!.function)
    expect(completion.choices[0]!.message.content).toBeNull()
    expect(completion.choices[0]!.finish_reason).toBe("tool_calls")
  })

  it("merges tool-call argument deltas by index, with several calls interleaved", () => {
    const calls = (deltas: ReadonlyArray<unknown>) => chunk([{ index: 0, delta: { tool_calls: deltas } }])
    const completion = Either.getOrThrow(
      collectChat([
        calls([{ index: 0, id: "a", type: "function", function: { name: "weather", arguments: '{"ci' } }]),
        calls([{ index: 1, id: "b", function: { name: "time", arguments: "" } }]),
        calls([{ index: 0, function: { arguments: 'ty":"Oslo"}' } }]),
        calls([{ index: 1, function: { arguments: "{}" } }]),
        chunk([{ index: 0, delta: {}, finish_reason: "tool_calls" }])
      ])
    )
    expect(completion.choices[0]!.message.tool_calls).toEqual([
      { id: "a", type: "function", index: 0, function: { name: "weather", arguments: '{"city":"Oslo"}' } },
      { id: "b", type: "function", index: 1, function: { name: "time", arguments: "{}" } }
    ])
  })

  it("keeps choices apart and takes the usage of the last chunk that has one", () => {
    const usage = (total: number) => ({ prompt_tokens: 1, completion_tokens: 2, total_tokens: total })
    const completion = Either.getOrThrow(
      collectChat([
        chunk([
          { index: 1, delta: { role: "assistant", content: "B" } },
          { index: 0, delta: { role: "assistant", content: "A" } }
        ]),
        chunk([{ index: 0, delta: { content: "a" }, finish_reason: "length" }], { usage: usage(3) }),
        chunk([{ index: 1, delta: { content: "b" }, finish_reason: "stop" }], { usage: usage(7) }),
        chunk([], { usage: null })
      ])
    )
    expect(completion.choices.map((choice) => [choice.index, choice.message.content, choice.finish_reason])).toEqual([
      [0, "Aa", "length"],
      [1, "Bb", "stop"]
    ])
    expect(completion.usage?.total_tokens).toBe(7)
  })

  it("refuses to make a completion of a tool call without an id, or of no chunks at all", () => {
    const noId = collectChat([
      chunk([{ index: 0, delta: { tool_calls: [{ function: { name: "f", arguments: "" } }] } }])
    ])
    expect(Either.isLeft(noId) && noId.left.reason).toBe("MalformedBody")
    const empty = collectChat([])
    expect(Either.isLeft(empty) && empty.left.detail).toContain("the chunks do not make a completion")
  })

  it.effect("collects a decoded stream, and passes its failure on", () =>
    Effect.gen(function* () {
      const completion = yield* collectChatStream(decodeChatStream(body(chatSse("xai-text.chunks.txt")), answer()))
      expect(completion.choices[0]?.message.content).toBe("Hello")
      const cut = yield* Effect.flip(
        collectChatStream(decodeChatStream(body(chatSse("xai-text.chunks.txt").slice(0, 900)), answer()))
      )
      expect(cut._tag === "Transient" && cut.reason).toBe("StreamCut")
      const failing = Stream.fail("boom" as const)
      expect(yield* Effect.flip(collectChatStream(failing))).toBe("boom")
    })
  )
})
