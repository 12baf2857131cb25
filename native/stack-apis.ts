// Small clients for the APIs the end-to-end test and the benchmarks assert on: Prometheus's HTTP
// API, Tempo's trace API and the Collector's own metrics.

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: Array<{ labels: Record<string, string>; value: string; timestamp: number }>;
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as { status?: string; data?: T; error?: string };
  if (!response.ok || body.status !== 'success') throw new Error(`${url}: ${response.status} ${body.error ?? ''}`);
  return body.data as T;
}

export function promQuery(prometheus: string, query: string, time?: number): Promise<{ resultType: string; result: PromSample[] }> {
  const params = new URLSearchParams({ query, ...(time ? { time: String(time) } : {}) });
  return getJson(`${prometheus}/api/v1/query?${params}`);
}

export function promExemplars(prometheus: string, query: string, start: number, end: number): Promise<PromExemplarSeries[]> {
  const params = new URLSearchParams({ query, start: String(start), end: String(end) });
  return getJson(`${prometheus}/api/v1/query_exemplars?${params}`);
}

/** A span as Tempo returns it, flattened with its service name. */
export interface TempoSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  kind: string;
}

const base64ToHex = (value: string) => Buffer.from(value, 'base64').toString('hex');
// Tempo answers ids in OTLP/JSON either as hex or (protobuf JSON mapping) as base64.
const idToHex = (value: string | undefined, hexLength: number) =>
  !value ? '' : new RegExp(`^[0-9a-f]{${hexLength}}$`, 'i').test(value) ? value.toLowerCase() : base64ToHex(value);

/** GET /api/traces/<id>; undefined while Tempo does not know the trace (404). */
export async function tempoTrace(tempo: string, traceId: string): Promise<TempoSpan[] | undefined> {
  const response = await fetch(`${tempo}/api/traces/${traceId}`, { signal: AbortSignal.timeout(10_000), headers: { accept: 'application/json' } });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`Tempo /api/traces/${traceId}: ${response.status} ${await response.text()}`);
  type Batch = {
    resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans?: Array<{ spans?: Array<{ name: string; traceId: string; spanId: string; parentSpanId?: string; kind?: string | number }> }>;
  };
  const body = (await response.json()) as { batches?: Batch[]; resourceSpans?: Batch[]; trace?: { resourceSpans?: Batch[] } };
  const batches = body.batches ?? body.resourceSpans ?? body.trace?.resourceSpans ?? [];
  return batches.flatMap((batch) => {
    const service = batch.resource?.attributes?.find((attribute) => attribute.key === 'service.name')?.value.stringValue ?? '';
    return (batch.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map((span) => ({
        service,
        name: span.name,
        traceId: idToHex(span.traceId, 32),
        spanId: idToHex(span.spanId, 16),
        parentSpanId: idToHex(span.parentSpanId, 16),
        kind: String(span.kind ?? ''),
      })),
    );
  });
}

/** Sums every sample of a Prometheus text-format metric (all label sets); 0 when absent. */
export async function scrapeSum(metricsUrl: string, metric: string): Promise<number> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${metric}{`) || line.startsWith(`${metric} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
