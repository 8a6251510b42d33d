import { describe, expect, it } from "@effect/vitest"
import { Either, type ParseResult, Schema } from "effect"
import { readFileSync, readdirSync } from "node:fs"
import * as GrokApi from "../src/GrokApi.js"
import { decoder } from "../src/internal/fastDecode.js"

const preserve = { onExcessProperty: "preserve" } as const

/** The compiled decoders of GrokApi beside Effect's own for the same schema. */
type Decode = (input: unknown) => Either.Either<unknown, ParseResult.ParseError>
const pairs: ReadonlyArray<readonly [string, Decode, Decode]> = [
  ["completion", GrokApi.decodeChatCompletion, Schema.decodeUnknownEither(GrokApi.ChatCompletion, preserve)],
  ["request", GrokApi.decodeChatRequest, Schema.decodeUnknownEither(GrokApi.ChatRequest, preserve)],
  ["chunk", GrokApi.decodeChatCompletionChunk, Schema.decodeUnknownEither(GrokApi.ChatCompletionChunk, preserve)]
]

const completion = {
  extra: 0,
  id: "x",
  object: "chat.completion",
  created: 1,
  model: "grok-4",
  choices: [
    {
      index: 0,
      message: {
        x: 1,
        role: "assistant",
        content: "hi",
        reasoning_content: null,
        tool_calls: [{ id: "a", function: { name: "f", arguments: "{}" } }]
      },
      finish_reason: "stop"
    }
  ],
  usage: { prompt_tokens: 2, completion_tokens: 2, total_tokens: 4, prompt_tokens_details: { cached_tokens: 0 } },
  system_fingerprint: "fp"
}
const request = {
  model: "grok-4",
  extra: [1],
  messages: [
    { role: "user", content: "hi" },
    { role: "tool", content: null, tool_call_id: "a" },
    { role: "user", content: [{ type: "text" }] }
  ],
  temperature: 1,
  max_tokens: 5,
  stop: ["a"]
}
const chunk = { id: "c", model: "m", choices: [{ index: 0, delta: { content: "x", tool_calls: null } }], usage: null }

const replacements: ReadonlyArray<unknown> = [1, "s", null, undefined, [], {}, -1, 0.5, 3, true, [1], { a: 1 }, ""]

/** The value, then copies with one field replaced, removed, or changed deeper down. */
function* variants(value: unknown, depth = 0): Generator<unknown> {
  yield value
  if (depth > 2 || value === null || typeof value !== "object") return
  const copy = () => (Array.isArray(value) ? [...value] : { ...value }) as Record<string, unknown>
  for (const key of Object.keys(value)) {
    for (const replacement of replacements) yield { ...copy(), [key]: replacement }
    const without = copy()
    delete without[key]
    yield without
    for (const inner of variants((value as Record<string, unknown>)[key], depth + 1)) {
      const changed = copy()
      changed[key] = inner
      yield changed
    }
  }
}

const xaiFixtures = readdirSync(new URL("./fixtures/xai/", import.meta.url))
  .filter((name) => name.endsWith(".json"))
  .map((name) => JSON.parse(readFileSync(new URL(`./fixtures/xai/${name}`, import.meta.url), "utf8")) as unknown)

describe("compiled decoders", () => {
  it("give what Effect's decoder gives, errors included, for every variant", () => {
    let compared = 0
    for (const [, fast, slow] of pairs) {
      for (const root of [completion, request, chunk, ...xaiFixtures]) {
        for (const input of variants(root)) {
          const a = fast(input)
          const b = slow(input)
          expect(a._tag).toBe(b._tag)
          if (Either.isRight(a) && Either.isRight(b)) expect(a.right).toStrictEqual(b.right)
          if (Either.isLeft(a) && Either.isLeft(b)) expect(a.left.message).toBe(b.left.message)
          compared++
        }
      }
    }
    expect(compared).toBeGreaterThan(1_000)
  })

  it("return the input itself once checked, excess properties and all, where Effect's decoder returns a copy", () => {
    const input = { choices: [], model: "m", later: true, id: "i" }
    const decoded = GrokApi.decodeChatCompletion(input)
    if (Either.isLeft(decoded)) throw decoded.left
    expect(decoded.right).toBe(input)
    expect(Object.keys(decoded.right)).toEqual(["choices", "model", "later", "id"])
    const request = { extra: 1, messages: [{ role: "user" as const, content: "hi" }], model: "m" }
    const checked = GrokApi.decodeChatRequest(request)
    if (Either.isLeft(checked)) throw checked.left
    expect(checked.right).toBe(request)
    // Refused inputs still get Effect's own copy-or-error.
    expect(Either.isLeft(GrokApi.decodeChatCompletion({ ...input, id: 1 }))).toBe(true)
  })

  it("apply refinements: an empty model or no messages is refused with Effect's message", () => {
    const empty = GrokApi.decodeChatRequest({ model: "", messages: [{ role: "user", content: "hi" }] })
    const none = GrokApi.decodeChatRequest({ model: "m", messages: [] })
    expect(Either.isLeft(empty) && empty.left.message).toContain("model")
    expect(Either.isLeft(none) && none.left.message).toContain("messages")
  })

  it("leave a schema with parts they do not compile to Effect's decoder", () => {
    const Trimmed = Schema.Struct({ name: Schema.Trim })
    const decode = decoder(Trimmed)
    expect(decode({ name: "  a  " })).toEqual(Either.right({ name: "a" }))
  })

  it("leave a union of two structs to Effect's decoder, which picks the member", () => {
    const Shape = Schema.Union(
      Schema.Struct({ kind: Schema.Literal("a"), a: Schema.Number }),
      Schema.Struct({ kind: Schema.Literal("b") })
    )
    const decode = decoder(Shape)
    const slow = Schema.decodeUnknownEither(Shape, preserve)
    for (const input of [{ kind: "b", a: 1 }, { kind: "a", a: 1, more: 2 }, { kind: "c" }]) {
      expect(JSON.stringify(decode(input))).toBe(JSON.stringify(slow(input)))
    }
  })
})
