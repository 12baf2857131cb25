// OTLP metric requests decoded independently of our own code: otlp-decode, a Go program on the
// official OTLP types (go.opentelemetry.io/proto/otlp, protojson), built by `npm run tools`.
import { execFileSync } from 'node:child_process';
import { requireTool } from '../../native/tools.ts';

// biome-ignore lint/suspicious/noExplicitAny: protojson documents are walked loosely
export type Json = any;

/** Decodes an ExportMetricsServiceRequest with the Go decoder. */
export function goDecode(bytes: Uint8Array): Json {
  const out = execFileSync(requireTool('otlp-decode'), [], { input: bytes, maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(out.toString('utf8'));
}

/** otlp-decode prints ids in hex (plain protojson: base64); accept both. */
export function idHex(id: string | undefined): string | undefined {
  if (id === undefined) return undefined;
  return /^[0-9a-f]+$/.test(id) && (id.length === 32 || id.length === 16) ? id : Buffer.from(id, 'base64').toString('hex');
}

/** Every metric of a decoded request. */
export function metricsOf(request: Json): Json[] {
  return (request.resourceMetrics ?? []).flatMap((rm: Json) => (rm.scopeMetrics ?? []).flatMap((sm: Json) => sm.metrics ?? []));
}

/** The exemplars of every histogram data point of `metric` in a decoded request. */
export function exemplarsOf(request: Json, metric: string): Array<{ value: number; traceId?: string; spanId?: string }> {
  return metricsOf(request)
    .filter((m) => m.name === metric)
    .flatMap((m) => m.histogram?.dataPoints ?? [])
    .flatMap((point: Json) => point.exemplars ?? [])
    .map((e: Json) => ({ value: e.asDouble, traceId: idHex(e.traceId), spanId: idHex(e.spanId) }));
}
