/**
 * The queue's Redis connection: ioredis (the optional peer dependency, loaded only by the queue commands), with
 * the scripts defined on it, and one rule for failures: a command that fails because Redis is down or restarting
 * is sent again, with a backoff, for up to `redisWait`; every script is safe to send twice.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { Redis } from "ioredis"
import { describe, UsageError } from "../errors.js"
import { redactUrl } from "../limiter.js"
import * as Scripts from "./scripts.js"

/** Redis did not answer for longer than the worker waits for it. */
export class QueueError extends Data.TaggedError("QueueError")<{ readonly message: string }> {}

type Reply = unknown

/** The connection with the queue's scripts (run by EVALSHA, loaded again after a Redis restart). */
export interface Connection {
  readonly redis: Redis
  readonly url: string
  /** Runs one command or script, sent again while Redis is unavailable. */
  readonly run: <A>(what: string, command: (redis: Redis & QueueCommands) => Promise<A>) => Effect.Effect<A, QueueError>
}

/** The scripts as ioredis commands: keys first, then arguments. */
export interface QueueCommands {
  readonly queuePush: (...args: Array<string>) => Promise<Reply>
  readonly queueTake: (...args: Array<string>) => Promise<Reply>
  readonly queueComplete: (...args: Array<string>) => Promise<Reply>
  readonly queueHandBack: (...args: Array<string>) => Promise<Reply>
  readonly queueTouch: (...args: Array<string>) => Promise<Reply>
  readonly queueLeave: (...args: Array<string>) => Promise<Reply>
  readonly queueCounts: (...args: Array<string>) => Promise<Reply>
}

const scripts: ReadonlyArray<readonly [keyof QueueCommands, string, number]> = [
  ["queuePush", Scripts.push, 5],
  ["queueTake", Scripts.take, 1],
  ["queueComplete", Scripts.complete, 4],
  ["queueHandBack", Scripts.handBack, 1],
  ["queueTouch", Scripts.touch, 1],
  ["queueLeave", Scripts.leave, 1],
  ["queueCounts", Scripts.counts, 4]
]

/** Errors that say the command itself is wrong, not that Redis is away: never sent again. */
const isCommandError = (error: unknown): boolean =>
  error instanceof Error && error.name === "ReplyError" && !/^(LOADING|BUSY|MASTERDOWN|TRYAGAIN)/.test(error.message)

/**
 * Connects to Redis at `url`; the connection closes with the scope. `redisWait` bounds how long one command is
 * retried while Redis is unavailable.
 */
export const open = (url: string, redisWait: Duration.Duration): Effect.Effect<Connection, UsageError, Scope.Scope> =>
  Effect.gen(function* () {
    const { Redis } = yield* Effect.tryPromise({
      try: () => import("ioredis"),
      catch: (error) =>
        new UsageError({
          message: `the queue needs the optional dependency ioredis (npm install ioredis): ${describe(error)}`
        })
    })
    const redis = yield* Effect.acquireRelease(
      Effect.try({
        try: () =>
          new Redis(url, {
            lazyConnect: true,
            // A command sent while disconnected fails at once and is retried by `run`, which bounds the wait.
            enableOfflineQueue: false,
            autoResendUnfulfilledCommands: false,
            maxRetriesPerRequest: 0,
            connectTimeout: 2_000,
            commandTimeout: 10_000,
            retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 1_000)
          }),
        catch: (error) => new UsageError({ message: `--redis: ${describe(error)}` })
      }),
      (redis) => Effect.sync(() => redis.disconnect())
    )
    // Errors reach the commands that fail; the event itself must not crash the process.
    redis.on("error", () => {})
    for (const [name, lua, numberOfKeys] of scripts) redis.defineCommand(name, { lua, numberOfKeys })
    const commands = redis as Redis & QueueCommands
    const retry = Schedule.exponential("100 millis").pipe(
      Schedule.union(Schedule.spaced("1 second")),
      Schedule.upTo(redisWait)
    )
    const run = <A>(what: string, command: (redis: Redis & QueueCommands) => Promise<A>) =>
      Effect.tryPromise({ try: () => command(commands), catch: (error) => error }).pipe(
        Effect.retry({ schedule: retry, while: (error) => !isCommandError(error) }),
        Effect.mapError(
          (error) =>
            new QueueError({
              message:
                `Redis at ${redactUrl(url)} (${what}): ${describe(error)}` +
                (isCommandError(error) ? "" : ` (gave up after ${Duration.format(redisWait)})`)
            })
        )
      )
    yield* run("connect", (redis) => (redis.status === "ready" ? Promise.resolve() : redis.connect())).pipe(
      Effect.mapError((error) => new UsageError({ message: error.message }))
    )
    return { redis, url, run } satisfies Connection
  })
