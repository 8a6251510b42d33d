/**
 * Signals of the CLI process. `NodeRuntime.runMain` interrupts the run on the first SIGINT or SIGTERM alike: calls on
 * their way get the grace period, the summary is printed, the lock released. This module remembers which signal came
 * first, for the exit code (130 after SIGINT, 143 after SIGTERM), and makes a second signal exit at once (the lock is
 * released by its exit hook; every results line is one synchronous write, so none is torn).
 *
 * @since 0.2.0
 */
import * as Os from "node:os"
import { ExitCode } from "./errors.js"

type Stop = "SIGINT" | "SIGTERM"

const codeOf = (signal: Stop): number => 128 + Os.constants.signals[signal]

/**
 * Starts listening; `exitCode` is the code of an interrupted run.
 *
 * @since 0.2.0
 * @category constructors
 */
export const watch = (write: (text: string) => void): { readonly interruptedCode: () => number } => {
  let first: Stop | undefined
  const on = (signal: Stop) => () => {
    if (first === undefined) {
      first = signal
      return
    }
    write(`\n${signal} again: exiting at once; the calls still on their way are sent again on resume.\n`)
    process.exit(codeOf(first))
  }
  process.on("SIGINT", on("SIGINT"))
  process.on("SIGTERM", on("SIGTERM"))
  return { interruptedCode: () => (first === undefined ? ExitCode.interrupted : codeOf(first)) }
}
