// Exemplars for OpenTelemetry JS histograms: a stopgap, isolated here, to delete when upstream lands.
//
// WHY. The demo jumps from a p99 latency spike in Grafana to the trace that caused it. That jump
// needs exemplars: the trace id and span id of a measurement, carried by the histogram data point
// over OTLP (HistogramDataPoint.exemplars, field 8), which the Collector hands to Prometheus with
// remote write. The OpenTelemetry JS metrics SDK cannot produce them yet: its exemplar filter and
// reservoir classes are not wired into the metrics pipeline, MetricData has no exemplars, and the
// OTLP protobuf serializer never writes them. Upstream: open-telemetry/opentelemetry-js#5147
// ("[sdk-metrics] implement metrics exemplars"); pull requests #6483 and #6830 (which continues
// #6483) are still open.
//
// HOW. Three small pieces beside the SDK, none inside it:
//   - record (histogram.ts, store.ts): createExemplarHistogram() records into the SDK histogram as
//     usual and offers the same measurement, with its span context, to an ExemplarStore. The store
//     keeps the LATEST exemplar per bucket per attribute set (buckets aligned with the histogram's
//     explicit boundaries), for at most 2000 attribute sets per instrument (beyond: dropped and
//     counted). OTEL_METRICS_EXEMPLAR_FILTER is honoured (filter.ts): always_on (this demo's
//     default; the specification's is trace_based), trace_based, always_off.
//   - serialize (serializer.ts, otlp-metrics.proto): the SDK's own protobuf bytes are decoded with
//     protobufjs against the OTLP schema kept here, the pending exemplars are attached to the
//     histogram data points with the same metric name and attribute set, and the request is
//     encoded again (once per export, never on the record path). Exemplars leave the store when
//     serialized, so none is sent twice (Prometheus rejects out-of-order exemplars).
//   - export (exporter.ts): createExemplarMetricExporter() is the stock OTLP/gRPC metric exporter
//     (same transport, retries and OTEL_EXPORTER_OTLP_* settings) with that serializer, and
//     cumulative temporality.
// One store belongs to one MeterProvider/exporter pair; getDefaultExemplarStore() is the
// process-wide one that ../request-metrics.ts (records) and ../telemetry.ts (exports) share.
//
// HOW TO REMOVE, once @opentelemetry/sdk-metrics exports exemplars itself:
//   1. telemetry.ts: replace createExemplarMetricExporter() with the stock OTLPMetricExporter of
//      @opentelemetry/exporter-metrics-otlp-grpc (temporalityPreference: cumulative) and enable the
//      SDK's exemplars with filter always_on (OTEL_METRICS_EXEMPLAR_FILTER=always_on).
//   2. request-metrics.ts: create the histogram with meter.createHistogram() (same name, unit and
//      advice) and record with histogram.record(seconds, attributes, ctx), where ctx is the context
//      captured at request entry with the HTTP server span set as its active span.
//   3. Delete this directory, test/exemplars.test.ts's store/serializer parts and
//      test/bench/exemplar-record.bench.ts (and the "bench" script); drop protobufjs from
//      services/shared/package.json if nothing else uses it. Keep the middleware test and
//      test/exemplars-collector.test.ts (pointed at the stock exporter): they check the outcome.
export { exemplarFilterFromEnv, type ExemplarFilter } from "./filter.ts";
export { ExemplarStore, getDefaultExemplarStore, type ExemplarClock } from "./store.ts";
export { createExemplarHistogram, type ExemplarHistogram } from "./histogram.ts";
export { createExemplarSerializer, otlpMetricsTypes } from "./serializer.ts";
export { createExemplarMetricExporter } from "./exporter.ts";
