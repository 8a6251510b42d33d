/**
 * Logging of the CLI: on stderr only (stdout carries `--json-summary`). By default only warnings that matter to
 * the whole run are shown (the shared limiter's store unreachable, the queue shedding); the per-call lines (retries,
 * failures, which the results file records) and cooldown notes are left to `--verbose`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

/** Messages of every call or every 429: the results file and the progress display already say it. */
const perCall = (text: string): boolean => text.startsWith("grok call") || text.startsWith("RateLimiter: cooldown")

const textOf = (message: unknown): string =>
  Array.isArray(message) ? message.map(String).join(" ") : typeof message === "string" ? message : String(message)

/**
 * The default logger: `warning: <message>` for the warnings worth seeing during a batch, nothing else.
 *
 * @since 0.1.0
 * @category loggers
 */
export const runWarnings = (write: (text: string) => void, tty: boolean): Logger.Logger<unknown, void> =>
  Logger.make(({ logLevel, message }) => {
    if (LogLevel.lessThan(logLevel, LogLevel.Warning)) return
    const text = textOf(message)
    if (perCall(text)) return
    write(`${tty ? "\r\x1b[2K" : ""}${logLevel._tag.toLowerCase()}: ${text}\n`)
  })

/**
 * Runs the command's effect with the CLI's logging: `--verbose` logs everything from debug up (logfmt); the
 * built-in `--log-level` logs from that level (logfmt); otherwise `runWarnings`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withLogging =
  (options: { readonly verbose: boolean; readonly write: (text: string) => void; readonly tty: boolean }) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(FiberRef.get(FiberRef.currentMinimumLogLevel), (level) => {
      const chosen = options.verbose ? LogLevel.Debug : level === LogLevel.Info ? undefined : level
      const logger =
        chosen === undefined
          ? runWarnings(options.write, options.tty)
          : Logger.map(Logger.logfmtLogger, (line) => options.write(`${line}\n`))
      return self.pipe(
        Logger.withMinimumLogLevel(chosen ?? LogLevel.Warning),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
    })
