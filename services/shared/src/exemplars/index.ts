// Exemplars for OpenTelemetry JS histograms: a stopgap, isolated here, to delete when upstream lands.
//
// WHY. The demo jumps from a p99 latency spike in Grafana to the trace that caused it. That jump
// needs exemplars: the trace and span id of a measurement, carried by the histogram data point over
// OTLP (HistogramDataPoint.exemplars, field 8), which the Collector hands to Prometheus by remote
// write. The OpenTelemetry JS metrics SDK cannot produce them yet: its exemplar filter and reservoir
// classes are not wired into the metrics pipeline, MetricData has no exemplars, and the OTLP
// protobuf serializer never writes them. Upstream: open-telemetry/opentelemetry-js#5147
// ("[sdk-metrics] implement metrics exemplars"); pull requests #6483 and #6830 are still open.
//
// HOW, one concept per file, beside the SDK and never inside it:
//   histogram.ts       createExemplarHistogram(): the API's Histogram shape, recording into the SDK
//                      histogram and offering the measurement with its span to a reservoir; marks
//                      the span of a kept measurement (`<name>.exemplar`)
//   reservoir.ts       per histogram: the first measurement per bucket and attribute set of each
//                      export interval, bounded; taking them empties it (never sent twice)
//   attribute-trie.ts  finding an attribute set's entry on the record path without a string
//   attributes.ts      the canonical key that matches attribute sets with encoded data points
//   buckets.ts         the histogram's buckets, as the SDK counts them
//   clock.ts           exemplar timestamps
//   filter.ts          OTEL_METRICS_EXEMPLAR_FILTER: always_on (this demo's default), trace_based,
//                      always_off
//   store.ts           the reservoirs of one MeterProvider, shared by its histograms and exporter
//   meter-provider.ts  the SDK's MeterProvider, with createHistogram making exemplar histograms
//   serializer.ts      the SDK's own OTLP bytes, decoded, exemplars attached, encoded again
//   exporter.ts        the stock OTLP/gRPC metric exporter with that serializer, cumulative
// ../telemetry.ts creates the services' one store, passes it to the exporter, and registers the
// meter provider as the global one; the code that records (../request-metrics.ts) uses the plain
// API: metrics.getMeter(...).createHistogram(...), record(value, attributes, context).
//
// HOW TO REMOVE, once @opentelemetry/sdk-metrics exports exemplars itself:
//   1. telemetry.ts: drop the meterProviderWithExemplars registration, and replace
//      createExemplarMetricExporter(store) with the stock OTLPMetricExporter of
//      @opentelemetry/exporter-metrics-otlp-grpc (temporalityPreference: cumulative), with the SDK's
//      exemplar filter always_on (OTEL_METRICS_EXEMPLAR_FILTER=always_on). Nothing else changes.
//   2. Delete this directory and the tests and benchmark of its internals (test/exemplars.test.ts's
//      reservoir and serializer parts, test/bench/exemplar-record.bench.ts); drop protobufjs from
//      services/shared/package.json. The middleware test and test/exemplars-collector.test.ts stay:
//      they check the outcome. (The span mark needs a hook of its own then, or a sampler that reads
//      exemplars: upstream has no equivalent.)
export { exemplarFilterFromEnv, type ExemplarFilter } from './filter.ts';
export { ExemplarStore, type ExemplarStoreOptions } from './store.ts';
export { createExemplarHistogram, exemplarMarkOf } from './histogram.ts';
export { createExemplarSerializer, otlpMetricsTypes } from './serializer.ts';
export { createExemplarMetricExporter } from './exporter.ts';
export { meterProviderWithExemplars } from './meter-provider.ts';
export type { ExemplarClock } from './clock.ts';
