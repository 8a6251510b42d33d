import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as Alerts from "../src/Alerts.js"

const success: Alerts.Observation = { outcome: "success", status: 200, durationMillis: 1_000 }
const failure: Alerts.Observation = { outcome: "Transient", status: 503, durationMillis: 1_000 }
const tooMany: Alerts.Observation = { outcome: "RateLimited", status: 429, durationMillis: 200 }

/**
 * A monitor whose alerts land in a list, and a feeder that makes one call per second of TestClock time, in ticks of
 * `perTick` calls every `perTick` seconds (each TestClock step costs a few real timer turns, so long runs batch).
 */
const setup = (options?: Alerts.Options) =>
  Effect.gen(function* () {
    const delivered = yield* Ref.make<ReadonlyArray<Alerts.Alert>>([])
    const monitor = yield* Alerts.make(options).pipe(
      Effect.provideService(Alerts.AlertSink, { deliver: (alert) => Ref.update(delivered, (all) => [...all, alert]) })
    )
    const feed = (count: number, observation: (i: number) => Alerts.Observation, perTick = 1) =>
      Effect.forEach(
        Array.from({ length: Math.ceil(count / perTick) }, (_, tick) => tick),
        (tick) =>
          Effect.zipRight(
            TestClock.adjust(`${perTick} seconds`),
            Effect.forEach(
              Array.from({ length: Math.min(perTick, count - tick * perTick) }, (_, j) => tick * perTick + j),
              (i) => monitor.observe(observation(i)),
              { discard: true }
            )
          ),
        { discard: true }
      )
    return { monitor, feed, alerts: Ref.get(delivered) }
  })

const tags = (alerts: ReadonlyArray<Alerts.Alert>) => alerts.map((alert) => `${alert._tag}:${alert.rule}`)

describe("Alerts", () => {
  it.scoped("a spike of failures raises exactly one alert carrying the figures that triggered it", () =>
    Effect.gen(function* () {
      const { alerts, feed } = yield* setup()
      yield* feed(30, () => success)
      yield* feed(20, () => failure)
      expect(yield* alerts).toEqual([
        new Alerts.AlertRaised({
          rule: "errorRate",
          value: 0.25,
          threshold: 0.25,
          calls: 40,
          windowMillis: 60_000,
          atMillis: 40_000
        })
      ])
    })
  )

  it.scoped("recovery resolves the alert once the error rate falls to the resolve threshold", () =>
    Effect.gen(function* () {
      const { alerts, feed, monitor } = yield* setup()
      yield* feed(30, () => success)
      yield* feed(10, () => failure)
      yield* feed(120, () => success)
      const all = yield* alerts
      expect(tags(all)).toEqual(["AlertRaised:errorRate", "AlertResolved:errorRate"])
      expect(all[1]).toEqual(
        new Alerts.AlertResolved({
          rule: "errorRate",
          value: 0.1,
          threshold: 0.1,
          calls: 60,
          windowMillis: 60_000,
          atMillis: 94_000,
          raisedAtMillis: 40_000
        })
      )
      expect(all[1]?.message).toBe(
        "Grok errorRate back to 10.0% (resolve at 10.0%) over 60 calls in the last 1m, after 54s"
      )
      const state = yield* monitor.state
      expect(state.rules.every((rule) => !rule.raised)).toBe(true)
    })
  )

  it.scoped("a single failure among many successes raises no alert", () =>
    Effect.gen(function* () {
      const { alerts, feed } = yield* setup()
      yield* feed(100, (i) => (i === 50 ? failure : success), 5)
      expect(yield* alerts).toEqual([])
    })
  )

  it.scoped("failures below the minimum number of calls raise no alert", () =>
    Effect.gen(function* () {
      const { alerts, feed, monitor } = yield* setup()
      yield* feed(19, () => failure)
      expect(yield* alerts).toEqual([])
      expect((yield* monitor.state).window).toMatchObject({ calls: 19, errors: 19, errorRate: 1 })
    })
  )

  it.scoped("a rate flapping across the raise threshold but above the resolve threshold alerts only once", () =>
    Effect.gen(function* () {
      const { alerts, feed, monitor } = yield* setup()
      yield* feed(30, () => success)
      yield* feed(10, () => failure)
      // Minute-long phases of 30 % and 15 % failures: the windowed rate swings from 0.3 to 0.15 and back, crossing
      // the raise threshold (0.25) every cycle and never reaching the resolve threshold (0.10).
      const rates: Array<number> = []
      for (let cycle = 0; cycle < 5; cycle++) {
        yield* feed(60, (i) => (i % 10 < 3 ? failure : success), 5)
        rates.push((yield* monitor.state).window.errorRate)
        yield* feed(60, (i) => (i % 20 < 3 ? failure : success), 5)
        rates.push((yield* monitor.state).window.errorRate)
      }
      expect(rates).toEqual([0.3, 0.15, 0.3, 0.15, 0.3, 0.15, 0.3, 0.15, 0.3, 0.15])
      expect(tags(yield* alerts)).toEqual(["AlertRaised:errorRate"])
    })
  )

  it.scoped("a rate crossing both thresholds repeatedly raises again only after minInterval", () =>
    Effect.gen(function* () {
      const { alerts, feed } = yield* setup({ minInterval: "5 minutes" })
      yield* feed(30, () => success)
      yield* feed(20, () => failure) // raised at 40 s
      yield* feed(70, () => success) // resolved
      yield* feed(300, (i) => (i % 2 === 0 ? failure : success), 10) // 50 % failures, held back until 340 s
      const all = yield* alerts
      expect(tags(all)).toEqual(["AlertRaised:errorRate", "AlertResolved:errorRate", "AlertRaised:errorRate"])
      expect(all[0]?.atMillis).toBe(40_000)
      expect(all[2]?.atMillis).toBe(340_000)
    })
  )

  it.scoped("a burst of 429s raises rateLimitRate with its own thresholds", () =>
    Effect.gen(function* () {
      const { alerts, feed } = yield* setup({ errorRate: false })
      yield* feed(20, () => success)
      yield* feed(10, () => tooMany)
      expect(yield* alerts).toEqual([
        new Alerts.AlertRaised({
          rule: "rateLimitRate",
          value: 0.2,
          threshold: 0.2,
          calls: 25,
          windowMillis: 60_000,
          atMillis: 25_000
        })
      ])
    })
  )

  it.scoped("slow calls raise p95Latency in milliseconds and fast calls resolve it", () =>
    Effect.gen(function* () {
      const { alerts, feed } = yield* setup()
      yield* feed(20, () => ({ ...success, durationMillis: 35_000 }))
      yield* feed(120, () => success, 5)
      const all = yield* alerts
      expect(tags(all)).toEqual(["AlertRaised:p95Latency", "AlertResolved:p95Latency"])
      expect(all[0]).toMatchObject({ value: 35_000, threshold: 30_000, calls: 20, atMillis: 20_000 })
      expect(all[1]).toMatchObject({ value: 1_000, threshold: 20_000 })
    })
  )

  it.scoped("the background evaluation resolves an alert once traffic stops and the window empties", () =>
    Effect.gen(function* () {
      const { alerts, feed } = yield* setup()
      yield* feed(20, () => failure)
      expect(tags(yield* alerts)).toEqual(["AlertRaised:errorRate"])
      yield* TestClock.adjust("70 seconds")
      const all = yield* alerts
      expect(tags(all)).toEqual(["AlertRaised:errorRate", "AlertResolved:errorRate"])
      expect(all[1]).toMatchObject({ calls: 0, value: 0, atMillis: 80_000, raisedAtMillis: 20_000 })
    })
  )

  it.scoped("the log sink writes a raised alert as a warning annotated with its figures", () =>
    Effect.gen(function* () {
      const lines: Array<{ level: string; message: unknown; rule: unknown; calls: unknown }> = []
      const capture = Logger.make(({ annotations, logLevel, message }) => {
        const annotation = (key: string) => Option.getOrUndefined(HashMap.get(annotations, key))
        lines.push({ level: logLevel.label, message, rule: annotation("rule"), calls: annotation("calls") })
      })
      const monitor = yield* Alerts.make({ evaluateEvery: false })
      for (let i = 0; i < 20; i++) {
        yield* TestClock.adjust("1 second")
        yield* monitor.observe(failure).pipe(Effect.provide(Logger.add(capture)))
      }
      expect(lines).toEqual([
        {
          level: "WARN",
          message: ["Grok errorRate 100.0% reached 25.0% over 20 calls in the last 1m"],
          rule: "errorRate",
          calls: 20
        }
      ])
    })
  )

  it.scoped("layer builds the monitor and sends its alerts to the AlertSink provided to it", () =>
    Effect.gen(function* () {
      const delivered: Array<Alerts.Alert> = []
      const monitorLayer = Alerts.layer({ minCalls: 5 }).pipe(
        Layer.provide(Alerts.layerSink((alert) => Effect.sync(() => delivered.push(alert))))
      )
      const context = yield* Layer.build(monitorLayer)
      const monitor = Context.get(context, Alerts.AlertMonitor)
      for (let i = 0; i < 5; i++) yield* monitor.observe(failure)
      expect(tags(delivered)).toEqual(["AlertRaised:errorRate"])
      expect(Alerts.defaults.minCalls).toBe(20)
    })
  )
})
