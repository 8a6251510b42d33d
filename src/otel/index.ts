/**
 * Example layers that export the `grok_` metrics (and every other Effect metric) through OpenTelemetry: to any
 * `MetricReader` of `@opentelemetry/sdk-metrics`, to a Prometheus scrape endpoint served by
 * `@opentelemetry/exporter-prometheus`, or pushed to an OTLP/HTTP collector.
 *
 * Import from `grok-resilience/otel`. Pinned to the Effect 3 line: `@effect/opentelemetry` 0.64, `@opentelemetry/api`
 * 1.9, `@opentelemetry/sdk-metrics` and `@opentelemetry/resources` 2.x, `@opentelemetry/exporter-prometheus` 0.2xx.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Metrics from "@effect/opentelemetry/Metrics"
import * as OtlpMetrics from "@effect/opentelemetry/OtlpMetrics"
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as Resource from "@effect/opentelemetry/Resource"
import type * as OtelApi from "@opentelemetry/api"
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus"
import type { MetricReader } from "@opentelemetry/sdk-metrics"
import type { NonEmptyReadonlyArray } from "effect/Array"
import type * as Duration from "effect/Duration"
import type { LazyArg } from "effect/Function"
import * as Layer from "effect/Layer"

/**
 * How the exported metrics name their service.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResourceOptions {
  readonly serviceName: string
  readonly serviceVersion?: string | undefined
  readonly attributes?: OtelApi.Attributes | undefined
}

const resourceLayer = (options: ResourceOptions) =>
  Resource.layer({
    serviceName: options.serviceName,
    ...(options.serviceVersion !== undefined ? { serviceVersion: options.serviceVersion } : {}),
    ...(options.attributes !== undefined ? { attributes: options.attributes } : {})
  })

/**
 * Binds Effect's metric registry to OpenTelemetry metric readers for the lifetime of the layer; the readers are
 * shut down when it closes. A reader given here must not also be registered with a `MeterProvider`.
 *
 * @example
 * ```ts
 * import {
 *   AggregationTemporality,
 *   InMemoryMetricExporter,
 *   PeriodicExportingMetricReader
 * } from "@opentelemetry/sdk-metrics"
 * import * as GrokOtel from "grok-resilience/otel"
 *
 * const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
 * const MetricsLive = GrokOtel.layerReader(() => new PeriodicExportingMetricReader({ exporter }), {
 *   serviceName: "my-batch"
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerReader = (
  readers: LazyArg<MetricReader | NonEmptyReadonlyArray<MetricReader>>,
  options: ResourceOptions & { readonly shutdownTimeout?: Duration.DurationInput | undefined }
): Layer.Layer<never> =>
  Metrics.layer(
    readers,
    options.shutdownTimeout !== undefined ? { shutdownTimeout: options.shutdownTimeout } : undefined
  ).pipe(Layer.provide(resourceLayer(options)))

/**
 * @since 0.1.0
 * @category models
 */
export interface PrometheusOptions extends ResourceOptions {
  /** Port of the scrape server. Default 9464. */
  readonly port?: number | undefined
  readonly host?: string | undefined
  /** Path of the scrape endpoint. Default `/metrics`. */
  readonly endpoint?: string | undefined
  /** Leave out the `otel_scope_*` labels on every series. Default `true`. */
  readonly withoutScopeInfo?: boolean | undefined
  /** Leave out the `target_info` series. Default `false`. */
  readonly withoutTargetInfo?: boolean | undefined
}

/**
 * Serves the metrics on a Prometheus scrape endpoint (default `http://0.0.0.0:9464/metrics`) for the lifetime of the
 * layer, with `@opentelemetry/exporter-prometheus`. Users who already run an HTTP server can serve
 * `Prometheus.render` from the main entry instead and skip OpenTelemetry entirely.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPrometheus = (options: PrometheusOptions): Layer.Layer<never> =>
  layerReader(
    () =>
      // exporter-prometheus pins its own sdk-metrics patch: same MetricReader shape, distinct type declaration
      new PrometheusExporter({
        withoutScopeInfo: options.withoutScopeInfo ?? true,
        withoutTargetInfo: options.withoutTargetInfo ?? false,
        ...(options.port !== undefined ? { port: options.port } : {}),
        ...(options.host !== undefined ? { host: options.host } : {}),
        ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {})
      }) as unknown as MetricReader,
    options
  )

/**
 * @since 0.1.0
 * @category models
 */
export interface OtlpOptions extends ResourceOptions {
  /** The collector's metrics endpoint, e.g. `http://localhost:4318/v1/metrics`. */
  readonly url: string
  readonly headers?: Record<string, string> | undefined
  /** Default 10 seconds. */
  readonly exportInterval?: Duration.DurationInput | undefined
  /** Wire format. Default `"json"`. */
  readonly encoding?: "json" | "protobuf" | undefined
}

/**
 * Pushes the metrics to an OTLP/HTTP collector every `exportInterval` and once more when the layer closes. Uses
 * `@effect/opentelemetry`'s own OTLP client over `@effect/platform`'s `HttpClient` (provide `FetchHttpClient.layer`),
 * so it needs no OpenTelemetry SDK package at run time.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerOtlp = (options: OtlpOptions): Layer.Layer<never, never, HttpClient.HttpClient> =>
  OtlpMetrics.layer({
    url: options.url,
    resource: {
      serviceName: options.serviceName,
      serviceVersion: options.serviceVersion,
      ...(options.attributes !== undefined ? { attributes: options.attributes } : {})
    },
    ...(options.headers !== undefined ? { headers: options.headers } : {}),
    ...(options.exportInterval !== undefined ? { exportInterval: options.exportInterval } : {})
  }).pipe(
    Layer.provide(options.encoding === "protobuf" ? OtlpSerialization.layerProtobuf : OtlpSerialization.layerJson)
  )
