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

let built: Promise<Library> | undefined

/** The built library, or the sources when `BENCH_FROM_SOURCES=1` (to compare the two). */
export const builtLibrary = (): Promise<Library> =>
  (built ??=
    process.env.BENCH_FROM_SOURCES === "1"
      ? import("../../src/index.js")
      : run("npm", ["run", "--silent", "build"]).then(
          () => import(pathToFileURL(Path.resolve("dist/index.js")).href) as Promise<Library>
        ))
