// The OTLP/gRPC metric exporter with exemplars: the stock exporter's construction (same gRPC
// transport, retries, timeouts, OTEL_EXPORTER_OTLP_* / OTEL_EXPORTER_OTLP_METRICS_* handling, same
// self-observability), with the exemplar serializer in place of ProtobufMetricsSerializer.
import { AggregationTemporalityPreference, OTLPMetricExporterBase, type OTLPMetricExporterOptions } from '@opentelemetry/exporter-metrics-otlp-http';
import { convertLegacyOtlpGrpcOptions, createOtlpGrpcExportDelegate, type OTLPGRPCExporterConfigNode } from '@opentelemetry/otlp-grpc-exporter-base';
import { MetricsExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import { createExemplarSerializer } from './serializer.ts';
import type { ExemplarStore } from './store.ts';

/** The component type the stock OTLP/gRPC metric exporter reports in its self-observability metrics. */
const COMPONENT_TYPE = 'otlp_grpc_metric_exporter';

export type ExemplarMetricExporterConfig = OTLPGRPCExporterConfigNode & OTLPMetricExporterOptions;

/**
 * A PushMetricExporter (for a PeriodicExportingMetricReader) that sends OTLP over gRPC, with the
 * exemplars of `store` in the histogram data points.
 *
 * Temporality is cumulative (Prometheus remote write needs it), whatever
 * OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE says; an explicit `temporalityPreference`
 * in `config` still wins.
 */
export function createExemplarMetricExporter(store: ExemplarStore, config: ExemplarMetricExporterConfig = {}): OTLPMetricExporterBase {
  const delegate = createOtlpGrpcExportDelegate(
    convertLegacyOtlpGrpcOptions(config, 'METRICS'),
    createExemplarSerializer(store),
    COMPONENT_TYPE,
    MetricsExporterMetricsHelper,
    config.selfObsMeterProvider,
    'MetricsExportService',
    '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  );
  return new OTLPMetricExporterBase(delegate, {
    ...config,
    temporalityPreference: config.temporalityPreference ?? AggregationTemporalityPreference.CUMULATIVE,
  });
}
