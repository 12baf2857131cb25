// Small clients for the APIs the end-to-end test and the benchmarks assert on: Prometheus's HTTP
// API, Tempo's trace API and the Collector's own metrics.
import { setTimeout as sleep } from 'node:timers/promises';

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
  return (await scrape(metricsUrl)).get(metric) ?? 0;
}

/** Every metric of a Prometheus text-format page, each summed over its label sets. */
async function scrape(metricsUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) })).text();
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{.*\})? (\S+)/.exec(line);
    if (match) sums.set(match[1]!, (sums.get(match[1]!) ?? 0) + Number(match[2]));
  }
  return sums;
}

/** Where the Collector, Tempo and Prometheus publish their own metrics. */
export interface BackendMetricsUrls {
  collector: string;
  tempo?: string;
  prometheus: string;
}

/**
 * Counters of telemetry on its way from the services to the backends: what flowed, and what was
 * lost where. The names are those of Collector 0.159 (its own counters carry no _total suffix),
 * Tempo 3.0 and Prometheus 3. A loss counter that is absent counts 0 (most appear only once they
 * count something), so the flow counters, read from the same pages under the same naming, must be
 * above 0 for the zeros to mean anything: `assertFlowed` checks that.
 */
export async function telemetryCounters(urls: BackendMetricsUrls): Promise<{ flow: Record<string, number>; losses: Record<string, number> }> {
  const collector = await scrape(urls.collector);
  const prometheus = await scrape(`${urls.prometheus}/metrics`);
  const tempo = urls.tempo ? await scrape(`${urls.tempo}/metrics`) : undefined;
  const read = (page: Map<string, number> | undefined, name: string) => page?.get(name) ?? 0;
  const flow: Record<string, number> = {
    'Collector spans accepted': read(collector, 'otelcol_receiver_accepted_spans'),
    'Collector metric points accepted': read(collector, 'otelcol_receiver_accepted_metric_points'),
    'Collector metric points sent': read(collector, 'otelcol_exporter_sent_metric_points'),
    'Prometheus exemplars appended': read(prometheus, 'prometheus_tsdb_exemplar_exemplars_appended_total'),
  };
  const losses: Record<string, number> = {
    'Collector spans refused': read(collector, 'otelcol_receiver_refused_spans'),
    'Collector spans failed': read(collector, 'otelcol_receiver_failed_spans'),
    'Collector metric points refused': read(collector, 'otelcol_receiver_refused_metric_points'),
    'Collector metric points failed': read(collector, 'otelcol_receiver_failed_metric_points'),
    'Collector metric points not enqueued': read(collector, 'otelcol_exporter_enqueue_failed_metric_points'),
    'Collector metric points not sent': read(collector, 'otelcol_exporter_send_failed_metric_points'),
    'Prometheus exemplars out of order': read(prometheus, 'prometheus_tsdb_exemplar_out_of_order_exemplars_total'),
  };
  if (tempo) {
    flow['Collector spans sent (all exporters)'] = read(collector, 'otelcol_exporter_sent_spans');
    flow['Tempo spans accepted'] = read(tempo, 'tempo_receiver_accepted_spans');
    losses['Collector spans not enqueued'] = read(collector, 'otelcol_exporter_enqueue_failed_spans');
    losses['Collector spans not sent'] = read(collector, 'otelcol_exporter_send_failed_spans');
    losses['Tempo spans refused'] = read(tempo, 'tempo_receiver_refused_spans');
    losses['Tempo spans discarded'] = read(tempo, 'tempo_discarded_spans_total');
  }
  return { flow, losses };
}

/** Throws unless every flow counter is above 0 (otherwise a zero loss proves nothing). */
export function assertFlowed(flow: Record<string, number>): void {
  const dry = Object.entries(flow).filter(([, n]) => !(n > 0));
  if (dry.length > 0) throw new Error(`no telemetry counted by ${dry.map(([name]) => name).join(', ')}: the counter names may have changed`);
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

/** One exemplar, flattened: the trace it points at and the duration it measured. */
export interface Exemplar {
  traceId: string;
  /** The measured duration, seconds. */
  value: number;
  /** Unix seconds. */
  timestamp: number;
  job: string;
}

/**
 * The exemplars of a job's request-duration histogram between start and end (Unix s), slowest
 * first; empty when there are none. The trace id label is trace_id as the Collector writes it
 * (traceID / traceId accepted too).
 */
export async function slowestExemplars(prometheus: string, job: string, start: number, end: number): Promise<Exemplar[]> {
  const series = await promExemplars(prometheus, `${REQUEST_DURATION_HISTOGRAM}_bucket{job="${job}"}`, start, end);
  return (series ?? [])
    .flatMap((entry) =>
      entry.exemplars.map((exemplar) => ({
        traceId: exemplar.labels.trace_id ?? exemplar.labels.traceID ?? exemplar.labels.traceId ?? '',
        value: Number(exemplar.value),
        timestamp: exemplar.timestamp,
        job: entry.seriesLabels.job ?? job,
      })),
    )
    .filter((exemplar) => exemplar.traceId !== '')
    .sort((a, b) => b.value - a.value);
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

/** What became of the exemplars of a window: how many there were, and which traces Tempo lacks. */
export interface ExemplarResolvability {
  total: number;
  resolved: number;
  /** Trace ids of the exemplars Tempo does not return ("trace not found" in Grafana). */
  dead: string[];
  /** Exemplars Tempo returned only after a wait: their spans were still on the way at the first lookup. */
  late: Array<{ traceId: string; ageS: number }>;
}

/**
 * The trace ids Tempo does not return. Traces reach Tempo seconds after their request (export
 * batching, the tail sampler's decision wait): the ones not found, or whose lookup failed, are asked
 * again every 2 s until `waitMs` has passed (all of them together, so a list full of dead links
 * costs waitMs, not waitMs per link), at most 16 lookups at a time.
 */
export async function missingTraces(tempo: string, traceIds: readonly string[], waitMs = 30_000): Promise<string[]> {
  let missing = [...new Set(traceIds)];
  const deadline = Date.now() + waitMs;
  for (;;) {
    const stillMissing: string[] = [];
    for (let i = 0; i < missing.length; i += 16) {
      const batch = missing.slice(i, i + 16);
      const found = await Promise.all(batch.map((id) => tempoTrace(tempo, id).catch(() => undefined)));
      stillMissing.push(...batch.filter((_, j) => !found[j]));
    }
    missing = stillMissing;
    if (missing.length === 0 || Date.now() >= deadline) return missing;
    await sleep(2000);
  }
}

/**
 * Every exemplar of the services' request-duration histogram between start and end (Unix s), each
 * looked up in Tempo once, then the ones not found again until `waitMs` has passed.
 */
export async function exemplarResolvability(prometheus: string, tempo: string, start: number, end: number, waitMs = 30_000): Promise<ExemplarResolvability> {
  const series = await promExemplars(prometheus, `${REQUEST_DURATION_HISTOGRAM}_bucket`, start, end);
  const exemplars = series.flatMap((s) => s.exemplars).filter((e) => e.labels.trace_id);
  const lookedUpAt = Date.now() / 1000;
  const notFoundAtFirst = new Set(
    await missingTraces(
      tempo,
      exemplars.map((e) => e.labels.trace_id!),
      0,
    ),
  );
  const missing = new Set(await missingTraces(tempo, [...notFoundAtFirst], waitMs));
  const dead = exemplars.filter((e) => missing.has(e.labels.trace_id!)).map((e) => e.labels.trace_id!);
  const late = exemplars
    .filter((e) => notFoundAtFirst.has(e.labels.trace_id!) && !missing.has(e.labels.trace_id!))
    .map((e) => ({ traceId: e.labels.trace_id!, ageS: lookedUpAt - e.timestamp }));
  return { total: exemplars.length, resolved: exemplars.length - dead.length, dead, late };
}
