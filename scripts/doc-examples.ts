/**
 * Extracts every ```ts block of README.md and docs/*.md into .doc-examples/, one module per block, so that
 * `npm run typecheck` type-checks the examples users copy (tsconfig.docs.json). A block that is a fragment on
 * purpose (a signature, pseudocode) is marked on the line before its fence with `<!-- not type-checked: why -->`.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { basename, dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"

export interface Block {
  /** The markdown file, relative to the repository root. */
  readonly source: string
  /** 1-based line of the opening fence. */
  readonly line: number
  readonly code: string
  /** Why the block is not type-checked, when it is marked so. */
  readonly skipped?: string
}

const FENCE = /^```(ts|typescript)\s*$/
const SKIP = /^<!--\s*not type-checked:\s*(.*?)\s*-->\s*$/

/** The TypeScript blocks of one markdown text, in order. An unclosed fence runs to the end of the text. */
export const extract = (markdown: string, source: string): Array<Block> => {
  const lines = markdown.split(/\r?\n/)
  const blocks: Array<Block> = []
  for (let i = 0; i < lines.length; i++) {
    if (!FENCE.test(lines[i]!)) continue
    const start = i
    const body: Array<string> = []
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!)
    const marker = start > 0 ? SKIP.exec(lines[start - 1]!) : null
    const reason = marker?.[1]
    blocks.push({
      source,
      line: start + 1,
      code: body.join("\n"),
      ...(reason !== undefined ? { skipped: reason === "" ? "(no reason given)" : reason } : {})
    })
  }
  return blocks
}

/** The markdown files whose examples are checked: README.md and docs/*.md. */
export const markdownFiles = (root: string): Array<string> => [
  join(root, "README.md"),
  ...readdirSync(join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => join(root, "docs", name))
]

/**
 * The module written for a block: a header naming its origin, blank lines so that each line of code keeps its line
 * number in the markdown (a compiler error points into the doc), the code, and `export {}` to make it a module.
 */
export const moduleText = (block: Block): string =>
  `// Extracted from ${block.source}:${block.line} by scripts/doc-examples.ts: edit the markdown, not this file.\n` +
  "\n".repeat(Math.max(0, block.line - 1)) +
  `${block.code}\n\nexport {}\n`

const main = () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
  const out = join(root, ".doc-examples")
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  const blocks = markdownFiles(root).flatMap((file) =>
    extract(readFileSync(file, "utf8"), relative(root, file).split("\\").join("/"))
  )
  const checked = blocks.filter((block) => block.skipped === undefined)
  for (const block of checked) {
    const name = `${basename(block.source, ".md")}.${block.line}.ts`
    writeFileSync(join(out, name), moduleText(block))
  }
  for (const block of blocks.filter((b) => b.skipped !== undefined)) {
    console.log(`not type-checked: ${block.source}:${block.line} (${block.skipped})`)
  }
  console.log(`${checked.length} doc examples written to .doc-examples/`)
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
