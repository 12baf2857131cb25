// Static cross-checks of Grafana's provisioning and dashboards against the data sources, metrics
// and exemplar labels the stack really has, and against the folders docker compose mounts them
// into. Grafana cannot run on the build machines: these checks, the @grafana/schema type check
// (test/grafana-schema.test.ts) and the live queries of the e2e test are what prove it by reading.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import {
  ALL_EMITTED_METRICS,
  allPanels,
  dashboardPromQueries,
  listDashboardPromQL,
  loadDashboards,
  loadProvisionedDatasources,
  metricNamesIn,
  provisionedExemplarLabels,
  provisioningDir,
  readYaml,
  substituteGrafanaVariables,
  type DashboardPanel,
  type DatasourceRef,
} from './support/dashboards.ts';
import { repoRoot } from '../native/tools.ts';

const at = (...parts: string[]) => join(repoRoot, ...parts);

/** The Grafana service of docker-compose.yml (mounts and environment are all these checks read). */
const grafanaService = readYaml<{
  services: Record<string, { volumes?: (string | { source?: string; target: string })[]; environment?: Record<string, unknown> }>;
}>(at('docker-compose.yml')).services.grafana;

// ---------------------------------------------------------------------------------------------------
// Grafana: data sources
// ---------------------------------------------------------------------------------------------------

const datasources = loadProvisionedDatasources();
const datasourceByUid = new Map(datasources.map((ds) => [ds.uid, ds]));
const dashboards = loadDashboards();

test('Grafana provisions Prometheus (uid prometheus) and Tempo (uid tempo) at their compose URLs', () => {
  assert.equal(datasources.length, datasourceByUid.size, 'data source uids must be unique');
  const prometheus = datasourceByUid.get('prometheus');
  const tempo = datasourceByUid.get('tempo');
  assert.ok(prometheus, 'a data source with uid prometheus');
  assert.ok(tempo, 'a data source with uid tempo');
  assert.equal(prometheus.type, 'prometheus');
  assert.equal(prometheus.url, 'http://prometheus:9090');
  assert.equal(tempo.type, 'tempo');
  assert.equal(tempo.url, 'http://tempo:3200');

  const tempoJson = tempo.jsonData ?? {};
  assert.deepEqual(tempoJson.nodeGraph, { enabled: true }, 'Tempo: node graph enabled');
  assert.equal((tempoJson.serviceMap as { datasourceUid?: string } | undefined)?.datasourceUid, 'prometheus', 'Tempo: service map from Prometheus');
  assert.ok(tempoJson.tracesToMetrics, 'Tempo: traces to metrics configured');
  assert.ok(tempoJson.search, 'Tempo: search settings');
  assert.ok(tempoJson.traceQuery, 'Tempo: trace query settings');
});

test('every data source link inside the provisioning points at a provisioned uid', () => {
  const links: { from: string; uid: unknown }[] = [];
  for (const ds of datasources) {
    const json = ds.jsonData ?? {};
    for (const destination of (json.exemplarTraceIdDestinations as { datasourceUid?: string }[] | undefined) ?? []) {
      links.push({ from: `${ds.uid}.exemplarTraceIdDestinations`, uid: destination.datasourceUid });
    }
    for (const key of ['serviceMap', 'tracesToMetrics', 'tracesToLogsV2', 'tracesToProfiles', 'lokiSearch']) {
      const block = json[key] as { datasourceUid?: string } | undefined;
      if (block?.datasourceUid !== undefined) links.push({ from: `${ds.uid}.${key}`, uid: block.datasourceUid });
    }
  }
  assert.ok(links.length >= 3, 'exemplar, service map and traces-to-metrics links are expected');
  for (const link of links) {
    assert.ok(typeof link.uid === 'string' && datasourceByUid.has(link.uid), `${link.from} points at ${String(link.uid)}, which is not provisioned`);
  }
});

test('Grafana provisioning escapes literal dollar signs (Grafana expands environment variables there)', () => {
  const file = join(provisioningDir, 'datasources', 'datasources.yaml');
  for (const [index, line] of readFileSync(file, 'utf8').split('\n').entries()) {
    const code = line.replace(/^\s*#.*$/, '');
    const single = code.replace(/\$\$/g, '');
    assert.ok(!single.includes('$'), `${file}:${index + 1}: a single $ is read as a variable by Grafana: ${line.trim()}`);
  }
});

// ---------------------------------------------------------------------------------------------------
// Exemplars: the label names must be exactly those the stack writes
// ---------------------------------------------------------------------------------------------------

/** The exemplar label Tempo's metrics-generator writes: trace_id_label_name, or its default. */
function tempoExemplarLabel(): string {
  const tempo = readYaml<{ overrides?: { defaults?: { metrics_generator?: { trace_id_label_name?: string } } } }>(at('tempo', 'tempo.yaml'));
  return tempo.overrides?.defaults?.metrics_generator?.trace_id_label_name ?? 'traceID';
}

test('exemplarTraceIdDestinations name exactly the exemplar labels the stack emits, both to Tempo', () => {
  // trace_id: what the Collector's prometheus_remote_write exporter calls the exemplar's trace id
  // (fixed in the exporter, not configurable). traceID: Tempo's metrics-generator.
  const emitted = ['trace_id', tempoExemplarLabel()].sort();
  const destinations = (datasourceByUid.get('prometheus')?.jsonData?.exemplarTraceIdDestinations ?? []) as {
    name?: string;
    datasourceUid?: string;
    url?: string;
  }[];
  assert.deepEqual(destinations.map((d) => d.name).sort(), emitted);
  assert.deepEqual(provisionedExemplarLabels(), emitted);
  for (const destination of destinations) {
    assert.equal(destination.datasourceUid, 'tempo', `exemplar label ${destination.name} must open the trace in Tempo`);
  }
});

// ---------------------------------------------------------------------------------------------------
// Grafana: dashboards
// ---------------------------------------------------------------------------------------------------

function refOf(ref: DatasourceRef | string | null | undefined): DatasourceRef | undefined {
  if (ref === null || ref === undefined) return undefined;
  if (typeof ref === 'string') return { uid: ref };
  return ref;
}

test('the spike-to-trace dashboard exists once, with unique panel ids', () => {
  assert.ok(dashboards.length >= 1, 'at least one dashboard in grafana/dashboards');
  const uids = dashboards.map((d) => d.dashboard.uid);
  assert.equal(new Set(uids).size, uids.length, `dashboard uids must be unique: ${uids.join(', ')}`);
  assert.ok(uids.includes('spike-to-trace'));
  for (const { file, dashboard } of dashboards) {
    const ids = allPanels(dashboard).map((p) => p.id);
    assert.ok(
      ids.every((id) => typeof id === 'number'),
      `${file}: every panel has a numeric id`,
    );
    assert.equal(new Set(ids).size, ids.length, `${file}: panel ids must be unique`);
  }
});

test('every data source a dashboard uses is provisioned, with the same type', () => {
  const builtIn = new Set(['-- Grafana --', '-- Mixed --', '-- Dashboard --', 'grafana']);
  let checked = 0;
  for (const { file, dashboard } of dashboards) {
    const refs: { where: string; ref: DatasourceRef | undefined }[] = [];
    for (const panel of allPanels(dashboard)) {
      refs.push({ where: `panel "${panel.title}"`, ref: refOf(panel.datasource) });
      for (const target of panel.targets ?? []) refs.push({ where: `panel "${panel.title}" query ${target.refId}`, ref: refOf(target.datasource) });
      if ((panel.targets?.length ?? 0) > 0 && panel.type !== 'row') {
        assert.ok(refOf(panel.datasource) ?? panel.targets?.every((t) => refOf(t.datasource)), `${file}: panel "${panel.title}" names its data source`);
      }
    }
    for (const annotation of (dashboard.annotations as { list?: { datasource?: DatasourceRef }[] } | undefined)?.list ?? []) {
      refs.push({ where: 'annotation', ref: refOf(annotation.datasource) });
    }
    for (const { where, ref } of refs) {
      if (!ref?.uid || builtIn.has(ref.uid) || ref.type === 'grafana' || ref.type === 'datasource') continue;
      assert.ok(!ref.uid.startsWith('$'), `${file}: ${where} uses a data source variable (${ref.uid}); provision fixed uids instead`);
      const ds = datasourceByUid.get(ref.uid);
      assert.ok(ds, `${file}: ${where} uses data source uid ${ref.uid}, which is not provisioned`);
      if (ref.type) assert.equal(ref.type, ds.type, `${file}: ${where}: uid ${ref.uid} is a ${ds.type} data source`);
      checked++;
    }
  }
  assert.ok(checked > 0);
});

test('every metric in every dashboard PromQL expression is one the stack emits', () => {
  const queries = listDashboardPromQL();
  assert.ok(queries.length >= 5, 'the dashboards hold PromQL queries');
  for (const q of queries) {
    const names = metricNamesIn(q.expr);
    assert.ok(names.length > 0, `${q.panelTitle} ${q.refId}: no metric found in ${q.expr}`);
    for (const name of names) {
      assert.ok(ALL_EMITTED_METRICS.has(name), `${q.panelTitle} ${q.refId}: ${name} is not emitted by the stack (${q.expr})`);
    }
    assert.ok(!q.query.includes('$'), `${q.panelTitle} ${q.refId}: unresolved variable in ${q.query}`);
  }
});

test('listDashboardPromQL gives runnable queries: Grafana variables replaced by concrete values', () => {
  const queries = listDashboardPromQL({ rateInterval: '2m', interval: '30s', range: '1h' });
  assert.ok(
    queries.some((q) => q.expr.includes('$__rate_interval')),
    'the dashboards use $__rate_interval',
  );
  for (const q of queries) assert.ok(!q.query.includes('$__'), q.query);
  assert.deepEqual(
    dashboardPromQueries().map((q) => q.expr),
    listDashboardPromQL().map((q) => q.query),
  );
  assert.ok(queries.some((q) => q.query.includes('[2m]')));
  assert.equal(substituteGrafanaVariables('rate(x[$__rate_interval]) / $__range_s + ${__interval}'), 'rate(x[1m]) / 900 + 15s');
  assert.throws(() => substituteGrafanaVariables('rate(x{job="$job"}[1m])'), /unresolved Grafana variable \$job/);
});

test('metricNamesIn finds metric names and nothing else', () => {
  assert.deepEqual(
    metricNamesIn('histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket{http_route!="/healthz"}[$__rate_interval])))'),
    ['http_request_duration_seconds_bucket'],
  );
  assert.deepEqual(metricNamesIn('(sum by (job) (rate(a_total{code=~"5.."}[1m])) or 0 * sum(rate(b_total[5m] offset 5m)) by (job)) / on (job) group_left c'), [
    'a_total',
    'b_total',
    'c',
  ]);
  assert.deepEqual(metricNamesIn('{__name__="up", job="x"}'), ['up']);
});

function findPanel(predicate: (panel: DashboardPanel) => boolean): DashboardPanel | undefined {
  const main = dashboards.find((d) => d.dashboard.uid === 'spike-to-trace');
  assert.ok(main);
  return allPanels(main.dashboard).find(predicate);
}

test('the p99 panel queries the services histogram per job, as a range query with exemplars', () => {
  const p99 =
    /histogram_quantile\(\s*0\.99\s*,\s*sum\s+by\s*\(\s*le\s*,\s*job\s*\)\s*\(\s*rate\(\s*http_request_duration_seconds_bucket\b[^[]*\[\$__rate_interval\]\s*\)\s*\)\s*\)/;
  const panel = findPanel((p) => (p.targets ?? []).some((t) => typeof t.expr === 'string' && p99.test(t.expr)));
  assert.ok(panel, 'a panel with the p99 of http_request_duration_seconds per job');
  assert.equal(panel.type, 'timeseries');
  const target = panel.targets!.find((t) => typeof t.expr === 'string' && p99.test(t.expr))!;
  assert.equal(target.exemplar, true, 'exemplar: true, so that the spike links to its traces');
  assert.equal(target.range, true, 'range: true (exemplars come with range queries)');
  assert.notEqual(target.instant, true);
  for (const quantile of ['0.95', '0.5']) {
    assert.ok(
      panel.targets!.some(
        (t) => typeof t.expr === 'string' && t.expr.includes(`histogram_quantile(${quantile},`) && t.expr.includes('http_request_duration_seconds_bucket'),
      ),
      `the p99 panel also shows the ${quantile} quantile`,
    );
  }
});

test('the dashboard tells the whole story: rate, errors, service graph, slow traces, span-metrics RED', () => {
  const exprs = (p: DashboardPanel) => (p.targets ?? []).map((t) => t.expr ?? '').join('\n');
  assert.ok(
    findPanel((p) => /rate\(http_request_duration_seconds_count/.test(exprs(p)) && !/5\.\./.test(exprs(p))),
    'request rate',
  );
  assert.ok(
    findPanel((p) => /http_response_status_code=~"5\.\."/.test(exprs(p))),
    'error rate (5xx share)',
  );
  const graph = findPanel((p) => p.type === 'nodeGraph');
  assert.ok(graph, 'a node graph panel');
  assert.ok(
    graph.targets?.some((t) => t.queryType === 'serviceMap'),
    'the node graph shows the Tempo service map',
  );
  assert.equal(refOf(graph.datasource)?.uid, 'tempo');
  const slow = findPanel((p) => (p.targets ?? []).some((t) => t.queryType === 'traceql' && /\{\s*duration\s*>\s*1s\s*\}/.test(String(t.query))));
  assert.ok(slow, 'a table of slow traces from TraceQL { duration > 1s }');
  assert.equal(slow.type, 'table');
  for (const metric of ['traces_spanmetrics_calls_total', 'traces_spanmetrics_latency_bucket']) {
    assert.ok(
      findPanel((p) => exprs(p).includes(metric)),
      `a span-metrics panel on ${metric}`,
    );
  }
});

test('the dashboard provider reads the folder compose mounts grafana/dashboards into', () => {
  const provider = readYaml<{ providers: { type: string; options: { path: string } }[] }>(join(provisioningDir, 'dashboards', 'dashboards.yaml'));
  const paths = provider.providers.filter((p) => p.type === 'file').map((p) => p.options.path);
  assert.ok(paths.length > 0);
  const grafana = grafanaService;
  assert.ok(grafana);
  const mounts = (grafana.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
  for (const path of paths) {
    assert.ok(
      mounts.some((m) => /^\.\/grafana\/dashboards:/.test(m) && m.split(':')[1] === path),
      `compose mounts ./grafana/dashboards at ${path}`,
    );
  }
  assert.ok(
    mounts.some((m) => /^\.\/grafana\/provisioning:\/etc\/grafana\/provisioning(:ro)?$/.test(m)),
    'compose mounts the provisioning folder',
  );
  const home = grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
  if (typeof home === 'string') {
    const [dir, file] = [home.slice(0, home.lastIndexOf('/')), home.slice(home.lastIndexOf('/') + 1)];
    assert.ok(paths.includes(dir), `home dashboard ${home} is in a provisioned folder`);
    assert.ok(existsSync(at('grafana', 'dashboards', file)), `home dashboard file ${file} exists`);
  }
});
