/**
 * Helpers of the queue tests: the queue commands run as real CLI processes, and a look into the job's keys.
 */
import { randomUUID } from "node:crypto"
import { Redis } from "ioredis"
import { FakeGrok } from "grok-resilience/testing"
import * as Effect from "effect/Effect"
import { type Finished, runCli, startCli } from "./support.js"

/** A job name of its own for each test. */
export const freshJob = (): string => `test-${randomUUID().slice(0, 8)}`

/** Runs `grok-resilience queue <args> --redis URL --job JOB`. */
export const queue = (
  command: string,
  args: ReadonlyArray<string>,
  redis: string,
  job: string,
  timeoutMillis = 60_000
): Promise<Finished> => runCli(["queue", command, ...args, "--redis", redis, "--job", job], { timeoutMillis })

/** Starts a worker process on the job, calling the fake server at the shared quota given. */
export const startWorker = (redis: string, job: string, fake: FakeGrok.Started, extra: ReadonlyArray<string> = []) =>
  startCli(
    [
      "queue",
      "work",
      "--redis",
      redis,
      "--job",
      job,
      "--base-url",
      fake.url,
      "--api-key",
      fake.apiKey,
      "--limiter-key",
      job,
      ...extra
    ],
    { timeoutMillis: 90_000 }
  )

/** The job's status as `queue status --json` prints it. */
export const status = async (redis: string, job: string): Promise<Record<string, number>> => {
  const result = await queue("status", ["--json"], redis, job)
  if (result.code !== 0) throw new Error(`queue status failed: ${result.stderr}`)
  return JSON.parse(result.stdout) as Record<string, number>
}

/** Chat calls the fake server answered with 200. */
export const answered = (fake: FakeGrok.Started): number =>
  Effect.runSync(fake.arrivals).filter((arrival) => arrival.path === "/v1/chat/completions" && arrival.status === 200)
    .length

/** Entries each consumer of the job's group holds, by consumer name. */
export const pendingByConsumer = async (url: string, job: string): Promise<Map<string, number>> => {
  const redis = new Redis(url, { lazyConnect: true })
  try {
    await redis.connect()
    const list = (await redis.xinfo("CONSUMERS", `grok-resilience:queue:{${job}}:stream`, "workers")) as Array<
      Array<string | number>
    >
    const byName = new Map<string, number>()
    for (const fields of list) {
      const record: Record<string, string | number> = {}
      for (let i = 0; i + 1 < fields.length; i += 2) record[String(fields[i])] = fields[i + 1]!
      byName.set(String(record.name), Number(record.pending))
    }
    return byName
  } finally {
    redis.disconnect()
  }
}

/** Polls (real time, harness only) until `check` holds. */
export const waitUntil = async (check: () => Promise<boolean>, timeoutMillis: number, what: string): Promise<void> => {
  const until = Date.now() + timeoutMillis
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
