import { describe, expect, it } from "@effect/vitest"
import { requestIdOf } from "../src/batchApiAdd.js"
import * as JsonText from "../src/jsonText.js"
import * as Records from "../src/records.js"

const outline = (text: string) => JsonText.outline(text, JsonText.MAX_DEPTH)

describe("JsonText.outline", () => {
  it("finds the top-level id's text as written, with its surrounding spaces removed", () => {
    expect(outline('{"id": 12345678901234567890 , "prompt": "x"}')).toEqual({
      _tag: "Outline",
      depth: 1,
      id: "12345678901234567890",
      idMembers: 1
    })
    expect(outline('{"prompt":"x","id":-0}')).toMatchObject({ id: "-0" })
    expect(outline('{"prompt":"x","id":"a\\"b"}')).toMatchObject({ id: '"a\\"b"' })
    expect(outline('{"\\u0069d":1e21}')).toMatchObject({ id: "1e21" })
  })

  it("ignores ids inside nested values and brackets or quotes inside strings", () => {
    const text = '{"messages":[{"id":"inner","content":"[{\\"id\\": 1}"}],"meta":{"id":2},"id":"outer"}'
    expect(outline(text)).toEqual({ _tag: "Outline", depth: 3, id: '"outer"', idMembers: 1 })
    expect(outline('{"id":{"a":[1,2]}}')).toMatchObject({ id: '{"a":[1,2]}' })
    expect(outline('[{"id":1}]')).toMatchObject({ id: undefined })
    expect(outline('"id"')).toMatchObject({ id: undefined, depth: 0 })
  })

  it("counts repeated id members, which JSON.parse would silently collapse", () => {
    expect(outline('{"id":"a","id":"b"}')).toMatchObject({ idMembers: 2 })
  })

  it("stops at the first level past the limit, without recursion, even 1,000,000 levels deep", () => {
    expect(JsonText.outline(`{"a":${"[".repeat(63)}${"]".repeat(63)}}`, 64)).toMatchObject({ depth: 64 })
    expect(JsonText.outline(`{"a":${"[".repeat(64)}${"]".repeat(64)}}`, 64)).toEqual({ _tag: "TooDeep", limit: 64 })
    expect(outline("[".repeat(1_000_000))).toEqual({ _tag: "TooDeep", limit: 64 })
  })
})

describe("Records ids", () => {
  it("keeps a number id's text and tells apart numbers JSON.parse would merge", () => {
    const ids = ["12345678901234567890", "12345678901234567891", "-0", "0", "1e21", "1E21", "1.0"]
    const parsed = ids.map((json) => Records.idFromJson(json)!)
    expect(parsed.map((id) => id.json)).toEqual(ids)
    expect(new Set(parsed.map(Records.idKey)).size).toBe(ids.length)
  })

  it('knows a string id by its characters, so "1" is the id 1 and an escape is the character it stands for', () => {
    expect(Records.idKey(Records.idFromJson('"1"')!)).toBe(Records.idKey(Records.idFromJson("1")!))
    expect(Records.idKey(Records.idFromJson('"x\\u0079"')!)).toBe(Records.idKey(Records.stringId("xy")))
    expect(Records.idFromJson('"x\\u0079"')?.json).toBe('"x\\u0079"')
  })

  it("gives each id a text of its own for the Batch API's request ids", () => {
    const texts = ["12345678901234567890", "12345678901234567891", "-0", "0", "7"].map((json) =>
      requestIdOf(Records.idFromJson(json)!)
    )
    expect(texts).toEqual(["12345678901234567890", "12345678901234567891", "-0", "0", "7"])
    expect(requestIdOf(Records.idFromJson('"p\\u0030"')!)).toBe("p0")
    expect(requestIdOf(Records.idFromJson('"7"')!)).toBe(requestIdOf(Records.idFromJson("7")!))
  })

  it("refuses empty strings and values that are not strings or numbers", () => {
    for (const json of ['""', "null", "true", "[1]", '{"a":1}', "01", "+1", "NaN"]) {
      expect(Records.idFromJson(json)).toBeUndefined()
    }
  })

  it("writes a results line with the id's text spliced in and reads the same id back", () => {
    const id = Records.idFromJson("12345678901234567891")!
    const line = Records.encode(Records.invalid(id, 3, "Line 3: x"))
    expect(line.startsWith('{"id":12345678901234567891,"ok":false,')).toBe(true)
    expect(Records.readBack(line)).toEqual({ key: id.key, ok: false, retriable: false })
    expect(Records.readBack(Records.encode(Records.invalid(null, 4, "Line 4: x")))).toMatchObject({ key: "l4" })
  })

  it("decodes a stored results line with its id's text, so it is written again byte for byte", () => {
    const line = Records.encode(Records.invalid(Records.idFromJson("-0")!, 2, "Line 2: x"))
    expect(Records.encode(Records.decode(line)!)).toBe(line)
    const refused = Records.encode(Records.invalid(null, 3, "Line 3: x"))
    expect(Records.encode(Records.decode(refused)!)).toBe(refused)
    expect(Records.decode('{"id":"a","ok":tr')).toBeUndefined()
  })

  it("writes a line without its usage when the answer nests too deeply to serialise", () => {
    let deep: unknown = 1
    for (let i = 0; i < 20_000; i++) deep = [deep]
    const record = {
      id: Records.stringId("a"),
      ok: true as const,
      content: "x",
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2, extra: deep } as never,
      attempts: 1,
      requestId: null
    }
    const line = Records.encode(record)
    expect(JSON.parse(line)).toEqual({ id: "a", ok: true, content: "x", usage: null, attempts: 1, requestId: null })
  })

  it("does not read back a line with two ids or one nested too deeply", () => {
    expect(Records.readBack('{"id":"a","id":"b","ok":true}')).toBeUndefined()
    expect(Records.readBack(`{"id":"a","ok":true,"x":${"[".repeat(100)}${"]".repeat(100)}}`)).toBeUndefined()
  })
})
