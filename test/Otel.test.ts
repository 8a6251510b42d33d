import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { describe, expect, it } from "@effect/vitest"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  type MetricReader,
  PeriodicExportingMetricReader
} from "@opentelemetry/sdk-metrics"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as GrokMetrics from "../src/GrokMetrics.js"
import * as GrokOtel from "../src/otel/index.js"

// The Effect metric registry is global and every OpenTelemetry path exports all of it: each test uses its own model.

describe("otel", () => {
  it.effect("the reader layer exports grok_calls_total with its attributes through an in-memory exporter", () =>
    Effect.gen(function* () {
      const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
      const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
      yield* Effect.gen(function* () {
        yield* Layer.build(GrokOtel.layerReader(() => reader, { serviceName: "grok-test", serviceVersion: "1.2.3" }))
        yield* GrokMetrics.recordCall({ model: "otel-memory", outcome: "success", attempts: 2, durationMillis: 1_200 })
        yield* GrokMetrics.recordCall({
          model: "otel-memory",
          outcome: "RateLimited",
          attempts: 4,
          durationMillis: 9_000
        })
        yield* Effect.promise(() => reader.forceFlush())
      }).pipe(Effect.scoped)

      const [exported] = exporter.getMetrics()
      expect(exported?.resource.attributes["service.name"]).toBe("grok-test")
      expect(exported?.resource.attributes["service.version"]).toBe("1.2.3")
      const metrics = exported?.scopeMetrics.flatMap((scope) => scope.metrics) ?? []
      const calls = metrics.find((metric) => metric.descriptor.name === "grok_calls_total")
      expect(calls?.dataPointType).toBe(DataPointType.SUM)
      const points = (calls?.dataPoints ?? []).filter((point) => point.attributes["model"] === "otel-memory")
      expect(points.map((point) => ({ attributes: point.attributes, value: point.value }))).toEqual([
        { attributes: { model: "otel-memory", outcome: "success" }, value: 1 },
        { attributes: { model: "otel-memory", outcome: "RateLimited" }, value: 1 }
      ])
      const duration = metrics.find((metric) => metric.descriptor.name === "grok_call_duration_seconds")
      expect(duration?.dataPointType).toBe(DataPointType.HISTOGRAM)
    })
  )

  it.effect("the OpenTelemetry Prometheus exporter serializes grok_calls_total without doubling _total", () =>
    Effect.gen(function* () {
      const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true })
      const text = yield* Effect.gen(function* () {
        yield* Layer.build(
          GrokOtel.layerReader(() => exporter as unknown as MetricReader, { serviceName: "grok-test" })
        )
        yield* GrokMetrics.recordCall({ model: "otel-prom", outcome: "success", attempts: 1, durationMillis: 300 })
        const { resourceMetrics } = yield* Effect.promise(() => exporter.collect())
        return new PrometheusSerializer(undefined, false, undefined, true, true).serialize(resourceMetrics)
      }).pipe(Effect.scoped)

      const lines = text.split("\n")
      expect(lines).toContain("# TYPE grok_calls_total counter")
      expect(lines).toContain('grok_calls_total{model="otel-prom",outcome="success"} 1')
      expect(lines).toContain('grok_call_duration_seconds_bucket{model="otel-prom",outcome="success",le="0.5"} 1')
      expect(text).not.toContain("grok_calls_total_total")
    })
  )

  it.effect("the OTLP layer pushes the grok metrics as JSON to the collector when it closes", () =>
    Effect.gen(function* () {
      const sent: Array<HttpClientRequest.HttpClientRequest> = []
      const client = HttpClient.make((request) =>
        Effect.sync(() => {
          sent.push(request)
          return HttpClientResponse.fromWeb(request, new Response("{}", { status: 200 }))
        })
      )
      const otlp = GrokOtel.layerOtlp({ url: "http://collector.test/v1/metrics", serviceName: "grok-test" }).pipe(
        Layer.provide(Layer.succeed(HttpClient.HttpClient, client))
      )
      yield* Effect.gen(function* () {
        yield* Layer.build(otlp)
        yield* GrokMetrics.recordRetry({ model: "otel-otlp", errorTag: "Transient" })
      }).pipe(Effect.scoped)

      expect(sent.map((request) => request.url)).toEqual(["http://collector.test/v1/metrics"])
      const body = sent[0]?.body
      expect(body?._tag).toBe("Uint8Array")
      const json = JSON.parse(new TextDecoder().decode(body?._tag === "Uint8Array" ? body.body : undefined))
      const metrics: Array<{ name: string; sum?: { dataPoints: Array<{ attributes: unknown; asDouble?: number }> } }> =
        json.resourceMetrics[0].scopeMetrics[0].metrics
      const retries = metrics.find((metric) => metric.name === "grok_retries_total")
      expect(retries?.sum?.dataPoints).toContainEqual(
        expect.objectContaining({
          attributes: [
            { key: "model", value: { stringValue: "otel-otlp" } },
            { key: "error", value: { stringValue: "Transient" } }
          ],
          asDouble: 1
        })
      )
    })
  )
})
