/**
 * The library as its users run it: tsc's output in `dist` (what the package ships), built from this checkout's
 * sources once per benchmark run. Run from the sources instead, through tsx, every named closure the call path makes
 * is wrapped in a `__name` call (tsx keeps function names): in memory (`bench/call-overhead.ts`) that costs about
 * 40 µs a sequential call on this machine, a cost of the checkout that no installed copy pays.
 */
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import { run } from "./builtCli.js"

export type Library = typeof import("../../src/index.js")
export type Testing = typeof import("../../src/testing/index.js")

/** Set for a child process whose parent has just built `dist`: the child imports it without building again. */
export const BUILT_ENV = "BENCH_LIBRARY_BUILT"

const fromSources = () => process.env.BENCH_FROM_SOURCES === "1"

let built: Promise<void> | undefined

/** Builds `dist` once per process, unless the parent did or the sources are measured. */
const ensureBuilt = (): Promise<void> =>
  (built ??=
    fromSources() || process.env[BUILT_ENV] === "1" ? Promise.resolve() : run("npm", ["run", "--silent", "build"]))

const importBuilt = <T>(entry: string): Promise<T> =>
  import(pathToFileURL(Path.resolve("dist", entry)).href) as Promise<T>

/** The built library, or the sources when `BENCH_FROM_SOURCES=1` (to compare the two). */
export const builtLibrary = (): Promise<Library> =>
  fromSources() ? import("../../src/index.js") : ensureBuilt().then(() => importBuilt<Library>("index.js"))

/** The library's testing entry (the fake Grok server), from the same build. */
export const builtTesting = (): Promise<Testing> =>
  fromSources()
    ? import("../../src/testing/index.js")
    : ensureBuilt().then(() => importBuilt<Testing>("testing/index.js"))
