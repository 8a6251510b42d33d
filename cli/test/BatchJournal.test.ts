import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as BatchJournal from "../src/batchJournal.js"
import { tempDir } from "./support.js"

const lines = (...entries: ReadonlyArray<unknown>) => entries.map((e) => `${JSON.stringify(e)}\n`).join("")

const opened = (output: string, fresh = false) =>
  Effect.runPromise(Effect.scoped(Effect.map(BatchJournal.open(output, { fresh }), (journal) => journal.recorded)))

describe("the batch journal", () => {
  it("knows the batch and the confirmed chunks, and keeps an unconfirmed chunk unsure after later ones", async () => {
    const output = Path.join(tempDir(), "out.jsonl")
    Fs.writeFileSync(
      `${output}.batch`,
      lines(
        { creating: "job" },
        { batch_id: "batch_1", name: "job" },
        { adding: ["a", "b"] },
        { added: 2 },
        { adding: ["c", "d"] },
        { adding: ["e"] },
        { added: 1 },
        { adding: ["f"] }
      )
    )
    const recorded = await opened(output)
    expect(recorded.batchId).toBe("batch_1")
    expect(recorded.name).toBe("job")
    expect([...recorded.added]).toEqual(["a", "b", "e"])
    expect(recorded.uncertain).toEqual(["c", "d", "f"])
  })

  it("settles unsure ids by a present entry or a later confirmed chunk", async () => {
    const output = Path.join(tempDir(), "out.jsonl")
    Fs.writeFileSync(
      `${output}.batch`,
      lines({ batch_id: "batch_1" }, { adding: ["a", "b"] }, { present: ["a"] }, { adding: ["b"] }, { added: 1 })
    )
    const recorded = await opened(output)
    expect([...recorded.added].sort()).toEqual(["a", "b"])
    expect(recorded.uncertain).toEqual([])
  })

  it("remembers a creation that never got its id, cuts a torn last line and skips lines it does not know", async () => {
    const output = Path.join(tempDir(), "out.jsonl")
    Fs.writeFileSync(`${output}.batch`, `${lines({ creating: "job" }, "noise", [1])}not json\n{"batch_id":"batch_to`)
    const recorded = await opened(output)
    expect(recorded).toMatchObject({ name: "job", batchId: undefined, uncertain: [] })
    expect(Fs.readFileSync(`${output}.batch`, "utf8").endsWith("not json\n")).toBe(true)
    expect(await opened(output, true)).toMatchObject({ name: undefined, batchId: undefined })
    expect(Fs.readFileSync(`${output}.batch`, "utf8")).toBe("")
  })

  it("writes each entry as one complete line", async () => {
    const output = Path.join(tempDir(), "out.jsonl")
    await Effect.runPromise(
      Effect.scoped(
        Effect.flatMap(BatchJournal.open(output, { fresh: true }), (journal) =>
          Effect.all([journal.creating("n"), journal.created("batch_9", "n"), journal.adding(["x"]), journal.added(1)])
        )
      )
    )
    const recorded = await opened(output)
    expect(recorded).toMatchObject({ batchId: "batch_9", name: "n", uncertain: [] })
    expect([...recorded.added]).toEqual(["x"])
  })
})
