// Where an exemplar dot leads in Grafana, computed by Grafana's own frontend code (@grafana/prometheus
// and @grafana/data at the pinned Grafana version, see test/grafana-frontend/), for tests that hold
// exemplars from a fixture or from a live Prometheus, and a checker of the answer.
//
// The Grafana code runs in a child process under jsdom (test/grafana-frontend/exemplar-links.ts),
// so that none of its browser shims reaches the test process; JSON goes in and out.
import path from 'node:path';
import { describeRun, run } from '../../native/tools.ts';
import type { PromExemplarSeries } from '../../native/stack-apis.ts';
import { ensureGrafanaFrontend, packageDir } from '../grafana-frontend/install.ts';
import type { WireFrame } from '../grafana-frontend/exemplar-frame.ts';
import type { ProvisionedDatasource } from './dashboards.ts';

/** A link of an exemplar's tooltip, as Grafana builds it. */
export interface ExemplarLink {
  title: string;
  /** The exemplar label (frame field) that carries the link. */
  field: string;
  internal: boolean;
  /** Where a click goes: for an internal link, Grafana's /explore URL with its state. */
  url: string;
  /** Internal links: the data source Explore opens, its name as the link shows it. */
  datasourceUid?: string;
  datasourceName?: string;
  /** Internal links: the Explore query a click opens, variables interpolated (the trace id). */
  query?: { query?: string; queryType?: string; datasource?: { uid?: string }; [key: string]: unknown };
  /** Internal links: the span Explore's trace view selects (panelsState.trace.spanId). */
  spanId?: string;
}

export interface ExemplarLinks {
  /** The trace id: the value of the label a link carries, else of a trace_id/traceID label. */
  traceId?: string;
  spanId?: string;
  /** The exemplar's own labels, and those of its series. */
  labels: Record<string, string>;
  seriesLabels: Record<string, string>;
  links: ExemplarLink[];
}

export interface GrafanaExemplarLinksInput {
  /** The provisioned data sources, as loadProvisionedDatasources() reads them. */
  datasources: ProvisionedDatasource[];
  /** The `data` array of Prometheus's /api/v1/query_exemplars. */
  exemplars: PromExemplarSeries[];
  refId?: string;
  /** The PromQL of the panel (it only travels in the request; nothing runs it). */
  query?: string;
}

/** What the harness answers: the request the data source sent, the frame it got, every exemplar row. */
export interface HarnessAnswer {
  sent: Array<{ url: string; queries: Array<Record<string, unknown>> }>;
  frame: WireFrame | null;
  dataTopic?: string;
  exemplars: Array<{
    time: number;
    value: number;
    labels: Record<string, string>;
    links: Array<ExemplarLink & { panelsState?: { trace?: { spanId?: string } } }>;
  }>;
}

const TRACE_LABEL = /^trace_?id$/i;
const SPAN_LABEL = /^span_?id$/i;

/**
 * Runs the harness on queries' exemplars, one answer per input, all in one child process (loading
 * Grafana's packages costs seconds, a query milliseconds). Installs the packages first if needed.
 */
export async function runGrafanaExemplarHarness(inputs: GrafanaExemplarLinksInput[]): Promise<HarnessAnswer[]> {
  const nodeModules = ensureGrafanaFrontend();
  const result = await run(process.execPath, [path.join(packageDir, 'exemplar-links.ts'), nodeModules], {
    input: JSON.stringify(inputs),
    timeoutMs: 120_000,
  });
  if (result.code !== 0) throw new Error(describeRun('the Grafana frontend harness', result));
  return JSON.parse(result.stdout) as HarnessAnswer[];
}

/** Every exemplar of `exemplars` (in their order) with the links Grafana offers on its dot. */
export async function grafanaExemplarLinks(input: GrafanaExemplarLinksInput): Promise<ExemplarLinks[]> {
  const [answer] = await runGrafanaExemplarHarness([input]);
  return toExemplarLinks(input, answer!);
}

/** The harness's answer per given exemplar. */
export function toExemplarLinks(input: GrafanaExemplarLinksInput, answer: HarnessAnswer): ExemplarLinks[] {
  // The harness keeps the input's order (series by series): row i is the i-th exemplar.
  const given = input.exemplars.flatMap((series) => series.exemplars.map((e) => ({ labels: e.labels, seriesLabels: series.seriesLabels })));
  if (answer.exemplars.length !== given.length) throw new Error(`Grafana shows ${answer.exemplars.length} exemplars of the ${given.length} given`);
  return answer.exemplars.map((row, i) => {
    const { labels, seriesLabels } = given[i]!;
    const linked = row.links.find((link) => link.internal && row.labels[link.field])?.field;
    const traceLabel = linked ?? Object.keys(labels).find((name) => TRACE_LABEL.test(name));
    const spanLabel = Object.keys(labels).find((name) => SPAN_LABEL.test(name));
    return {
      traceId: traceLabel === undefined ? undefined : row.labels[traceLabel],
      spanId: spanLabel === undefined ? undefined : labels[spanLabel],
      labels,
      seriesLabels,
      links: row.links.map(({ panelsState, ...link }) => ({ ...link, spanId: panelsState?.trace?.spanId })),
    };
  });
}

interface Destination {
  name?: string;
  datasourceUid?: string;
  url?: string;
}

/**
 * Throws unless every exemplar has exactly one internal link, to a provisioned Tempo data source,
 * whose query is the exemplar's trace id. The verdict is Grafana's (the links it built); the
 * provisioning only explains a failure: a trace label without a destination, or a destination whose
 * data source uid is not provisioned (Grafana drops both without a word).
 */
export function assertExemplarsLinkToTempo(result: ExemplarLinks[], datasources: ProvisionedDatasource[]): void {
  if (result.length === 0) throw new Error('no exemplars to check');
  const tempoUids = new Set(datasources.filter((ds) => ds.type === 'tempo').map((ds) => ds.uid));
  const destinations = datasources.filter((ds) => ds.type === 'prometheus').flatMap((ds) => (ds.jsonData?.exemplarTraceIdDestinations ?? []) as Destination[]);
  const problems = new Map<string, number>();
  const report = (problem: string) => problems.set(problem, (problems.get(problem) ?? 0) + 1);

  for (const exemplar of result) {
    const internal = exemplar.links.filter((link) => link.internal);
    const [link] = internal;
    if (internal.length === 1 && link && tempoUids.has(link.datasourceUid ?? '') && exemplar.traceId && link.query?.query === exemplar.traceId) continue;

    const traceLabel = Object.keys(exemplar.labels).find((name) => TRACE_LABEL.test(name));
    const destination = destinations.find((d) => d.name === traceLabel);
    if (internal.length > 1) {
      report(`an exemplar has ${internal.length} internal links (${internal.map((l) => `"${l.field}" -> ${l.datasourceUid} "${l.query?.query}"`).join(', ')})`);
    } else if (traceLabel === undefined) {
      report(`an exemplar has no trace id label (labels: ${Object.keys(exemplar.labels).join(', ')})`);
    } else if (!destination) {
      const names = destinations.map((d) => `"${d.name}"`).join(', ') || 'none';
      report(`exemplar label "${traceLabel}" has no destination in exemplarTraceIdDestinations (destinations: ${names}; label names must match exactly)`);
    } else if (!datasources.some((ds) => ds.uid === destination.datasourceUid)) {
      const uids = datasources.map((ds) => `"${ds.uid}"`).join(', ');
      report(`destination data source uid "${destination.datasourceUid}" is not provisioned (destination "${traceLabel}"; provisioned uids: ${uids})`);
    } else if (!tempoUids.has(destination.datasourceUid ?? '')) {
      report(`destination data source uid "${destination.datasourceUid}" is not a Tempo data source (destination "${traceLabel}")`);
    } else if (!link) {
      report(`Grafana made no link for exemplar label "${traceLabel}", though the provisioning looks right`);
    } else {
      report(`the link of exemplar label "${traceLabel}" opens ${link.datasourceUid} with query "${link.query?.query}", not trace "${exemplar.traceId}"`);
    }
  }
  if (problems.size > 0) {
    const lines = [...problems].map(([problem, count]) => `${problem} [${count} of ${result.length} exemplars]`);
    throw new Error(`exemplars do not link to their traces in Tempo:\n  ${lines.join('\n  ')}`);
  }
}
