// Test preload: `node --import ./test/support/in-memory-telemetry.ts services/<s>/src/main.ts`.
// The service runs for real, with the project's own telemetry setup and the same ESM loader hook
// as services/shared/src/instrument.ts, but its spans go to an in-memory exporter that the test
// reads over the child-process IPC channel.
import { register } from 'node:module';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

const { startTelemetry, serviceIdentityOf } = await import('../../services/shared/src/telemetry.ts');
const { InMemorySpanExporter, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace');

const exporter = new InMemorySpanExporter();
startTelemetry({
  ...serviceIdentityOf(process.argv[1]),
  spanProcessors: [new SimpleSpanProcessor({ exporter })],
  metricReaders: [],
});

export interface RecordedSpan {
  service: string;
  scope: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  status: { code: number; message?: string };
  events: string[];
  durationMs: number;
}

process.on('message', (message) => {
  if (message !== 'spans') return;
  const spans: RecordedSpan[] = exporter.getFinishedSpans().map((span) => ({
    service: String(span.resource.attributes['service.name']),
    scope: span.instrumentationScope.name,
    name: span.name,
    kind: span.kind,
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    attributes: { ...span.attributes },
    status: { ...span.status },
    events: span.events.map((event) => event.name),
    durationMs: span.duration[0] * 1e3 + span.duration[1] / 1e6,
  }));
  process.send?.({ spans });
});
// The IPC channel must not keep a service alive once its server has closed.
process.channel?.unref();
