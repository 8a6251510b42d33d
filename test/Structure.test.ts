import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const sourceDirs = ["src", "cli/src"]
  .map((dir) => join(root, dir))
  .filter((dir) => {
    try {
      return statSync(dir).isDirectory()
    } catch {
      return false
    }
  })

const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith(".ts") ? [path] : []
  })

const sources = sourceDirs.flatMap(filesUnder)
const parsed = sources.map((file) => ({
  file,
  source: ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true)
}))

const lineOf = (source: ts.SourceFile, pos: number) => source.getLineAndCharacterOfPosition(pos).line

/** Every function, method and arrow function with the lines it spans. */
const functionsOf = (source: ts.SourceFile) => {
  const found: Array<{ readonly name: string; readonly lines: number }> = []
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
      const lines = lineOf(source, node.getEnd()) - lineOf(source, node.getStart(source)) + 1
      const parent = node.parent
      const name =
        parent !== undefined && ts.isVariableDeclaration(parent)
          ? parent.name.getText(source)
          : `line ${lineOf(source, node.getStart(source)) + 1}`
      found.push({ name, lines })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

/** Relative imports of a file, resolved to source paths (type-only imports included: a cycle is a cycle). */
const importsOf = (file: string, source: ts.SourceFile): Array<string> =>
  source.statements.flatMap((statement) => {
    if (!(ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement))) return []
    const spec = statement.moduleSpecifier
    if (spec === undefined || !ts.isStringLiteral(spec) || !spec.text.startsWith(".")) return []
    return [resolve(dirname(file), spec.text.replace(/\.js$/, ".ts"))]
  })

describe("the source tree", () => {
  it("has no source file over 400 lines", () => {
    const big = parsed
      .map(({ file, source }) => ({ file: relative(root, file), lines: lineOf(source, source.getEnd()) + 1 }))
      .filter((f) => f.lines > 400)
    expect(big).toEqual([])
  })

  it("has no function over 80 lines", () => {
    const long = parsed.flatMap(({ file, source }) =>
      functionsOf(source)
        .filter((f) => f.lines > 80)
        .map((f) => `${relative(root, file)}: ${f.name} (${f.lines} lines)`)
    )
    expect(long).toEqual([])
  })

  it("has no import cycle", () => {
    const graph = new Map(parsed.map(({ file, source }) => [file, importsOf(file, source)]))
    const cycles: Array<string> = []
    const state = new Map<string, "visiting" | "done">()
    const visit = (file: string, path: Array<string>) => {
      if (state.get(file) === "done") return
      if (state.get(file) === "visiting") {
        cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(root, f)).join(" → "))
        return
      }
      state.set(file, "visiting")
      for (const next of graph.get(file) ?? []) visit(next, [...path, file])
      state.set(file, "done")
    }
    for (const file of graph.keys()) visit(file, [])
    expect(cycles).toEqual([])
  })

  it("keeps @since tags out of src/internal, which is not public API", () => {
    const tagged = parsed
      .filter(({ file }) => file.includes(`${join("src", "internal")}`))
      .filter(({ source }) => source.getFullText().includes("@since"))
      .map(({ file }) => relative(root, file))
    expect(tagged).toEqual([])
  })
})
