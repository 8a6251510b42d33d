/**
 * The ioredis connection of the Redis store: created lazily, reconnecting forever with backoff, failing commands
 * fast while disconnected (no offline queue, no replay of unanswered commands after a reconnect), every command
 * bounded by a short timeout, and scripts run with `EVALSHA` and reloaded after `NOSCRIPT`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { Redis, type RedisOptions } from "ioredis"
import { RateLimiterStoreError } from "../../RateLimiterStore.js"
import type * as Scripts from "./scripts.js"

export interface Options {
  /** Redis URL, e.g. `redis://:password@host:6379/0` or `rediss://…` for TLS. Default `redis://127.0.0.1:6379`. */
  readonly url?: string
  /**
   * A client of your own. The store then neither connects nor closes it, and its own settings (offline queue,
   * retries) apply; every command is still bounded by `commandTimeout`.
   */
  readonly client?: Redis
  /** Extra ioredis options, applied over the store's defaults (e.g. `tls`, `username`, `db`). */
  readonly redis?: RedisOptions
  /** Longest wait for any one Redis command; past it the command counts as failed. Default 500 ms. */
  readonly commandTimeout?: Duration.DurationInput
  /** Longest wait for a connection, at start and on every reconnect. Default 1 second. */
  readonly connectTimeout?: Duration.DurationInput
}

/**
 * An open connection.
 */
export interface Connection {
  readonly client: Redis
  /** Runs a script (EVALSHA, and SCRIPT LOAD + EVALSHA once after NOSCRIPT), bounded by the command timeout. */
  readonly run: (
    operation: RateLimiterStoreError["operation"],
    script: Scripts.Script,
    keys: ReadonlyArray<string>,
    args: ReadonlyArray<string>
  ) => Effect.Effect<unknown, RateLimiterStoreError>
  /** PING, bounded by the command timeout. */
  readonly ping: Effect.Effect<void, RateLimiterStoreError>
  /** The last connection error ioredis reported, for messages. */
  readonly lastError: () => string | undefined
}

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const isNoScript = (cause: unknown): boolean => cause instanceof Error && cause.message.startsWith("NOSCRIPT")

/**
 * Runs a script by its SHA; if Redis no longer has it (restart, `SCRIPT FLUSH`, failover to a replica), loads it
 * and runs it again.
 */
export const evalScript = async (
  client: Redis,
  script: Scripts.Script,
  keys: ReadonlyArray<string>,
  args: ReadonlyArray<string>
): Promise<unknown> => {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args)
  } catch (cause) {
    if (!isNoScript(cause)) throw cause
    await client.script("LOAD", script.lua)
    return await client.evalsha(script.sha, keys.length, ...keys, ...args)
  }
}

/**
 * Opens the connection in the current scope and closes it (QUIT, then disconnect) when the scope closes. It never
 * fails: when Redis is not there yet, the client keeps reconnecting in the background and commands fail fast with
 * `RateLimiterStoreError` until it answers.
 */
export const make = (options: Options = {}): Effect.Effect<Connection, never, Scope.Scope> =>
  Effect.gen(function* () {
    const commandTimeout = Duration.toMillis(Duration.decode(options.commandTimeout ?? "500 millis"))
    const connectTimeout = Duration.toMillis(Duration.decode(options.connectTimeout ?? "1 second"))
    let lastError: string | undefined
    const owned = options.client === undefined
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        if (options.client !== undefined) return options.client
        const created = new Redis(options.url ?? "redis://127.0.0.1:6379", {
          lazyConnect: true,
          enableOfflineQueue: false,
          autoResendUnfulfilledCommands: false,
          maxRetriesPerRequest: 0,
          connectTimeout,
          commandTimeout,
          retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
          ...options.redis
        })
        // Without a listener ioredis reports every failed reconnect on stderr; the store reports outages itself.
        created.on("error", (error: Error) => {
          lastError = error.message
        })
        return created
      }),
      (client) =>
        owned
          ? Effect.promise(() => client.quit().catch(() => undefined)).pipe(
              Effect.timeout(Duration.millis(commandTimeout)),
              Effect.ignore,
              Effect.ensuring(Effect.sync(() => client.disconnect()))
            )
          : Effect.void
    )
    if (owned) {
      // Wait for the first connection, but never fail: a Redis that is down now is an outage like any other.
      yield* Effect.promise(() => client.connect().catch((error: unknown) => void (lastError = describe(error)))).pipe(
        Effect.timeout(Duration.millis(connectTimeout + 100)),
        Effect.ignore
      )
    }

    /** ioredis's words for "not connected" name its options; say what happened instead. */
    const explain = (cause: unknown): string => {
      const text = describe(cause)
      if (/Command timed out/i.test(text)) return `no answer within ${commandTimeout} ms`
      if (/max retries per request/i.test(text)) return "connection lost while the command was in flight"
      if (/Connection is closed/i.test(text)) return "connection lost"
      if (!/enableOfflineQueue|Stream isn't writeable/i.test(text)) return text
      return lastError === undefined ? "not connected" : `not connected (${lastError})`
    }

    const bounded = <A>(
      operation: RateLimiterStoreError["operation"],
      what: string,
      f: () => Promise<A>
    ): Effect.Effect<A, RateLimiterStoreError> =>
      Effect.tryPromise({
        try: f,
        // The message only: ioredis errors carry the failed command and its arguments (an AUTH carries a password).
        catch: (cause) => new RateLimiterStoreError({ operation, detail: `${what}: ${explain(cause)}` })
      }).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(commandTimeout + 50),
          onTimeout: () =>
            new RateLimiterStoreError({ operation, detail: `${what}: no answer within ${commandTimeout} ms` })
        })
      )

    return {
      client,
      run: (operation, script, keys, args) =>
        bounded(operation, `Redis ${script.name} script`, () => evalScript(client, script, keys, args)),
      ping: Effect.asVoid(bounded("reserve", "Redis PING", () => client.ping())),
      lastError: () => lastError
    }
  })
