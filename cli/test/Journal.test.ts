import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Journal from "../src/journal.js"
import * as Records from "../src/records.js"
import { tempDir } from "./support.js"

const dir = tempDir()
let n = 0
const file = (content: string) => {
  const path = Path.join(dir, `results-${n++}.jsonl`)
  Fs.writeFileSync(path, content)
  return path
}

const okLine = (id: string) => JSON.stringify({ id, ok: true, content: id, usage: null, attempts: 1, requestId: null })
const failedLine = (id: string, tag: string, reason?: string) =>
  JSON.stringify({ id, ok: false, error: { _tag: tag, message: "x", ...(reason ? { reason } : {}) }, attempts: 3 })

const open = (path: string, options: Partial<Journal.Options> = {}) =>
  Journal.open(path, { fresh: false, retryFailed: false, ...options })

afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

describe("Journal", () => {
  it.scoped("reads back the finished ids and appends after them", () =>
    Effect.gen(function* () {
      const path = file(`${okLine("a")}\n${failedLine("b", "Transient")}\n`)
      const journal = yield* open(path)
      expect(journal.finished(Records.idKey(Records.stringId("a")))).toMatchObject({ ok: true })
      expect(journal.finished(Records.idKey(Records.stringId("b")))).toMatchObject({ ok: false, retriable: true })
      expect(journal.finished(Records.idKey(Records.stringId("c")))).toBeUndefined()
      yield* journal.append({
        id: Records.stringId("c"),
        ok: true,
        content: "c",
        usage: null,
        attempts: 1,
        requestId: null
      })
      expect(Fs.readFileSync(path, "utf8").trim().split("\n")).toHaveLength(3)
    })
  )

  it.scoped("cuts off a torn last line so the next append starts on a fresh line", () =>
    Effect.gen(function* () {
      const path = file(`${okLine("a")}\n{"id":"b","ok":tr`)
      const journal = yield* open(path)
      expect(journal.recovery.tornLineRemoved).toBe(true)
      expect(journal.finished(Records.idKey(Records.stringId("b")))).toBeUndefined()
      expect(Fs.readFileSync(path, "utf8")).toBe(`${okLine("a")}\n`)
    })
  )

  it.scoped("rewrites the file without corrupt lines and repeated ids", () =>
    Effect.gen(function* () {
      const path = file(`${okLine("a")}\ngarbage\n\n${okLine("a")}\n${okLine("b")}\n`)
      const journal = yield* open(path)
      expect(journal.recovery.unreadableRemoved).toBe(3)
      expect(Fs.readFileSync(path, "utf8")).toBe(`${okLine("a")}\n${okLine("b")}\n`)
    })
  )

  it.scoped("drops failed calls with retryFailed but keeps refused input lines", () =>
    Effect.gen(function* () {
      const refused = JSON.stringify(Records.invalid(null, 4, "Line 4: not valid JSON"))
      const path = file(
        `${okLine("a")}\n${failedLine("b", "AuthError")}\n${failedLine("c", "Validation", "InvalidInput")}\n${refused}\n`
      )
      const journal = yield* open(path, { retryFailed: true })
      expect(journal.recovery.failedDropped).toBe(1)
      expect(journal.finished(Records.idKey(Records.stringId("b")))).toBeUndefined()
      expect(journal.finished(Records.idKey(Records.stringId("c")))).toMatchObject({ ok: false, retriable: false })
      expect(journal.finished(Records.lineKey(4))).toMatchObject({ ok: false })
      expect(Fs.readFileSync(path, "utf8")).not.toContain('"b"')
    })
  )

  it.scoped("with every id hashing alike, knows exactly the finished ids and still removes the repeated one", () =>
    Effect.gen(function* () {
      const path = file(`${okLine("a")}\n${failedLine("b", "Transient")}\n${okLine("a")}\n${okLine("c")}\n`)
      const journal = yield* open(path, { hash: () => 42 })
      expect(journal.recovery).toMatchObject({ kept: 3, unreadableRemoved: 1 })
      expect(journal.finished(Records.idKey(Records.stringId("a")))).toMatchObject({ ok: true })
      expect(journal.finished(Records.idKey(Records.stringId("b")))).toMatchObject({ ok: false, retriable: true })
      expect(journal.finished(Records.idKey(Records.stringId("c")))).toMatchObject({ ok: true })
      // Unfinished ids that share the hash (and a prefix) are not taken for finished ones.
      for (const id of ["d", "aa", "", "A"])
        expect(journal.finished(Records.idKey(Records.stringId(id)))).toBeUndefined()
      expect(Fs.readFileSync(path, "utf8")).toBe(`${okLine("a")}\n${failedLine("b", "Transient")}\n${okLine("c")}\n`)
    })
  )

  it.scoped("shares its table of ids: what another user adds there is not taken for finished", () =>
    Effect.gen(function* () {
      const path = file(`${okLine("a")}\ngarbage\n${okLine("b")}\n`)
      const journal = yield* open(path, { expectedIds: 4 })
      const key = (id: string) => Records.idKey(Records.stringId(id))
      // The rewrite (of the corrupt line) filled the same table again, with the same ids.
      expect([journal.recovery.unreadableRemoved, journal.ids.size]).toEqual([1, 2])
      journal.ids.setValueAt(journal.ids.add(key("c")), 3)
      journal.ids.setValueAt(journal.ids.add(key("a")), 1)
      expect(journal.finished(key("c"))).toBeUndefined()
      expect(journal.finished(key("a"))).toMatchObject({ ok: true })
      expect(journal.finished(key("b"))).toMatchObject({ ok: true })
    })
  )

  it.scoped("starts over with fresh", () =>
    Effect.gen(function* () {
      const path = file(`${okLine("a")}\n`)
      const journal = yield* open(path, { fresh: true })
      expect(journal.finished(Records.idKey(Records.stringId("a")))).toBeUndefined()
      expect(Fs.readFileSync(path, "utf8")).toBe("")
    })
  )

  it.effect("refuses a results file another live process holds, and releases its own lock", () =>
    Effect.gen(function* () {
      const path = file("")
      Fs.writeFileSync(`${path}.lock`, `${process.ppid}\n`)
      const busy = yield* Effect.exit(Effect.scoped(open(path)))
      expect(Exit.isFailure(busy)).toBe(true)
      expect(JSON.stringify(busy)).toContain("another run")

      Fs.writeFileSync(`${path}.lock`, "99999999\n")
      yield* Effect.scoped(open(path))
      expect(Fs.existsSync(`${path}.lock`)).toBe(false)
    })
  )

  it.effect("refuses a results file whose lock holds no pid yet, instead of taking it as stale", () =>
    Effect.gen(function* () {
      const path = file(`${okLine("a")}\n`)
      Fs.writeFileSync(`${path}.lock`, "")
      const fiber = yield* Effect.fork(Effect.exit(Effect.scoped(open(path))))
      yield* TestClock.adjust("10 seconds")
      const busy = yield* Fiber.join(fiber)
      expect(Exit.isFailure(busy)).toBe(true)
      expect(JSON.stringify(busy)).toContain("another run")
      expect(Fs.readFileSync(`${path}.lock`, "utf8")).toBe("")
      expect(Fs.readFileSync(path, "utf8")).toBe(`${okLine("a")}\n`)
    })
  )
})
