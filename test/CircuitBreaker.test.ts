import { describe, expect, it } from "@effect/vitest"
import {
  Config,
  ConfigError,
  ConfigProvider,
  Effect,
  Either,
  Layer,
  Logger,
  LogLevel,
  Metric,
  Schedule,
  TestClock
} from "effect"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as GrokError from "../src/GrokError.js"
import * as Breaker from "../src/internal/breaker/breaker.js"
import * as BreakerMetrics from "../src/internal/breaker/metrics.js"
import * as BreakerOptions from "../src/internal/breaker/options.js"

const KEY = "https://api.x.ai/v1|grok-4"

/** One call through the breaker that reports `outcome`; fails at once if the breaker is open. */
const call = (breaker: CircuitBreaker.Service, outcome: CircuitBreaker.Outcome, key = KEY) =>
  Effect.scoped(Effect.flatMap(breaker.admit(key, { maxWaitMillis: 0 }), (pass) => pass.report(outcome)))

const calls = (breaker: CircuitBreaker.Service, outcomes: ReadonlyArray<CircuitBreaker.Outcome>, key = KEY) =>
  Effect.forEach(outcomes, (outcome) => call(breaker, outcome, key), { discard: true })

const repeat = (outcome: CircuitBreaker.Outcome, n: number): ReadonlyArray<CircuitBreaker.Outcome> =>
  Array.from({ length: n }, () => outcome)

/** Only the ratio rule: a run of failures long enough to open on its own never happens in these tests. */
const ratioOnly = { consecutiveFailures: 1_000 }

describe("CircuitBreaker, closed", () => {
  it.scoped("opens after five failures in a row and not after four", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      yield* calls(breaker, repeat("failure", 4))
      expect(yield* breaker.state(KEY)).toBe("Closed")
      yield* call(breaker, "failure")
      expect(yield* breaker.state(KEY)).toBe("Open")
      const refused = yield* Effect.either(call(breaker, "success"))
      expect(Either.isLeft(refused) && refused.left._tag).toBe("CircuitOpen")
    })
  )

  it.scoped("reads the state when the effect runs, so one kept from before the key existed sees it open", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      const kept = breaker.state(KEY)
      yield* calls(breaker, repeat("failure", 5))
      expect(yield* kept).toBe("Open")
    })
  )

  it.scoped("starts the run of failures again after a success", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ minimumCalls: 100 })
      yield* calls(breaker, [...repeat("failure", 4), "success", ...repeat("failure", 4)])
      expect(yield* breaker.state(KEY)).toBe("Closed")
      yield* call(breaker, "failure")
      expect(yield* breaker.state(KEY)).toBe("Open")
    })
  )

  it.scoped("opens when half of at least ten calls in the window failed", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make(ratioOnly)
      yield* calls(breaker, ["success", "failure", "success", "failure", "success", "failure", "success", "failure"])
      yield* call(breaker, "success")
      expect(yield* breaker.state(KEY)).toBe("Closed")
      yield* call(breaker, "failure")
      expect(yield* breaker.state(KEY)).toBe("Open")
    })
  )

  it.scoped("stays closed below minimumCalls even when every call failed", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make(ratioOnly)
      yield* calls(breaker, repeat("failure", 9))
      expect(yield* breaker.state(KEY)).toBe("Closed")
      yield* call(breaker, "failure")
      expect(yield* breaker.state(KEY)).toBe("Open")
    })
  )

  it.scoped("stays closed while the failed share is under failureRatio", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ ...ratioOnly, failureRatio: 0.5 })
      yield* calls(breaker, [...repeat("success", 11), ...repeat("failure", 10)])
      expect(yield* breaker.state(KEY)).toBe("Closed")
      yield* call(breaker, "failure")
      expect(yield* breaker.state(KEY)).toBe("Open")
    })
  )

  it.scoped("lets failures older than the window age out", () =>
    Effect.gen(function* () {
      const aged = yield* CircuitBreaker.make(ratioOnly)
      const fresh = yield* CircuitBreaker.make(ratioOnly)
      yield* calls(aged, repeat("failure", 9))
      yield* calls(fresh, repeat("failure", 9))
      yield* TestClock.adjust("9999 millis")
      yield* call(fresh, "failure")
      expect(yield* fresh.state(KEY)).toBe("Open")
      yield* TestClock.adjust("1 millis")
      yield* call(aged, "failure")
      expect(yield* aged.state(KEY)).toBe("Closed")
      yield* calls(aged, repeat("failure", 9))
      expect(yield* aged.state(KEY)).toBe("Open")
    })
  )

  it.scoped("slides bucket by bucket: the oldest second leaves while later calls stay", () =>
    Effect.gen(function* () {
      const fresh = yield* CircuitBreaker.make(ratioOnly)
      const aged = yield* CircuitBreaker.make(ratioOnly)
      for (const breaker of [fresh, aged]) yield* calls(breaker, repeat("failure", 5))
      yield* TestClock.adjust("5 seconds")
      for (const breaker of [fresh, aged]) yield* calls(breaker, repeat("success", 6))
      yield* TestClock.adjust("4999 millis")
      // 6 of 12 calls failed.
      yield* call(fresh, "failure")
      expect(yield* fresh.state(KEY)).toBe("Open")
      yield* TestClock.adjust("1 millis")
      // The first five failures left; the six successes of second 5 stay: 5 of 11 failed.
      yield* calls(aged, repeat("failure", 5))
      expect(yield* aged.state(KEY)).toBe("Closed")
      yield* call(aged, "failure")
      expect(yield* aged.state(KEY)).toBe("Open")
    })
  )

  it.scoped("counts ignored outcomes neither as calls nor as a break in a run of failures", () =>
    Effect.gen(function* () {
      const run = yield* CircuitBreaker.make()
      yield* calls(run, ["failure", "failure", "ignored", "failure", "failure", "ignored"])
      expect(yield* run.state(KEY)).toBe("Closed")
      yield* call(run, "failure")
      expect(yield* run.state(KEY)).toBe("Open")
      const ratio = yield* CircuitBreaker.make(ratioOnly)
      yield* calls(ratio, [...repeat("ignored", 30), ...repeat("failure", 9)])
      expect(yield* ratio.state(KEY)).toBe("Closed")
    })
  )

  it.scoped("treats a pass closed without a report as ignored", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      yield* calls(breaker, repeat("failure", 4))
      yield* Effect.scoped(breaker.admit(KEY))
      expect(yield* breaker.state(KEY)).toBe("Closed")
      yield* call(breaker, "failure")
      expect(yield* breaker.state(KEY)).toBe("Open")
    })
  )

  it.scoped("counts only the first report of a pass", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      yield* Effect.scoped(Effect.flatMap(breaker.admit(KEY), (pass) => Effect.repeatN(pass.report("failure"), 9)))
      expect(yield* breaker.state(KEY)).toBe("Closed")
    })
  )

  it.scoped("keeps one breaker per key", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      const other = "https://api.x.ai/v1|grok-4-fast"
      yield* calls(breaker, repeat("failure", 5))
      expect(yield* breaker.state(KEY)).toBe("Open")
      expect(yield* breaker.state(other)).toBe("Closed")
      yield* call(breaker, "success", other)
    })
  )

  it.scoped("drops idle closed keys once it holds a thousand, and keeps the others", () =>
    Effect.gen(function* () {
      const settings = Either.getOrThrow(BreakerOptions.validate({}))
      const breaker = yield* Breaker.make(settings)
      yield* calls(breaker, repeat("failure", 5), "down")
      yield* Effect.forEach(
        Array.from({ length: 999 }, (_, i) => `key-${i}`),
        (key) => call(breaker, "success", key)
      )
      expect(yield* breaker.state("never-seen")).toBe("Closed")
      expect(yield* breaker.keyCount).toBe(1_000)
      yield* call(breaker, "success", "key-0")
      expect(yield* breaker.keyCount).toBe(1_000)
      yield* TestClock.adjust("10 seconds")
      yield* call(breaker, "success", "late")
      // The 999 keys are idle once their window is empty; "down" is open and "late" is new.
      expect(yield* breaker.keyCount).toBe(2)
      expect(yield* breaker.state("down")).toBe("Open")
    })
  )
})

describe("CircuitBreaker, surroundings", () => {
  it("counts only Transient errors as failures", () => {
    expect(CircuitBreaker.countsAsFailure(new GrokError.Transient({ reason: "ServerError", status: 503 }))).toBe(true)
    expect(CircuitBreaker.countsAsFailure(new GrokError.Transient({ reason: "Timeout" }))).toBe(true)
    const others = [
      new GrokError.RateLimited({ status: 429, limit: "requests" }),
      new GrokError.QuotaExhausted({ status: 403 }),
      new GrokError.AuthError({ status: 401, reason: "InvalidKey" }),
      new GrokError.Validation({ status: 400, reason: "BadRequest" }),
      new GrokError.Rejected({ reason: "QueueFull" })
    ]
    for (const error of others) expect(CircuitBreaker.countsAsFailure(error)).toBe(false)
  })

  it.effect("refuses invalid options with an error that names the option", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [CircuitBreaker.Options, string]> = [
        [{ consecutiveFailures: 0 }, "consecutiveFailures"],
        [{ consecutiveFailures: 2.5 }, "consecutiveFailures"],
        [{ failureRatio: 0 }, "failureRatio"],
        [{ failureRatio: 1.5 }, "failureRatio"],
        [{ failureRatio: Number.NaN }, "failureRatio"],
        [{ window: "0 millis" }, "window"],
        [{ window: Number.POSITIVE_INFINITY }, "window"],
        [{ window: "soon" as never }, "window"],
        [{ windowBuckets: 0 }, "windowBuckets"],
        [{ window: "5 millis", windowBuckets: 10 }, "windowBuckets"],
        [{ minimumCalls: -1 }, "minimumCalls"],
        [{ probeTimeout: -5 }, "probeTimeout"],
        [{ breakSchedule: "1 second" as never }, "breakSchedule"]
      ]
      for (const [options, field] of cases) {
        const error = yield* Effect.flip(Effect.scoped(CircuitBreaker.make(options)))
        expect(error._tag).toBe("InvalidCircuitBreakerOptions")
        expect(error.field).toBe(field)
        expect(error.message).toContain(field)
      }
    })
  )

  it.effect("reads its options through layerConfig", () =>
    Effect.gen(function* () {
      const provider = ConfigProvider.fromMap(new Map([["BREAKER_FAILURES", "2"]]))
      const state = yield* Effect.gen(function* () {
        const breaker = yield* CircuitBreaker.CircuitBreaker
        yield* calls(breaker, repeat("failure", 2))
        return yield* breaker.state(KEY)
      }).pipe(
        Effect.provide(
          CircuitBreaker.layerConfig({ consecutiveFailures: Config.integer("BREAKER_FAILURES") }).pipe(
            Layer.provide(Layer.setConfigProvider(provider))
          )
        )
      )
      expect(state).toBe("Open")
      const defaults = yield* Effect.flatMap(CircuitBreaker.CircuitBreaker, (breaker) =>
        Effect.zipRight(calls(breaker, repeat("failure", 4)), breaker.state(KEY))
      ).pipe(Effect.provide(CircuitBreaker.layerConfig()))
      expect(defaults).toBe("Closed")
    })
  )

  it.effect("layer and layerConfig fail on invalid options", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.provide(CircuitBreaker.CircuitBreaker, CircuitBreaker.layer({ minimumCalls: 0 }))
      )
      expect(error._tag).toBe("InvalidCircuitBreakerOptions")
      const missing = yield* Effect.flip(
        Effect.provide(
          CircuitBreaker.CircuitBreaker,
          CircuitBreaker.layerConfig({ consecutiveFailures: Config.integer("BREAKER_FAILURES") }).pipe(
            Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map())))
          )
        )
      )
      expect(ConfigError.isConfigError(missing)).toBe(true)
    })
  )

  it.scoped("records transitions in grok_breaker_transitions_total and the status in grok_breaker_state", () =>
    Effect.gen(function* () {
      const key = "metrics-key"
      const opened = Metric.tagged(
        Metric.tagged(Metric.tagged(BreakerMetrics.breakerTransitions, "key", key), "from", "Closed"),
        "to",
        "Open"
      )
      const status = Metric.tagged(BreakerMetrics.breakerState, "key", key)
      const before = (yield* Metric.value(opened)).count
      const breaker = yield* CircuitBreaker.make({ breakSchedule: Schedule.spaced("1 second") })
      yield* calls(breaker, repeat("failure", 5), key)
      expect((yield* Metric.value(opened)).count - before).toBe(1)
      expect((yield* Metric.value(status)).value).toBe(1)
      yield* TestClock.adjust("1 second")
      const probe = Effect.scoped(Effect.zipRight(breaker.admit(key), Metric.value(status)))
      expect((yield* probe).value).toBe(2)
      yield* call(breaker, "success", key)
      expect((yield* Metric.value(status)).value).toBe(0)
    })
  )

  it.scoped("logs opening and closing at Info and half-open at Debug, with the key", () =>
    Effect.gen(function* () {
      const lines: Array<{ level: string; text: string }> = []
      const logger = Logger.make((options) => {
        lines.push({ level: options.logLevel.label, text: Logger.logfmtLogger.log(options) })
      })
      const breaker = yield* CircuitBreaker.make()
      yield* Effect.gen(function* () {
        yield* calls(breaker, repeat("failure", 5))
        yield* TestClock.adjust("500 millis")
        yield* call(breaker, "success")
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)), Logger.withMinimumLogLevel(LogLevel.Debug))
      const mine = lines.filter((line) => line.text.includes("CircuitBreaker"))
      expect(mine.map((line) => line.level)).toEqual(["INFO", "DEBUG", "INFO"])
      expect(mine[0]!.text).toContain("opened")
      expect(mine[0]!.text).toContain("breakMillis=500")
      expect(mine[1]!.text).toContain("half-open")
      expect(mine[2]!.text).toContain("closed")
      for (const line of mine) expect(line.text).toContain(`key=${KEY}`)
    })
  )
})
