import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as GrokMetrics from "../src/GrokMetrics.js"
import * as Prometheus from "../src/Prometheus.js"

// Each test registers metrics under its own prefix in the global registry and renders only that prefix.

describe("Prometheus", () => {
  it.effect("renders a counter with HELP, TYPE and escaped label values", () =>
    Effect.gen(function* () {
      const counter = Metric.counter("pa_requests_total", { description: "Requests\\seen\nso far", incremental: true })
      yield* Metric.incrementBy(GrokMetrics.withLabels(counter, { path: 'a"b\\c\nd' }), 2)
      const text = yield* Prometheus.renderWith({ prefix: "pa_" })
      expect(text).toBe(
        [
          "# HELP pa_requests_total Requests\\\\seen\\nso far",
          "# TYPE pa_requests_total counter",
          'pa_requests_total{path="a\\"b\\\\c\\nd"} 2',
          ""
        ].join("\n")
      )
    })
  )

  it.effect("adds _total to a counter that lacks it and renders a counter that may go down as a gauge", () =>
    Effect.gen(function* () {
      yield* Metric.increment(Metric.counter("pb_jobs", { description: "Jobs", incremental: true }))
      yield* Metric.incrementBy(Metric.counter("pb_balance", { description: "Balance" }), -3)
      const text = yield* Prometheus.renderWith({ prefix: "pb_" })
      expect(text).toBe(
        [
          "# HELP pb_balance Balance",
          "# TYPE pb_balance gauge",
          "pb_balance -3",
          "# HELP pb_jobs_total Jobs",
          "# TYPE pb_jobs_total counter",
          "pb_jobs_total 1",
          ""
        ].join("\n")
      )
    })
  )

  it.effect("renders a histogram as cumulative buckets with le, then _sum and _count", () =>
    Effect.gen(function* () {
      const histogram = Metric.histogram("pc_latency_seconds", MetricBoundaries.fromIterable([0.1, 1]), "Latency")
      const tagged = GrokMetrics.withLabels(histogram, { model: "grok-4" })
      yield* Effect.forEach([0.25, 0.5, 2, 0.0625], (value) => Metric.update(tagged, value), { discard: true })
      const text = yield* Prometheus.renderWith({ prefix: "pc_" })
      expect(text).toBe(
        [
          "# HELP pc_latency_seconds Latency",
          "# TYPE pc_latency_seconds histogram",
          'pc_latency_seconds_bucket{model="grok-4",le="0.1"} 1',
          'pc_latency_seconds_bucket{model="grok-4",le="1"} 3',
          'pc_latency_seconds_bucket{model="grok-4",le="+Inf"} 4',
          'pc_latency_seconds_sum{model="grok-4"} 2.8125',
          'pc_latency_seconds_count{model="grok-4"} 4',
          ""
        ].join("\n")
      )
    })
  )

  it.effect("sorts families by name and series by labels, and sanitizes names", () =>
    Effect.gen(function* () {
      const gauge = Metric.gauge("pd_queue.depth", { description: "Queue" })
      yield* Metric.set(GrokMetrics.withLabels(gauge, { "shard-id": "b" }), 2)
      yield* Metric.set(GrokMetrics.withLabels(gauge, { "shard-id": "a" }), 1.5)
      yield* Metric.set(Metric.gauge("pd_alpha", { description: "First" }), 0)
      const text = yield* Prometheus.renderWith({ prefix: "pd_" })
      expect(text).toBe(
        [
          "# HELP pd_alpha First",
          "# TYPE pd_alpha gauge",
          "pd_alpha 0",
          "# HELP pd_queue_depth Queue",
          "# TYPE pd_queue_depth gauge",
          'pd_queue_depth{shard_id="a"} 1.5',
          'pd_queue_depth{shard_id="b"} 2',
          ""
        ].join("\n")
      )
    })
  )

  it.effect("renders a frequency as a counter with one series per key", () =>
    Effect.gen(function* () {
      const frequency = Metric.frequency("pe_finish_reason", { description: "Finish reasons" })
      yield* Effect.forEach(["stop", "length", "stop"], (reason) => Metric.update(frequency, reason), { discard: true })
      const text = yield* Prometheus.renderWith({ prefix: "pe_" })
      expect(text).toBe(
        [
          "# HELP pe_finish_reason_total Finish reasons",
          "# TYPE pe_finish_reason_total counter",
          'pe_finish_reason_total{key="length"} 1',
          'pe_finish_reason_total{key="stop"} 2',
          ""
        ].join("\n")
      )
    })
  )

  it.effect("render shows the grok_ metrics the client records and nothing else by default", () =>
    Effect.gen(function* () {
      yield* Metric.increment(Metric.counter("pf_other_total", { incremental: true }))
      yield* GrokMetrics.recordCall({ model: "prom-render", outcome: "success", attempts: 1, durationMillis: 700 })
      const text = yield* Prometheus.render
      const lines = text.split("\n")
      expect(lines).toContain("# TYPE grok_calls_total counter")
      expect(lines).toContain('grok_calls_total{model="prom-render",outcome="success"} 1')
      expect(lines).toContain("# TYPE grok_call_duration_seconds histogram")
      expect(lines).toContain('grok_call_duration_seconds_bucket{model="prom-render",outcome="success",le="1"} 1')
      expect(lines).toContain('grok_call_duration_seconds_bucket{model="prom-render",outcome="success",le="0.5"} 0')
      expect(lines).toContain('grok_call_duration_seconds_count{model="prom-render",outcome="success"} 1')
      expect(text).not.toContain("pf_other")
      expect(lines.filter((line) => line.startsWith("# TYPE grok_calls_total"))).toHaveLength(1)
    })
  )

  it("formats special values as the text format expects", () => {
    expect(Prometheus.formatValue(Number.POSITIVE_INFINITY)).toBe("+Inf")
    expect(Prometheus.formatValue(Number.NEGATIVE_INFINITY)).toBe("-Inf")
    expect(Prometheus.formatValue(Number.NaN)).toBe("NaN")
    expect(Prometheus.formatValue(12345678901234567890n)).toBe("12345678901234567890")
    expect(Prometheus.sanitizeMetricName("9lives.per-second")).toBe("_9lives_per_second")
    expect(Prometheus.contentType).toBe("text/plain; version=0.0.4; charset=utf-8")
  })
})
