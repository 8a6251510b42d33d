/**
 * The errors that stop the CLI before or outside the batch itself: bad options, unreadable files, a busy output.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * A usage or configuration problem: the CLI prints the message and exits with code 2.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/**
 * Exit codes of the `batch` command.
 *
 * @since 0.1.0
 * @category constants
 */
export const ExitCode = {
  /** Every input id has an `ok: true` line. */
  ok: 0,
  /** The run finished (or stopped) and some ids have an error line or none. */
  failed: 1,
  /** Bad options, unreadable input, invalid scenario, output locked by another run. */
  usage: 2,
  /** Interrupted by Ctrl-C (SIGINT); the same command resumes. */
  interrupted: 130,
  /** Stopped by SIGTERM (`timeout`, systemd, Kubernetes); the same command resumes. */
  terminated: 143
} as const

/**
 * The message of anything thrown by Node's `fs`, without the stack.
 *
 * @since 0.1.0
 * @category utils
 */
export const describe = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : JSON.stringify(cause)
