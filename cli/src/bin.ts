#!/usr/bin/env node
/**
 * The `grok-resilience` executable. It handles SIGINT and SIGTERM itself, so it needs no wrapper to relay them.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import { ExitCode } from "./errors.js"
import * as HeapPolicy from "./heapPolicy.js"
import { run } from "./main.js"
import * as Signals from "./signals.js"

HeapPolicy.apply()

const signals = Signals.watch((text) => void process.stderr.write(text))

NodeRuntime.runMain(run(process.argv), {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit) => {
    const code = Exit.isSuccess(exit)
      ? typeof exit.value === "number"
        ? exit.value
        : ExitCode.failed
      : Cause.isInterruptedOnly(exit.cause)
        ? signals.interruptedCode()
        : ExitCode.failed
    process.exitCode = code
    // Leave once stdout and stderr have drained; a handle left open (a keep-alive socket) must not hold us.
    setTimeout(() => process.exit(code), 2000).unref()
  }
})
