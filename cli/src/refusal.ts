/**
 * The run-level rule for a server that refuses everything: when no call has succeeded for `--give-up-after`
 * (default 10 minutes) and the server answered 429 in that time, the run stops calling. Without it, a server that
 * only ever answers 429 keeps a batch of 500 ids busy for about a day (8 attempts each, at the adaptive limiter's
 * floor of one request per 20 s).
 *
 * @since 0.2.0
 */
import * as Format from "./format.js"
import type * as Records from "./records.js"

/**
 * Watches successes and 429 answers; pure, with the time passed in.
 *
 * @since 0.2.0
 * @category models
 */
export class RefusalWatch {
  private lastSuccess: number
  private refusals = 0
  private stopped: Records.Stop | undefined

  constructor(
    private readonly afterMillis: number,
    startedAt: number
  ) {
    this.lastSuccess = startedAt
  }

  /** A call succeeded: the server is not refusing everything. */
  success(nowMillis: number): void {
    this.lastSuccess = Math.max(this.lastSuccess, nowMillis)
    this.refusals = 0
  }

  /** The server answered 429; the stop when the rule trips now, else undefined. */
  refused(nowMillis: number): Records.Stop | undefined {
    this.refusals++
    return this.check(nowMillis)
  }

  /** The stop when the rule trips now (once), else undefined; also called on a timer, as 429s may be far apart. */
  check(nowMillis: number): Records.Stop | undefined {
    if (this.stopped !== undefined || this.refusals === 0 || nowMillis - this.lastSuccess < this.afterMillis) {
      return undefined
    }
    this.stopped = {
      _tag: "RateLimited",
      message:
        `the server answered 429 to every call for ${Format.duration(nowMillis - this.lastSuccess)} ` +
        `(${this.refusals} answers 429, no success; --give-up-after ${Format.duration(this.afterMillis)}), so the ` +
        "run stopped calling. Run the same command with --retry-failed once the quota is back."
    }
    return this.stopped
  }

  /** The stop, once the rule has tripped. */
  get stop(): Records.Stop | undefined {
    return this.stopped
  }
}
