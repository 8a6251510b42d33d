import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { extract, markdownFiles, moduleText } from "../scripts/doc-examples.js"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")

describe("doc examples", () => {
  it("extracts ts and typescript blocks with their line, and skips a marked block with its reason", () => {
    const markdown = [
      "# Title",
      "```ts",
      'const a = "checked"',
      "```",
      "```sh",
      "npm test",
      "```",
      "<!-- not type-checked: a signature only -->",
      "```typescript",
      "declare const b: number",
      "```"
    ].join("\n")
    expect(extract(markdown, "docs/x.md")).toEqual([
      { source: "docs/x.md", line: 2, code: 'const a = "checked"' },
      { source: "docs/x.md", line: 9, code: "declare const b: number", skipped: "a signature only" }
    ])
  })

  it("keeps an unclosed block to the end of the file instead of dropping it", () => {
    expect(extract("```ts\nconst a = 1\nconst b = 2", "README.md")).toEqual([
      { source: "README.md", line: 1, code: "const a = 1\nconst b = 2" }
    ])
  })

  it("writes each block as a module that names its origin and keeps the markdown's line numbers", () => {
    const lines = moduleText({ source: "docs/testing.md", line: 12, code: "const a = 1\nconst b = 2" }).split("\n")
    expect(lines[0]).toContain("docs/testing.md:12")
    expect(lines.slice(1, 12).every((line) => line === "")).toBe(true)
    expect(lines.slice(12)).toEqual(["const a = 1", "const b = 2", "", "export {}", ""])
  })

  it("finds every ts block of the README and docs, and each one left out says why", () => {
    const files = markdownFiles(root)
    expect(files.some((file) => file.endsWith("docs/testing.md"))).toBe(true)
    for (const file of files) {
      const text = readFileSync(file, "utf8")
      const fences = text.split("\n").filter((line) => /^```(ts|typescript)\s*$/.test(line)).length
      const blocks = extract(text, file)
      expect(blocks.length).toBe(fences)
      for (const block of blocks.filter((b) => b.skipped !== undefined)) {
        expect(block.skipped).not.toBe("(no reason given)")
        expect(file.endsWith("testing.md") || file.endsWith("README.md")).toBe(false)
      }
    }
  })
})
