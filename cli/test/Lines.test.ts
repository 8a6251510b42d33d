import { afterAll, describe, expect, it } from "@effect/vitest"
import { isUtf8 } from "node:buffer"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { linesOf } from "../src/lines.js"
import * as Utf8 from "../src/utf8.js"
import { tempDir } from "./support.js"

const dir = tempDir()
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

const readLines = (content: Buffer, maxLineBytes?: number) => {
  const path = Path.join(dir, `lines-${Math.random().toString(36).slice(2)}.txt`)
  Fs.writeFileSync(path, content)
  const fd = Fs.openSync(path, "r")
  try {
    return [...linesOf(fd, maxLineBytes === undefined ? {} : { maxLineBytes })]
  } finally {
    Fs.closeSync(fd)
  }
}

describe("Utf8", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<number>, number | undefined]> = [
    ["ascii", [0x61, 0x62], undefined],
    ["two, three and four byte forms", [0xc3, 0xa9, 0xe2, 0x9c, 0x93, 0xf0, 0x9d, 0x84, 0x9e], undefined],
    ["a stray continuation byte", [0x61, 0x80], 1],
    ["0xFF", [0x75, 0xff], 1],
    ["an overlong slash", [0xc0, 0xaf], 0],
    ["an overlong three byte form", [0xe0, 0x80, 0xaf], 0],
    ["a surrogate", [0x61, 0xed, 0xa0, 0x80], 1],
    ["above U+10FFFF", [0xf4, 0x90, 0x80, 0x80], 0],
    ["a sequence cut short", [0x61, 0xe2, 0x9c], 1]
  ]
  for (const [name, bytes, offset] of cases) {
    it(`locates the first fault: ${name}`, () => {
      const buffer = Buffer.from(bytes)
      expect(Utf8.firstInvalid(buffer)).toBe(offset)
      expect(isUtf8(buffer)).toBe(offset === undefined)
      expect(Utf8.decode(buffer)._tag).toBe(offset === undefined ? "Text" : "NotUtf8")
    })
  }
})

describe("linesOf", () => {
  it("gives each line its start offset and a NotUtf8 fault instead of replacement characters", () => {
    const lines = readLines(Buffer.from([0x61, 0x0a, 0x62, 0xfe, 0x0d, 0x0a, 0x63]))
    expect(lines).toEqual([
      { number: 1, text: "a", start: 0, end: 2, terminated: true, fault: undefined },
      { number: 2, text: "", start: 2, end: 6, terminated: true, fault: { _tag: "NotUtf8", offset: 1, byte: 0xfe } },
      { number: 3, text: "c", start: 6, end: 7, terminated: false, fault: undefined }
    ])
  })

  it("skips a line over the limit without keeping it, across read chunks, and reads on", () => {
    const long = Buffer.alloc(200_000, 0x78)
    const lines = readLines(Buffer.concat([long, Buffer.from("\nok\n"), long]), 100_000)
    expect(lines.map((line) => [line.text, line.fault?._tag, line.start])).toEqual([
      ["", "TooLong", 0],
      ["ok", undefined, 200_001],
      ["", "TooLong", 200_004]
    ])
    expect(lines[0]?.fault).toEqual({ _tag: "TooLong", bytes: 200_000, limit: 100_000 })
  })
})
