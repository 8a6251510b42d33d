// Reads node_modules/.package-lock.json (what is installed on this machine) of a project that installed only the library tarball and fails unless every package
// in it is the library, effect, @effect/platform, or something those two depend on (dependencies, optional
// dependencies and peers, followed transitively). Prints the count.
const Fs = require("node:fs")

const lock = JSON.parse(Fs.readFileSync(process.argv[2], "utf8"))
const installed = new Map()
for (const [path, entry] of Object.entries(lock.packages)) {
  if (!path.includes("node_modules/")) continue
  const name = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length)
  installed.set(name, [...(installed.get(name) ?? []), entry])
}

const roots = ["effect", "@effect/platform"]
for (const name of roots) if (!installed.has(name)) throw new Error(`${name} was not installed with the library`)
const reached = new Set()
const queue = [...roots]
while (queue.length > 0) {
  const name = queue.pop()
  if (reached.has(name) || !installed.has(name)) continue
  reached.add(name)
  for (const entry of installed.get(name)) {
    for (const field of ["dependencies", "optionalDependencies", "peerDependencies"]) {
      queue.push(...Object.keys(entry[field] ?? {}))
    }
  }
}
const stray = [...installed.keys()].filter((name) => name !== "grok-resilience" && !reached.has(name))
if (stray.length > 0) throw new Error(`the library alone also installed: ${stray.join(", ")}`)
console.log(`library alone installs ${installed.size} packages: grok-resilience, ${[...reached].sort().join(", ")}`)
