import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const src = resolve(dirname(fileURLToPath(import.meta.url)), "../src")

/** Every module specifier a file imports or re-exports, type-only imports excluded (they vanish at build). */
const specifiers = (file: string): Array<string> => {
  // Comments hold @example code that imports the package itself; only real statements count.
  const text = readFileSync(file, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "")
  const found: Array<string> = []
  for (const match of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^"';]*?from\s+"([^"]+)"/gm)) {
    if (match[2] === undefined) found.push(match[3]!)
  }
  for (const match of text.matchAll(/^\s*import\s+"([^"]+)"/gm)) found.push(match[1]!)
  return found
}

/** The bare packages reachable from a module through relative imports. */
const packagesReachableFrom = (entry: string): Set<string> => {
  const seen = new Set<string>()
  const packages = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    for (const spec of specifiers(file)) {
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec.replace(/\.js$/, ".ts")))
      else packages.add(spec)
    }
  }
  visit(entry)
  return packages
}

describe("library entry", () => {
  it("imports only effect and @effect/platform, at any depth", () => {
    const packages = [...packagesReachableFrom(resolve(src, "index.ts"))]
    expect(packages.length).toBeGreaterThan(3)
    expect(
      packages.filter(
        (p) =>
          !(p === "effect" || p.startsWith("effect/") || p.startsWith("@effect/platform/") || p === "@effect/platform")
      )
    ).toEqual([])
  })

  it("keeps the testing subpath to node: modules, effect and @effect/platform (the in-process client)", () => {
    const packages = [...packagesReachableFrom(resolve(src, "testing/index.ts"))]
    expect(packages).toContain("@effect/platform/HttpClient")
    expect(
      packages.filter(
        (p) =>
          !(p.startsWith("node:") || p === "effect" || p.startsWith("effect/") || p.startsWith("@effect/platform/"))
      )
    ).toEqual([])
  })
})
