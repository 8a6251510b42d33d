import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { resolveTarget } from "../src/paths.js"
import { tempDir } from "./support.js"

const dir = tempDir()
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

describe("Paths.resolveTarget", () => {
  it("follows links to a file, links to links and linked directories to the one real file", () => {
    const real = Path.join(dir, "real.jsonl")
    Fs.writeFileSync(real, "")
    Fs.symlinkSync(real, Path.join(dir, "a.jsonl"))
    Fs.symlinkSync("a.jsonl", Path.join(dir, "b.jsonl"))
    Fs.symlinkSync(dir, Path.join(dir, "here"))
    for (const path of ["real.jsonl", "a.jsonl", "b.jsonl", "here/b.jsonl", "here/../real.jsonl"]) {
      expect(resolveTarget(Path.join(dir, path))).toBe(real)
    }
  })

  it("names the file that writing would create, for a missing file and a link to a missing file", () => {
    Fs.symlinkSync("later/../not-yet.jsonl", Path.join(dir, "dangling.jsonl"))
    Fs.mkdirSync(Path.join(dir, "later"))
    expect(resolveTarget(Path.join(dir, "here", "missing.jsonl"))).toBe(Path.join(dir, "missing.jsonl"))
    expect(resolveTarget(Path.join(dir, "dangling.jsonl"))).toBe(Path.join(dir, "not-yet.jsonl"))
  })

  it("fails on a loop of links and on a missing directory", () => {
    Fs.symlinkSync("loop-b", Path.join(dir, "loop-a"))
    Fs.symlinkSync("loop-a", Path.join(dir, "loop-b"))
    expect(() => resolveTarget(Path.join(dir, "loop-a"))).toThrow()
    expect(() => resolveTarget(Path.join(dir, "no-such-dir", "x.jsonl"))).toThrow(/ENOENT/)
  })
})
