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
  /** The OTLP enum name: SPAN_KIND_SERVER, SPAN_KIND_CLIENT, ... */
  kind: string;
}

const base64ToHex = (value: string) => Buffer.from(value, 'base64').toString('hex');
// OTLP/JSON spells a span kind by its enum name (SPAN_KIND_SERVER) or number (2).
const SPAN_KINDS = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
const kindName = (kind: string | number | undefined) =>
  typeof kind === 'number' || /^\d+$/.test(String(kind)) ? (SPAN_KINDS[Number(kind)] ?? String(kind)) : String(kind ?? '');
// Tempo answers ids in OTLP/JSON either as hex or (protobuf JSON mapping) as base64.
const idToHex = (value: string | undefined, hexLength: number) =>
  !value ? '' : new RegExp(`^[0-9a-f]{${hexLength}}$`, 'i').test(value) ? value.toLowerCase() : base64ToHex(value);

/** GET /api/traces/<id>; undefined while Tempo does not know the trace (404). */
export async function tempoTrace(tempo: string, traceId: string): Promise<TempoSpan[] | undefined> {
  const response = await fetch(`${tempo}/api/traces/${traceId}`, { signal: AbortSignal.timeout(10_000), headers: { accept: 'application/json' } });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`Tempo /api/traces/${traceId}: ${response.status} ${await response.text()}`);
  return tempoSpans(await response.json());
}

/** The spans of a Tempo trace answer (OTLP/JSON: batches, resourceSpans, or v2's trace.resourceSpans), flattened. */
export function tempoSpans(body: unknown): TempoSpan[] {
  type Batch = {
    resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans?: Array<{ spans?: Array<{ name: string; traceId: string; spanId: string; parentSpanId?: string; kind?: string | number }> }>;
  };
  const answer = body as { batches?: Batch[]; resourceSpans?: Batch[]; trace?: { resourceSpans?: Batch[] } };
  const batches = answer.batches ?? answer.resourceSpans ?? answer.trace?.resourceSpans ?? [];
  return batches.flatMap((batch) => {
    const service = batch.resource?.attributes?.find((attribute) => attribute.key === 'service.name')?.value.stringValue ?? '';
    return (batch.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map((span) => ({
        service,
        name: span.name,
        traceId: idToHex(span.traceId, 32),
        spanId: idToHex(span.spanId, 16),
        parentSpanId: idToHex(span.parentSpanId, 16),
        kind: kindName(span.kind),
      })),
    );
  });
}

/** Sums every sample of a Prometheus text-format metric (all label sets); 0 when absent. */
export async function scrapeSum(metricsUrl: string, metric: string): Promise<number> {
  return (await scrape(metricsUrl)).get(metric) ?? 0;
}

/** Every metric of a Prometheus text-format page, each summed over its label sets. */
export async function scrape(metricsUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) })).text();
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{.*\})? (\S+)/.exec(line);
    if (match) sums.set(match[1]!, (sums.get(match[1]!) ?? 0) + Number(match[2]));
  }
  return sums;
}

/** One trace of a Tempo search answer. */
export interface TempoSearchHit {
  traceId: string;
  rootServiceName: string;
  rootTraceName: string;
  durationMs: number;
}

/**
 * GET /api/search with a TraceQL query over [start, end] (Unix seconds): the traces that match, at
 * most `limit`. Tempo leaves leading zeros out of the trace ids it lists; they are put back here.
 */
export async function tempoSearch(tempo: string, traceql: string, start: number, end: number, limit = 1000): Promise<TempoSearchHit[]> {
  const params = new URLSearchParams({ q: traceql, start: String(Math.floor(start)), end: String(Math.ceil(end)), limit: String(limit) });
  const response = await fetch(`${tempo}/api/search?${params}`, { signal: AbortSignal.timeout(30_000) });
  if (!response.ok) throw new Error(`Tempo /api/search ${traceql}: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { traces?: Array<{ traceID: string; rootServiceName?: string; rootTraceName?: string; durationMs?: number }> };
  return (body.traces ?? []).map((hit) => ({
    traceId: hit.traceID.padStart(32, '0'),
    rootServiceName: hit.rootServiceName ?? '',
    rootTraceName: hit.rootTraceName ?? '',
    durationMs: hit.durationMs ?? 0,
  }));
}

/**
 * GET /api/search with a TraceQL span filter over [start, end] (Unix seconds): for every trace with a
 * matching span, how many of its spans match (the spanset's `matched`, exact however few spans the
 * answer lists). One search counts what thousands of trace lookups would, with one caveat: of a
 * trace Tempo holds in fragments (in two blocks, say, around a restart), it gives the largest
 * fragment's count, not their sum (pkg/traceql/combine.go), so a count may be low, never high.
 */
export async function tempoMatchedSpans(tempo: string, traceql: string, start: number, end: number): Promise<Map<string, number>> {
  const params = new URLSearchParams({
    q: traceql,
    start: String(Math.floor(start)),
    end: String(Math.ceil(end)),
    limit: String(MATCHED_SPANS_LIMIT),
    spss: '1',
  });
  const response = await fetch(`${tempo}/api/search?${params}`, { signal: AbortSignal.timeout(60_000) });
  if (!response.ok) throw new Error(`Tempo /api/search ${traceql}: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { traces?: Array<{ traceID: string; spanSets?: Array<{ matched?: number }>; spanSet?: { matched?: number } }> };
  const traces = body.traces ?? [];
  // A full answer may have left traces out: the caller's window is too wide to count this way.
  if (traces.length >= MATCHED_SPANS_LIMIT) throw new Error(`Tempo /api/search ${traceql}: ${traces.length} traces, the limit; narrow the window`);
  return new Map(
    traces.map((hit) => [
      hit.traceID.padStart(32, '0'),
      (hit.spanSets ?? (hit.spanSet ? [hit.spanSet] : [])).reduce((sum, set) => sum + (set.matched ?? 0), 0),
    ]),
  );
}

/** Traces one search may list: below Tempo's own cap (max_result_limit, 262,144 by default). */
const MATCHED_SPANS_LIMIT = 100_000;

// ------------------------------------------------------------------------------------------------
// The demo's questions (demo/): the services' p99 and traffic, their slowest exemplars, and whether
// a trace shows inventory's N+1.
// ------------------------------------------------------------------------------------------------

/** The request-duration histogram every service records (with exemplars). */
export const REQUEST_DURATION_HISTOGRAM = 'http_request_duration_seconds';

/** PromQL: a job's p99 request duration over the last minute, /healthz left out. */
export function p99Query(job: string): string {
  return `histogram_quantile(0.99, sum by (le) (rate(${REQUEST_DURATION_HISTOGRAM}_bucket{job="${job}", http_route!="/healthz"}[1m])))`;
}

/** PromQL: a job's requests per second over the last minute, /healthz left out. */
export function requestRateQuery(job: string): string {
  return `sum(rate(${REQUEST_DURATION_HISTOGRAM}_count{job="${job}", http_route!="/healthz"}[1m]))`;
}

/** One instant value: the first sample's; NaN while there is no data. */
export async function promValue(prometheus: string, query: string, time?: number): Promise<number> {
  const sample = (await promQuery(prometheus, query, time)).result[0];
  return sample ? Number(sample.value[1]) : NaN;
}

/** What a trace shows: its services, and inventory's N+1 (its query-stock-db spans). */
export interface TraceEvidence {
  traceId: string;
  spans: number;
  services: string[];
  dbSpansInInventory: number;
}

/** Summarises a trace's spans as TraceEvidence. */
export function traceEvidence(traceId: string, spans: TempoSpan[]): TraceEvidence {
  return {
    traceId,
    spans: spans.length,
    services: [...new Set(spans.map((span) => span.service))].sort(),
    dbSpansInInventory: spans.filter((span) => span.service === 'inventory' && span.name === 'query-stock-db').length,
  };
}

/** GET /api/traces/<id> as TraceEvidence; undefined while Tempo does not know the trace (404). */
export async function tempoTraceEvidence(tempo: string, traceId: string): Promise<TraceEvidence | undefined> {
  const spans = await tempoTrace(tempo, traceId);
  return spans ? traceEvidence(traceId, spans) : undefined;
}
