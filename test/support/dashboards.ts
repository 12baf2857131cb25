// The Grafana dashboards and provisioning of the repository, read the way Grafana reads them, and
// the PromQL they run. Used by test/grafana-provisioning.test.ts (static checks) and by tests that
// run the dashboards' queries against a live Prometheus (listDashboardPromQL gives them runnable
// queries: Grafana's own variables are replaced by concrete values).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../../native/tools.ts';

export const dashboardsDir = join(repoRoot, 'grafana', 'dashboards');
export const provisioningDir = join(repoRoot, 'grafana', 'provisioning');

/**
 * Every metric name the stack really writes into Prometheus, by source. A dashboard query on any
 * other name would draw an empty panel.
 */
export const EMITTED_METRICS: Readonly<Record<string, readonly string[]>> = {
  // The services' OTLP histogram http.request.duration (unit s), remote written by the Collector
  // (translation UnderscoreEscapingWithSuffixes). Labels: job (service name), instance,
  // http_request_method, http_route, http_response_status_code; exemplar labels trace_id, span_id.
  collector: ['http_request_duration_seconds_bucket', 'http_request_duration_seconds_sum', 'http_request_duration_seconds_count', 'target_info'],
  // Tempo's metrics-generator, span-metrics processor. Labels: service, span_name, span_kind,
  // status_code; exemplar label traceID.
  spanMetrics: [
    'traces_spanmetrics_calls_total',
    'traces_spanmetrics_latency_bucket',
    'traces_spanmetrics_latency_sum',
    'traces_spanmetrics_latency_count',
    'traces_spanmetrics_size_total',
  ],
  // Tempo's metrics-generator, service-graphs processor. Labels: client, server (connection_type).
  serviceGraph: [
    'traces_service_graph_request_total',
    'traces_service_graph_request_failed_total',
    'traces_service_graph_request_server_seconds_bucket',
    'traces_service_graph_request_server_seconds_sum',
    'traces_service_graph_request_server_seconds_count',
    'traces_service_graph_request_client_seconds_bucket',
    'traces_service_graph_request_client_seconds_sum',
    'traces_service_graph_request_client_seconds_count',
    'traces_service_graph_unpaired_spans_total',
    'traces_service_graph_dropped_spans_total',
  ],
};

export const ALL_EMITTED_METRICS: ReadonlySet<string> = new Set(Object.values(EMITTED_METRICS).flat());

export interface DatasourceRef {
  type?: string;
  uid?: string;
}

export interface DashboardTarget {
  refId?: string;
  datasource?: DatasourceRef | string | null;
  expr?: string;
  exemplar?: boolean;
  range?: boolean;
  instant?: boolean;
  queryType?: string;
  query?: string;
  [key: string]: unknown;
}

export interface DashboardPanel {
  id?: number;
  type: string;
  title?: string;
  datasource?: DatasourceRef | string | null;
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
  [key: string]: unknown;
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
  [key: string]: unknown;
}

export interface LoadedDashboard {
  file: string;
  dashboard: Dashboard;
}

/** Every dashboard JSON in grafana/dashboards. */
export function loadDashboards(dir: string = dashboardsDir): LoadedDashboard[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => ({ file: join(dir, name), dashboard: JSON.parse(readFileSync(join(dir, name), 'utf8')) as Dashboard }));
}

/** All panels, with the panels nested in (collapsed) rows. */
export function allPanels(dashboard: Dashboard): DashboardPanel[] {
  const out: DashboardPanel[] = [];
  const walk = (panels: DashboardPanel[] | undefined) => {
    for (const panel of panels ?? []) {
      out.push(panel);
      walk(panel.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

/** Reads a YAML file (merge keys on, as docker compose and Grafana read theirs). */
export function readYaml<T = unknown>(file: string): T {
  return parseYaml(readFileSync(file, 'utf8'), { merge: true }) as T;
}

export interface ProvisionedDatasource {
  name: string;
  uid: string;
  type: string;
  url?: string;
  jsonData?: Record<string, unknown>;
}

/** The data sources of every provisioning file in grafana/provisioning/datasources. */
export function loadProvisionedDatasources(dir: string = join(provisioningDir, 'datasources')): ProvisionedDatasource[] {
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .flatMap((name) => readYaml<{ datasources?: ProvisionedDatasource[] }>(join(dir, name)).datasources ?? []);
}

/** The concrete values given to Grafana's built-in variables when a query is run outside Grafana. */
export interface GrafanaVariableValues {
  /** $__rate_interval; Grafana uses at least 4 x the data source's scrape interval (15 s here). */
  rateInterval: string;
  /** $__interval */
  interval: string;
  /** $__range */
  range: string;
}

export const DEFAULT_VARIABLE_VALUES: GrafanaVariableValues = { rateInterval: '1m', interval: '15s', range: '15m' };

/** Replaces Grafana's built-in variables ($__rate_interval, $__interval, $__range and friends). */
export function substituteGrafanaVariables(expr: string, values: GrafanaVariableValues = DEFAULT_VARIABLE_VALUES): string {
  const seconds = durationSeconds(values.range);
  const replacements: Record<string, string> = {
    __rate_interval: values.rateInterval,
    __interval: values.interval,
    __interval_ms: String(durationSeconds(values.interval) * 1000),
    __range: values.range,
    __range_s: String(seconds),
    __range_ms: String(seconds * 1000),
  };
  // Longest names first, so that $__range_s is not read as $__range followed by "_s".
  const names = Object.keys(replacements).sort((a, b) => b.length - a.length);
  let out = expr;
  for (const name of names) {
    out = out.replaceAll(`\${${name}}`, replacements[name]!);
    out = out.replace(new RegExp(`\\$${name}(?![A-Za-z0-9_])`, 'g'), replacements[name]!);
  }
  const leftover = /\$\{?[A-Za-z_][A-Za-z0-9_]*/.exec(out);
  if (leftover) throw new Error(`unresolved Grafana variable ${leftover[0]} in: ${expr}`);
  return out;
}

function durationSeconds(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!match) throw new Error(`not a duration: ${text}`);
  const factor = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * factor;
}

export interface DashboardPromQL {
  dashboardUid: string;
  panelTitle: string;
  refId: string;
  /** The expression as written in the dashboard. */
  expr: string;
  /** The expression with Grafana's variables replaced: runnable against Prometheus as is. */
  query: string;
  exemplar: boolean;
  range: boolean;
}

/** Whether a target queries a Prometheus data source (its own, or its panel's). */
function isPrometheusTarget(target: DashboardTarget, panel: DashboardPanel, prometheusUids: ReadonlySet<string>): boolean {
  const ref = target.datasource ?? panel.datasource;
  if (ref && typeof ref === 'object') return ref.type === 'prometheus' || (ref.uid !== undefined && prometheusUids.has(ref.uid));
  return typeof target.expr === 'string';
}

/**
 * Every PromQL expression of every dashboard in grafana/dashboards, each also in runnable form
 * (Grafana variables replaced by `values`).
 */
export function listDashboardPromQL(values: GrafanaVariableValues = DEFAULT_VARIABLE_VALUES, dir: string = dashboardsDir): DashboardPromQL[] {
  const prometheusUids = new Set(
    loadProvisionedDatasources()
      .filter((ds) => ds.type === 'prometheus')
      .map((ds) => ds.uid),
  );
  const out: DashboardPromQL[] = [];
  for (const { dashboard } of loadDashboards(dir)) {
    for (const panel of allPanels(dashboard)) {
      for (const target of panel.targets ?? []) {
        if (!isPrometheusTarget(target, panel, prometheusUids) || typeof target.expr !== 'string' || target.expr.trim() === '') continue;
        out.push({
          dashboardUid: dashboard.uid,
          panelTitle: panel.title ?? '',
          refId: target.refId ?? '',
          expr: target.expr,
          query: substituteGrafanaVariables(target.expr, values),
          exemplar: target.exemplar === true,
          range: target.range === true,
        });
      }
    }
  }
  return out;
}

// PromQL words that look like identifiers but are not metric names.
const PROMQL_KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'atan2',
  'inf',
  'nan',
  'start',
  'end',
]);

/**
 * The metric names a PromQL expression selects. A small lexer, enough for dashboard queries:
 * strings, label matchers, grouping lists and range durations are dropped, then every remaining
 * identifier that is not a function call or a keyword is a metric name.
 */
export function metricNamesIn(expr: string): string[] {
  let text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals
    .replace(/\{[^{}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery durations
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)/g, ' '); // label lists
  // {__name__="x"} selectors name their metric in a label: keep them visible.
  const names = new Set<string>();
  for (const match of expr.matchAll(/__name__\s*=\s*"([^"]+)"/g)) names.add(match[1]!);
  text = text.replace(/(?<![A-Za-z0-9_:])\d[\w.]*/g, ' '); // numbers and durations (offset 5m)
  for (const match of text.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = match[0];
    const after = text.slice(match.index + word.length);
    if (/^\s*\(/.test(after)) continue; // function or aggregation
    if (PROMQL_KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names].sort();
}

/** A dashboard query ready to send to Prometheus (Grafana variables replaced). */
export interface RunnablePromQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

/** Every PromQL query of the dashboards in runnable form: the shape the live-stack tests use. */
export function dashboardPromQueries(values: GrafanaVariableValues = DEFAULT_VARIABLE_VALUES): RunnablePromQuery[] {
  return listDashboardPromQL(values).map((q) => ({ dashboard: q.dashboardUid, panel: q.panelTitle, refId: q.refId, expr: q.query }));
}

/** The exemplar label names Grafana's Prometheus data sources turn into trace links. */
export function provisionedExemplarLabels(): string[] {
  const labels = new Set<string>();
  for (const ds of loadProvisionedDatasources()) {
    if (ds.type !== 'prometheus') continue;
    const destinations = (ds.jsonData?.exemplarTraceIdDestinations ?? []) as { name?: string }[];
    for (const destination of destinations) if (destination.name) labels.add(destination.name);
  }
  return [...labels].sort();
}

/** A TraceQL query of a dashboard panel (Tempo data source, query type traceql). */
export interface DashboardTraceQL {
  dashboard: string;
  panel: string;
  refId: string;
  query: string;
}

/** Every TraceQL query of the dashboards: what the live-stack tests run against Tempo's search. */
export function dashboardTraceQLQueries(dir: string = dashboardsDir): DashboardTraceQL[] {
  const out: DashboardTraceQL[] = [];
  for (const { dashboard } of loadDashboards(dir)) {
    for (const panel of allPanels(dashboard)) {
      for (const target of panel.targets ?? []) {
        if (target.queryType !== 'traceql' || typeof target.query !== 'string' || target.query.trim() === '') continue;
        out.push({ dashboard: dashboard.uid, panel: panel.title ?? '', refId: target.refId ?? '', query: target.query });
      }
    }
  }
  return out;
}
