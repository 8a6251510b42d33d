/**
 * What every contender implements: run all calls of a scenario against a server and count what came back.
 */
import type { BenchRequest } from "../scenarios.js"

export interface Target {
  /** Base URL including `/v1`. */
  readonly url: string
  readonly apiKey: string
}

export interface Plan {
  readonly calls: number
  readonly concurrency: number
  readonly request: (index: number) => BenchRequest
}

export interface Outcome {
  readonly ok: number
  readonly failed: number
  /** Failed calls by error kind, e.g. `{ RateLimitError: 182 }`. */
  readonly failures: Readonly<Record<string, number>>
}

export interface Contender<Options = undefined> {
  /** Short id, for `--contenders` and the tables. */
  readonly id: string
  readonly label: string
  readonly run: (target: Target, plan: Plan, options: Options) => Promise<Outcome>
}

/** Runs `calls` tasks with at most `concurrency` in flight: a pool of workers taking the next index. */
export const pool = async (
  calls: number,
  concurrency: number,
  task: (index: number) => Promise<string | undefined>
): Promise<Outcome> => {
  let next = 0
  let ok = 0
  const failures: Record<string, number> = {}
  const worker = async () => {
    while (next < calls) {
      const index = next++
      const failure = await task(index)
      if (failure === undefined) ok++
      else failures[failure] = (failures[failure] ?? 0) + 1
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, calls) }, worker))
  return { ok, failed: calls - ok, failures }
}
