// Test preload: `node --import ./test/support/in-memory-telemetry.ts services/<s>/src/main.ts`.
// The service runs for real, with the project's own telemetry setup (as
// services/shared/src/instrument.ts has it), but its spans go to an in-memory exporter and its metrics
// to a reader that collects only when asked; the test reads both over the child-process IPC channel
// (metrics as the OTLP bytes the exemplar exporter would send).
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { MetricReader } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { createExemplarSerializer } from '../../services/shared/src/exemplars/index.ts';
import { serviceIdentityOf, startTelemetry } from '../../services/shared/src/telemetry.ts';

class OnDemandReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

const exporter = new InMemorySpanExporter();
const reader = new OnDemandReader();
const { exemplars } = startTelemetry({
  ...serviceIdentityOf(process.argv[1]),
  spanProcessors: [new SimpleSpanProcessor({ exporter })],
  metricReaders: [reader],
});
const serializer = createExemplarSerializer(exemplars);

export interface RecordedSpan {
  service: string;
  resourceKeys: string[];
  scope: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  status: { code: number; message?: string };
  events: string[];
  eventAttributes: Array<Record<string, unknown>>;
  durationMs: number;
  /** Start and end, Unix time in milliseconds. */
  startMs: number;
  endMs: number;
}

process.on('message', async (message) => {
  if (message === 'metrics') {
    const { resourceMetrics } = await reader.collect();
    process.send?.({ metrics: Buffer.from(serializer.serializeRequest(resourceMetrics) ?? new Uint8Array()).toString('base64') });
    return;
  }
  if (message !== 'spans') return;
  const spans: RecordedSpan[] = exporter.getFinishedSpans().map((span) => ({
    service: String(span.resource.attributes['service.name']),
    resourceKeys: Object.keys(span.resource.attributes),
    scope: span.instrumentationScope.name,
    name: span.name,
    kind: span.kind,
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    attributes: { ...span.attributes },
    status: { ...span.status },
    events: span.events.map((event) => event.name),
    eventAttributes: span.events.map((event) => ({ ...event.attributes })),
    durationMs: hrTimeToMilliseconds(span.duration),
    startMs: hrTimeToMilliseconds(span.startTime),
    endMs: hrTimeToMilliseconds(span.endTime),
  }));
  process.send?.({ spans });
});
// The IPC channel must not keep a service alive once its server has closed.
process.channel?.unref();
