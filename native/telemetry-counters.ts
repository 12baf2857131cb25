// Counters of telemetry on its way from the services to the backends: what flowed, and what was lost
// where, read from the Collector's, Tempo's and Prometheus's own metrics. The names are those of the
// pinned Collector 0.158, Tempo 3.0.3 and Prometheus 3.14.
//
// A counter read as 0 proves nothing if the name is wrong, so each is declared with whether a healthy
// stack publishes it at zero: those must be in the scrape (their absence fails, with the name), and
// those that appear only once they count something (a labelled counter with no label set yet) are
// provoked on the real binaries by test/loss-counters.test.ts, so that a renamed one fails there.
import { scrape } from './stack-apis.ts';

/** Where the Collector, Tempo and Prometheus publish their own metrics. */
export interface BackendMetricsUrls {
  collector: string;
  tempo?: string;
  prometheus: string;
}

export interface TelemetryCounter {
  /** What the figure is called in reports. */
  label: string;
  page: 'collector' | 'tempo' | 'prometheus';
  metric: string;
  /** flow: must have counted something; loss: must stay 0. */
  role: 'flow' | 'loss';
  /** Published at 0 by a healthy stack that has seen traffic (else only once it counts). */
  publishedAtZero: boolean;
  /** Read only where the stack has Tempo (spans to Tempo). */
  tracesToTempo?: boolean;
}

export const TELEMETRY_COUNTERS: readonly TelemetryCounter[] = [
  { label: 'Collector spans accepted', page: 'collector', metric: 'otelcol_receiver_accepted_spans', role: 'flow', publishedAtZero: true },
  { label: 'Collector metric points accepted', page: 'collector', metric: 'otelcol_receiver_accepted_metric_points', role: 'flow', publishedAtZero: true },
  { label: 'Collector metric points sent', page: 'collector', metric: 'otelcol_exporter_sent_metric_points', role: 'flow', publishedAtZero: true },
  {
    label: 'Prometheus exemplars appended',
    page: 'prometheus',
    metric: 'prometheus_tsdb_exemplar_exemplars_appended_total',
    role: 'flow',
    publishedAtZero: true,
  },
  { label: 'Collector spans refused', page: 'collector', metric: 'otelcol_receiver_refused_spans', role: 'loss', publishedAtZero: true },
  { label: 'Collector spans failed', page: 'collector', metric: 'otelcol_receiver_failed_spans', role: 'loss', publishedAtZero: true },
  { label: 'Collector metric points refused', page: 'collector', metric: 'otelcol_receiver_refused_metric_points', role: 'loss', publishedAtZero: true },
  { label: 'Collector metric points failed', page: 'collector', metric: 'otelcol_receiver_failed_metric_points', role: 'loss', publishedAtZero: true },
  {
    label: 'Collector metric points not enqueued',
    page: 'collector',
    metric: 'otelcol_exporter_enqueue_failed_metric_points',
    role: 'loss',
    publishedAtZero: false,
  },
  { label: 'Collector metric points not sent', page: 'collector', metric: 'otelcol_exporter_send_failed_metric_points', role: 'loss', publishedAtZero: false },
  {
    label: 'Prometheus exemplars out of order',
    page: 'prometheus',
    metric: 'prometheus_tsdb_exemplar_out_of_order_exemplars_total',
    role: 'loss',
    publishedAtZero: true,
  },
  {
    label: 'Collector spans sent (all exporters)',
    page: 'collector',
    metric: 'otelcol_exporter_sent_spans',
    role: 'flow',
    publishedAtZero: true,
    tracesToTempo: true,
  },
  { label: 'Tempo spans accepted', page: 'tempo', metric: 'tempo_receiver_accepted_spans', role: 'flow', publishedAtZero: true, tracesToTempo: true },
  {
    label: 'Collector spans not enqueued',
    page: 'collector',
    metric: 'otelcol_exporter_enqueue_failed_spans',
    role: 'loss',
    publishedAtZero: false,
    tracesToTempo: true,
  },
  {
    label: 'Collector spans not sent',
    page: 'collector',
    metric: 'otelcol_exporter_send_failed_spans',
    role: 'loss',
    publishedAtZero: false,
    tracesToTempo: true,
  },
  { label: 'Tempo spans refused', page: 'tempo', metric: 'tempo_receiver_refused_spans', role: 'loss', publishedAtZero: true, tracesToTempo: true },
  { label: 'Tempo spans discarded', page: 'tempo', metric: 'tempo_discarded_spans_total', role: 'loss', publishedAtZero: false, tracesToTempo: true },
];

export interface TelemetryCounts {
  flow: Record<string, number>;
  losses: Record<string, number>;
  /** Counters published at zero that the scrape lacks: their names changed, or the page is not theirs. */
  absent: string[];
}

/** Reads every counter that applies (Tempo's only with a Tempo URL); an absent one reads 0 and is listed. */
export async function telemetryCounters(urls: BackendMetricsUrls): Promise<TelemetryCounts> {
  const pages = {
    collector: await scrape(urls.collector),
    prometheus: await scrape(`${urls.prometheus}/metrics`),
    tempo: urls.tempo ? await scrape(`${urls.tempo}/metrics`) : new Map<string, number>(),
  };
  const counts: TelemetryCounts = { flow: {}, losses: {}, absent: [] };
  for (const counter of TELEMETRY_COUNTERS.filter((c) => urls.tempo || !c.tracesToTempo)) {
    const value = pages[counter.page].get(counter.metric);
    if (value === undefined && counter.publishedAtZero) counts.absent.push(`${counter.metric} (${counter.label}, on ${counter.page}'s page)`);
    (counter.role === 'flow' ? counts.flow : counts.losses)[counter.label] = value ?? 0;
  }
  return counts;
}

/**
 * Throws unless every counter published at zero is there and every flow counter counted at least
 * its minimum (a zero loss of nothing proves nothing): `minimums` by label, 1 for the others.
 */
export function assertFlowed(counts: TelemetryCounts, minimums: Record<string, number> = {}): void {
  if (counts.absent.length > 0) throw new Error(`counters missing from the scrape, renamed?: ${counts.absent.join(', ')}`);
  const unknown = Object.keys(minimums).filter((label) => !(label in counts.flow));
  if (unknown.length > 0) throw new Error(`no flow counter is called ${unknown.join(', ')}`);
  const dry = Object.entries(counts.flow).filter(([label, n]) => !(n >= (minimums[label] ?? 1)));
  if (dry.length > 0) throw new Error(`too little counted by ${dry.map(([label, n]) => `${label} (${n}, want at least ${minimums[label] ?? 1})`).join(', ')}`);
}
