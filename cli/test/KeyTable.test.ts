import { describe, expect, it } from "@effect/vitest"
import { fnv1a, KeyTable } from "../src/keyTable.js"

/** Every key hashes alike: every lookup walks the same probe chain and must tell keys apart by their text. */
const collide = () => 7

describe("KeyTable", () => {
  it("keeps distinct keys apart when every key has the same hash", () => {
    const table = new KeyTable(collide)
    table.set("ia", 1)
    table.set("ib", 2)
    expect(table.get("ia")).toBe(1)
    expect(table.get("ib")).toBe(2)
    expect(table.get("ic")).toBeUndefined()
    expect(table.has("i")).toBe(false)
    expect(table.has("iab")).toBe(false)
    expect(table.size).toBe(2)
  })

  it("finds a real pair of FNV-1a collisions as two keys", () => {
    // Search a few thousand short keys for two with the same default hash, then check both are kept apart.
    const byHash = new Map<number, string>()
    let pair: [string, string] | undefined
    for (let i = 0; pair === undefined && i < 200_000; i++) {
      const key = `i${i.toString(36)}`
      const other = byHash.get(fnv1a(key) & 0xffff)
      if (other !== undefined) pair = [other, key]
      else byHash.set(fnv1a(key) & 0xffff, key)
    }
    expect(pair).toBeDefined()
    // The low 16 bits collide, so both keys start probing at the same slot of a small table.
    const table = new KeyTable()
    table.set(pair![0], 10)
    expect(table.get(pair![1])).toBeUndefined()
    table.set(pair![1], 20)
    expect([table.get(pair![0]), table.get(pair![1])]).toEqual([10, 20])
  })

  it("replaces the number of a key set twice", () => {
    const table = new KeyTable()
    table.set("i1", 3)
    table.set("i1", 4)
    expect(table.get("i1")).toBe(4)
    expect(table.size).toBe(1)
  })

  it("tells apart keys that differ only above U+00FF, lone surrogates included", () => {
    const table = new KeyTable(collide)
    const keys = ["i\u0100", "i\u0001", "i\ud800", "i\udbff", "i\u00ff", "i\u{1f600}", "ié", "i\u00e9\u0000"]
    keys.forEach((key, i) => table.set(key, i))
    keys.forEach((key, i) => expect(table.get(key)).toBe(i))
    expect(table.get("i\ufffd")).toBeUndefined()
    expect(table.get("i\u0000")).toBeUndefined()
  })

  it("keeps every key through the growth of its arrays", () => {
    const table = new KeyTable()
    const count = 50_000
    for (let i = 0; i < count; i++) table.set(i % 3 === 0 ? `iπ-${i}` : `iid-${i}`, i)
    expect(table.size).toBe(count)
    for (let i = 0; i < count; i++) expect(table.get(i % 3 === 0 ? `iπ-${i}` : `iid-${i}`)).toBe(i)
    expect(table.get(`iid-${count}`)).toBeUndefined()
    // The arrays, not one object per key: well under 100 bytes a key.
    expect(table.bytes / count).toBeLessThan(100)
  })

  it("sized for some keys, grows past them and keeps every key", () => {
    const table = new KeyTable(fnv1a, 1000)
    const sized = table.bytes
    for (let i = 0; i < 3000; i++) table.set(`iid-${i}`, i)
    expect(table.bytes).toBeGreaterThan(sized)
    for (let i = 0; i < 3000; i++) expect(table.get(`iid-${i}`)).toBe(i)
    expect(new KeyTable(fnv1a, 100_000).bytes).toBeGreaterThan(new KeyTable().bytes)
  })

  it("keeps each entry's tag apart from its value, through growth and with colliding hashes", () => {
    const table = new KeyTable(collide)
    const count = 600
    for (let i = 0; i < count; i++) table.setTagAt(table.add(`i${i}`), i % 256)
    for (let i = 0; i < count; i += 2) table.setValueAt(table.add(`i${i}`), i + 1)
    expect(table.size).toBe(count)
    for (let i = 0; i < count; i++) {
      const entry = table.entryOf(`i${i}`)
      expect([table.tagAt(entry), table.valueAt(entry)]).toEqual([i % 256, i % 2 === 0 ? i + 1 : 0])
    }
    expect(table.entryOf(`i${count}`)).toBe(-1)
    // Adding a key the table holds gives its entry back, tag and value untouched.
    expect(table.add("i3")).toBe(table.entryOf("i3"))
    expect(table.tagAt(table.entryOf("i3"))).toBe(3)
    expect(table.size).toBe(count)
    for (const tag of [-1, 256, 1.5]) expect(() => table.setTagAt(0, tag)).toThrow(RangeError)
    expect(() => table.setValueAt(0, -1)).toThrow(RangeError)
  })

  it("clear forgets every key and keeps its arrays", () => {
    const table = new KeyTable(fnv1a, 10)
    for (let i = 0; i < 3000; i++) table.set(`iid-${i}`, i)
    const bytes = table.bytes
    table.clear()
    expect(table.size).toBe(0)
    expect(table.has("iid-1")).toBe(false)
    table.set("iother", 7)
    for (let i = 0; i < 3000; i++) table.setTagAt(table.add(`iid-${i}`), 1)
    expect(table.bytes).toBe(bytes)
    expect(table.get("iother")).toBe(7)
    expect([table.get("iid-5"), table.tagAt(table.entryOf("iid-5")), table.size]).toEqual([0, 1, 3001])
  })

  it("holds 32-bit whole numbers and refuses any other", () => {
    const table = new KeyTable()
    table.set("imax", 0xffffffff)
    expect(table.get("imax")).toBe(0xffffffff)
    for (const value of [-1, 0.5, 2 ** 32, Number.NaN]) expect(() => table.set("ibad", value)).toThrow(RangeError)
    expect(table.has("ibad")).toBe(false)
  })
})
