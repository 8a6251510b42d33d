/**
 * Spawns and drives `worker.ts` processes: one JSON command per line in, one JSON answer per line out.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { dirname, resolve } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

const script = resolve(dirname(fileURLToPath(import.meta.url)), "worker.ts")

export interface Worker {
  readonly pid: number
  /** Sends one command and resolves with its answer. */
  readonly send: <A = unknown>(command: object) => Promise<A>
  readonly close: () => Promise<void>
}

/** Starts a worker process and waits until it has connected to Redis. */
export const spawnWorker = (config: { readonly url: string; readonly prefix: string }): Promise<Worker> =>
  new Promise((resolveWorker, reject) => {
    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", script, JSON.stringify(config)], {
      stdio: ["pipe", "pipe", "inherit"]
    })
    const pending: Array<(line: string) => void> = []
    let ready = false
    const lines = createInterface({ input: child.stdout! })
    lines.on("line", (line) => {
      if (!ready) {
        ready = true
        resolveWorker(worker)
        return
      }
      pending.shift()?.(line)
    })
    child.once("exit", (code) => {
      if (!ready) reject(new Error(`worker exited with code ${code} before it was ready`))
    })
    const worker: Worker = {
      pid: child.pid ?? 0,
      send: (command) =>
        new Promise((resolveAnswer, rejectAnswer) => {
          pending.push((line) => {
            const answer = JSON.parse(line)
            if (answer !== null && typeof answer === "object" && "error" in answer)
              rejectAnswer(new Error(answer.error))
            else resolveAnswer(answer)
          })
          child.stdin!.write(JSON.stringify(command) + "\n")
        }),
      close: () =>
        new Promise((resolveClose) => {
          if (child.exitCode !== null) return resolveClose()
          child.once("exit", () => resolveClose())
          child.stdin!.end()
          setTimeout(() => child.kill("SIGKILL"), 5_000).unref()
        })
    }
  })
