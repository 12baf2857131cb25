// Telemetry back within seconds of a Collector restart. A gRPC channel whose server went away
// reconnects on its own backoff schedule (1 s, growing 1.6x per attempt with 20 % jitter, up to
// 120 s), which the OTLP exporters offer no option to change: after a 30 s Collector outage the
// services' spans resumed anywhere from 2 to 16 s after the Collector was back (measured by
// test/faults.test.ts). So an export that fails replaces its exporter, and with it the channel: the
// next export connects at once instead of waiting out the old channel's backoff.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

interface Exporter<T> {
  export(items: T, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

/** The current exporter, replaced by a new one from `create` after each failed export. */
class Replaceable<T, E extends Exporter<T>> {
  current: E;
  private readonly create: () => E;

  constructor(create: () => E) {
    this.create = create;
    this.current = create();
  }

  export(items: T, done: (result: ExportResult) => void): void {
    const used = this.current;
    used.export(items, (result) => {
      if (result.code === ExportResultCode.FAILED && used === this.current) {
        this.current = this.create();
        used.shutdown().catch(() => {}); // its channel only; what it held has failed already
      }
      done(result);
    });
  }
}

export function freshChannelSpanExporter(create: () => SpanExporter): SpanExporter {
  const exporter = new Replaceable<ReadableSpan[], SpanExporter>(create);
  return {
    export: (spans, done) => exporter.export(spans, done),
    shutdown: () => exporter.current.shutdown(),
    forceFlush: () => exporter.current.forceFlush?.() ?? Promise.resolve(),
  };
}

export function freshChannelMetricExporter(create: () => PushMetricExporter): PushMetricExporter {
  const exporter = new Replaceable<ResourceMetrics, PushMetricExporter>(create);
  return {
    export: (metrics, done) => exporter.export(metrics, done),
    shutdown: () => exporter.current.shutdown(),
    forceFlush: () => exporter.current.forceFlush(),
    // Defined by the OTLP metric exporters this wraps.
    selectAggregationTemporality: (kind) => exporter.current.selectAggregationTemporality!(kind),
    selectAggregation: (kind) => exporter.current.selectAggregation!(kind),
  };
}
