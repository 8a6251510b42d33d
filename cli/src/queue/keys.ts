/**
 * Where a job lives in Redis, and the rules for its name.
 */
import * as Either from "effect/Either"

/** The consumer group every worker of every job reads through. */
export const GROUP = "workers"

/** Prefix of every queue key. */
export const PREFIX = "grok-resilience:queue"

/** The Redis keys of one job. The braces keep a job's keys in one slot of a Redis Cluster (scripts need that). */
export interface Keys {
  readonly ids: string
  readonly stream: string
  readonly results: string
  readonly done: string
  readonly meta: string
}

const NAME = /^[A-Za-z0-9._-]{1,100}$/

/** Validates a job name: 1 to 100 letters, digits, `.`, `_` or `-`. */
export const jobName = (name: string): Either.Either<string, string> =>
  NAME.test(name)
    ? Either.right(name)
    : Either.left(`--job: 1 to 100 letters, digits, ".", "_" or "-", got ${JSON.stringify(name.slice(0, 120))}`)

export const forJob = (job: string): Keys => {
  const base = `${PREFIX}:{${job}}`
  return {
    ids: `${base}:ids`,
    stream: `${base}:stream`,
    results: `${base}:results`,
    done: `${base}:done`,
    meta: `${base}:meta`
  }
}
