/**
 * The CLI as its users run it: compiled to `cli/dist` and bundled into `cli/dist/bin.js` (the library to `dist`)
 * from this checkout's sources, once per benchmark run. `npm run cli` runs the sources through a TypeScript loader
 * that costs, on this machine, about 1.3 s of CPU and 70 MiB of RSS at start: a cost of the checkout, not of the
 * installed CLI, and at 3,000 calls alone 0.4 ms a call.
 */
import { spawn } from "node:child_process"

let built: Promise<string> | undefined

export const run = (command: string, args: ReadonlyArray<string>) =>
  new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "inherit"] })
    child.once("error", reject)
    child.once("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited with ${code}`))
    )
  })

/** The path of the compiled CLI's entry, built on first use. */
export const builtCliBin = (): Promise<string> =>
  (built ??= run("npm", ["run", "--silent", "build", "--prefix", "cli"]).then(() => "cli/dist/bin.js"))
