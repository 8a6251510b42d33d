// Runs the complete @effect/vitest tests that docs/testing.md shows, as written there: a docs example that stops
// passing fails the suite. (`npm run typecheck` type-checks every docs example; this runs the test ones.)
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { extract, moduleText } from "../scripts/doc-examples.js"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const out = join(root, ".doc-examples", "run")
mkdirSync(out, { recursive: true })

const tests = extract(readFileSync(join(root, "docs/testing.md"), "utf8"), "docs/testing.md").filter(
  (block) => block.skipped === undefined && block.code.includes('from "@effect/vitest"')
)
if (tests.length === 0) throw new Error("docs/testing.md shows no @effect/vitest test any more")
for (const block of tests) {
  const file = join(out, `testing.${block.line}.ts`)
  writeFileSync(file, moduleText(block))
  await import(file)
}
