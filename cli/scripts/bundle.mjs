// Bundles the compiled executable (dist/bin.js, from tsc) with the library and every package it imports into one
// file, in place. Node then parses and runs only the code a run can reach (esbuild drops the rest: the packages are
// free of side effects), not every module of effect, @effect/platform and @effect/cli: on a ten-line batch the
// process starts in half the CPU and about 35 MiB less memory. The licences of the bundled packages are written
// beside it (dist/bin.licenses.txt), since their code now ships inside ours.
import * as esbuild from "esbuild"
import * as Fs from "node:fs"
import * as Path from "node:path"

const entry = "dist/bin.js"
const result = await esbuild.build({
  entryPoints: [entry],
  outfile: entry,
  allowOverwrite: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // CommonJS packages inside an ES module bundle call require for node's own modules.
  banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
  legalComments: "none",
  metafile: true,
  logLevel: "warning"
})

/** The package directory of a bundled input path (`…/node_modules/name/…` or `…/node_modules/@scope/name/…`). */
const packageDirOf = (input) => {
  const parts = input.split("/")
  const at = parts.lastIndexOf("node_modules")
  if (at < 0) return undefined
  const nameParts = parts[at + 1]?.startsWith("@") ? 2 : 1
  return parts.slice(0, at + 1 + nameParts).join("/")
}

const dirs = new Set()
for (const input of Object.keys(result.metafile.inputs)) {
  const dir = packageDirOf(input)
  if (dir !== undefined) dirs.add(dir)
}
const sections = []
for (const dir of [...dirs].sort()) {
  const manifest = JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8"))
  const licenceFile = Fs.readdirSync(dir).find((name) => /^(licen[cs]e|copying)(\.|$)/i.test(name))
  const text = licenceFile ? Fs.readFileSync(Path.join(dir, licenceFile), "utf8").trim() : `License: ${manifest.license}`
  sections.push(`${manifest.name}@${manifest.version} (${manifest.license})\n\n${text}`)
}
Fs.writeFileSync("dist/bin.licenses.txt", sections.join(`\n\n${"-".repeat(78)}\n\n`) + "\n")
Fs.chmodSync(entry, 0o755)
