// Static cross-checks of the docker compose stack: Grafana provisioning and dashboards against the
// data sources and metrics the stack really has, docker-compose.yml against .env and its own
// healthchecks, the Dockerfile targets, and tempo/tempo.yaml against what Tempo 3 accepts.
// Nothing here needs Docker; test/smoke/compose-smoke.ts checks the running stack.
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
import { pinnedVersions, repoRoot } from '../native/tools.ts';

const at = (...parts: string[]) => join(repoRoot, ...parts);

// ---------------------------------------------------------------------------------------------------
// Shapes of the files read below (only what the checks use)
// ---------------------------------------------------------------------------------------------------

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; target?: string; args?: Record<string, string> };
  command?: string[] | string;
  restart?: string;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition: string }> | string[];
  ports?: (string | { host_ip?: string; published?: string | number; target?: number })[];
  volumes?: (string | { type: string; source?: string; target: string })[];
  environment?: Record<string, string | number | boolean | null>;
  deploy?: { resources?: { limits?: { memory?: string } } };
  mem_limit?: string;
}

interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const composeFile = at('docker-compose.yml');
const composeText = readFileSync(composeFile, 'utf8');
const compose = readYaml<Compose>(composeFile);
const services = Object.entries(compose.services);

const dotEnv = new Map(Object.entries(pinnedVersions()));

const PINNED_VERSIONS = ['OTELCOL_VERSION', 'TEMPO_VERSION', 'PROMETHEUS_VERSION', 'GRAFANA_VERSION', 'K6_VERSION', 'NODE_VERSION'];

/** Services that run once and exit (an init step another service waits for). */
function oneShotServices(): Set<string> {
  const out = new Set<string>();
  for (const [, service] of services) {
    for (const [dependency, spec] of Object.entries(dependsOn(service))) {
      if (spec.condition === 'service_completed_successfully') out.add(dependency);
    }
  }
  return out;
}

function dependsOn(service: ComposeService): Record<string, { condition: string }> {
  const raw = service.depends_on;
  if (!raw) return {};
  if (Array.isArray(raw)) return Object.fromEntries(raw.map((name) => [name, { condition: 'service_started' }]));
  return raw;
}

function hasHealthcheck(service: ComposeService): boolean {
  return service.healthcheck !== undefined && service.healthcheck.disable !== true && service.healthcheck.test !== undefined;
}

function healthcheckText(service: ComposeService): string {
  const testCmd = service.healthcheck?.test;
  return Array.isArray(testCmd) ? testCmd.join(' ') : (testCmd ?? '');
}

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
  assert.deepEqual(tempoJson['nodeGraph'], { enabled: true }, 'Tempo: node graph enabled');
  assert.equal((tempoJson['serviceMap'] as { datasourceUid?: string } | undefined)?.datasourceUid, 'prometheus', 'Tempo: service map from Prometheus');
  assert.ok(tempoJson['tracesToMetrics'], 'Tempo: traces to metrics configured');
  assert.ok(tempoJson['search'], 'Tempo: search settings');
  assert.ok(tempoJson['traceQuery'], 'Tempo: trace query settings');
});

test('every data source link inside the provisioning points at a provisioned uid', () => {
  const links: { from: string; uid: unknown }[] = [];
  for (const ds of datasources) {
    const json = ds.jsonData ?? {};
    for (const destination of (json['exemplarTraceIdDestinations'] as { datasourceUid?: string }[] | undefined) ?? []) {
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
  const destinations = (datasourceByUid.get('prometheus')?.jsonData?.['exemplarTraceIdDestinations'] ?? []) as {
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
    assert.ok(ids.every((id) => typeof id === 'number'), `${file}: every panel has a numeric id`);
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
    for (const annotation of ((dashboard['annotations'] as { list?: { datasource?: DatasourceRef }[] } | undefined)?.list ?? [])) {
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
  assert.ok(queries.some((q) => q.expr.includes('$__rate_interval')), 'the dashboards use $__rate_interval');
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
  assert.deepEqual(
    metricNamesIn('(sum by (job) (rate(a_total{code=~"5.."}[1m])) or 0 * sum(rate(b_total[5m] offset 5m)) by (job)) / on (job) group_left c'),
    ['a_total', 'b_total', 'c'],
  );
  assert.deepEqual(metricNamesIn('{__name__="up", job="x"}'), ['up']);
});

function findPanel(predicate: (panel: DashboardPanel) => boolean): DashboardPanel | undefined {
  const main = dashboards.find((d) => d.dashboard.uid === 'spike-to-trace');
  assert.ok(main);
  return allPanels(main.dashboard).find(predicate);
}

test('the p99 panel queries the services histogram per job, as a range query with exemplars', () => {
  const p99 = /histogram_quantile\(\s*0\.99\s*,\s*sum\s+by\s*\(\s*le\s*,\s*job\s*\)\s*\(\s*rate\(\s*http_request_duration_seconds_bucket\b[^[]*\[\$__rate_interval\]\s*\)\s*\)\s*\)/;
  const panel = findPanel((p) => (p.targets ?? []).some((t) => typeof t.expr === 'string' && p99.test(t.expr)));
  assert.ok(panel, 'a panel with the p99 of http_request_duration_seconds per job');
  assert.equal(panel.type, 'timeseries');
  const target = panel.targets!.find((t) => typeof t.expr === 'string' && p99.test(t.expr))!;
  assert.equal(target.exemplar, true, 'exemplar: true, so that the spike links to its traces');
  assert.equal(target.range, true, 'range: true (exemplars come with range queries)');
  assert.notEqual(target.instant, true);
  for (const quantile of ['0.95', '0.5']) {
    assert.ok(
      panel.targets!.some((t) => typeof t.expr === 'string' && t.expr.includes(`histogram_quantile(${quantile},`) && t.expr.includes('http_request_duration_seconds_bucket')),
      `the p99 panel also shows the ${quantile} quantile`,
    );
  }
});

test('the dashboard tells the whole story: rate, errors, service graph, slow traces, span-metrics RED', () => {
  const exprs = (p: DashboardPanel) => (p.targets ?? []).map((t) => t.expr ?? '').join('\n');
  assert.ok(findPanel((p) => /rate\(http_request_duration_seconds_count/.test(exprs(p)) && !/5\.\./.test(exprs(p))), 'request rate');
  assert.ok(findPanel((p) => /http_response_status_code=~"5\.\."/.test(exprs(p))), 'error rate (5xx share)');
  const graph = findPanel((p) => p.type === 'nodeGraph');
  assert.ok(graph, 'a node graph panel');
  assert.ok(graph.targets?.some((t) => t.queryType === 'serviceMap'), 'the node graph shows the Tempo service map');
  assert.equal(refOf(graph.datasource)?.uid, 'tempo');
  const slow = findPanel((p) => (p.targets ?? []).some((t) => t.queryType === 'traceql' && /\{\s*duration\s*>\s*1s\s*\}/.test(String(t.query))));
  assert.ok(slow, 'a table of slow traces from TraceQL { duration > 1s }');
  assert.equal(slow.type, 'table');
  for (const metric of ['traces_spanmetrics_calls_total', 'traces_spanmetrics_latency_bucket']) {
    assert.ok(findPanel((p) => exprs(p).includes(metric)), `a span-metrics panel on ${metric}`);
  }
});

test('the dashboard provider reads the folder compose mounts grafana/dashboards into', () => {
  const provider = readYaml<{ providers: { type: string; options: { path: string } }[] }>(join(provisioningDir, 'dashboards', 'dashboards.yaml'));
  const paths = provider.providers.filter((p) => p.type === 'file').map((p) => p.options.path);
  assert.ok(paths.length > 0);
  const grafana = compose.services['grafana'];
  assert.ok(grafana);
  const mounts = (grafana.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
  for (const path of paths) {
    assert.ok(mounts.some((m) => /^\.\/grafana\/dashboards:/.test(m) && m.split(':')[1] === path), `compose mounts ./grafana/dashboards at ${path}`);
  }
  assert.ok(mounts.some((m) => /^\.\/grafana\/provisioning:\/etc\/grafana\/provisioning(:ro)?$/.test(m)), 'compose mounts the provisioning folder');
  const home = grafana.environment?.['GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH'];
  if (typeof home === 'string') {
    const [dir, file] = [home.slice(0, home.lastIndexOf('/')), home.slice(home.lastIndexOf('/') + 1)];
    assert.ok(paths.includes(dir), `home dashboard ${home} is in a provisioned folder`);
    assert.ok(existsSync(at('grafana', 'dashboards', file)), `home dashboard file ${file} exists`);
  }
});

// ---------------------------------------------------------------------------------------------------
// docker compose
// ---------------------------------------------------------------------------------------------------

test('.env pins every version the stack uses', () => {
  for (const key of PINNED_VERSIONS) {
    const value = dotEnv.get(key);
    assert.ok(value, `.env sets ${key}`);
    assert.match(value, /^\d+\.\d+\.\d+$/, `${key}=${value} is an exact version`);
  }
});

test('every image is pinned by a .env variable, never latest', () => {
  for (const [name, service] of services) {
    if (service.image === undefined) {
      assert.ok(service.build, `${name}: builds its image when it names none`);
      continue;
    }
    assert.ok(!/:latest$/.test(service.image) && service.image.includes(':'), `${name}: image ${service.image} has an explicit tag`);
    const tag = service.image.slice(service.image.lastIndexOf(':') + 1);
    const variables = [...tag.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!);
    assert.equal(variables.length, 1, `${name}: the tag of ${service.image} comes from one .env variable`);
    assert.ok(PINNED_VERSIONS.includes(variables[0]!) && dotEnv.has(variables[0]!), `${name}: ${variables[0]} is pinned in .env`);
  }
  const expected: Record<string, string> = {
    'otel-collector': 'otel/opentelemetry-collector-contrib:${OTELCOL_VERSION}',
    tempo: 'grafana/tempo:${TEMPO_VERSION}',
    prometheus: 'prom/prometheus:v${PROMETHEUS_VERSION}',
    grafana: 'grafana/grafana:${GRAFANA_VERSION}',
    k6: 'grafana/k6:${K6_VERSION}',
  };
  for (const [name, image] of Object.entries(expected)) assert.equal(compose.services[name]?.image, image, `${name} image`);
});

test('every variable compose interpolates is defined in .env or has a default; literal $ is escaped', () => {
  for (const [index, line] of composeText.split('\n').entries()) {
    const code = line.replace(/(^|\s)#.*$/, '');
    for (const match of code.matchAll(/\$\{([^}]*)\}/g)) {
      const [name, fallback] = match[1]!.split(/:?-/, 2);
      assert.ok(dotEnv.has(name!) || fallback !== undefined, `docker-compose.yml:${index + 1}: \${${match[1]}} is neither in .env nor defaulted`);
    }
    const stripped = code.replace(/\$\$/g, '').replace(/\$\{[^}]*\}/g, '');
    assert.ok(!stripped.includes('$'), `docker-compose.yml:${index + 1}: a lone $ is read as a variable by compose; write $$: ${line.trim()}`);
  }
});

test('the three services are built from the one Dockerfile, each from its own target', () => {
  const dockerfile = readFileSync(at('Dockerfile'), 'utf8');
  const stages = new Map<string, string>();
  const parts = dockerfile.split(/^FROM\s+/m).slice(1);
  for (const part of parts) {
    const match = /^\S+\s+AS\s+(\S+)/i.exec(part);
    if (match) stages.set(match[1]!, part);
  }
  const argDefault = /^ARG\s+NODE_VERSION=(\S+)/m.exec(dockerfile)?.[1];
  assert.equal(argDefault, dotEnv.get('NODE_VERSION'), 'Dockerfile ARG NODE_VERSION defaults to the .env pin');
  assert.match(dockerfile, /^FROM\s+node:\$\{NODE_VERSION\}-bookworm-slim\b/m);
  assert.match(dockerfile, /npm ci --omit=dev/);
  // Manifests first, sources later: the npm ci layer survives source edits.
  assert.ok(dockerfile.indexOf('COPY package.json package-lock.json') < dockerfile.indexOf('RUN npm ci'));
  assert.ok(dockerfile.indexOf('RUN npm ci') < dockerfile.indexOf('COPY services/shared ./services/shared'));
  assert.match(dockerfile, /^USER node$/m, 'the services run as the non-root node user');
  const ports: Record<string, string> = { order: '8080', inventory: '8081', pricing: '8082' };
  for (const [name, port] of Object.entries(ports)) {
    const stage = stages.get(name);
    assert.ok(stage, `Dockerfile has a ${name} target`);
    assert.match(stage, new RegExp(`^EXPOSE ${port}$`, 'm'), `${name} exposes ${port}`);
    assert.match(stage, new RegExp(`^CMD \\["node", "--import", "@spike-to-trace/shared/instrument.ts", "services/${name}/src/main.ts"\\]$`, 'm'));
    const service = compose.services[name];
    assert.ok(service?.build, `compose builds ${name}`);
    assert.equal(service.build.target, name);
    assert.equal(service.build.context ?? '.', '.');
    assert.equal(service.build.args?.['NODE_VERSION'], '${NODE_VERSION}');
    assert.equal(String(service.environment?.['PORT']), port);
    assert.equal(service.environment?.['NODE_ENV'], 'production');
  }
  assert.match(dockerfile, /NODE_ENV=production/);
  assert.ok(existsSync(at('.dockerignore')), '.dockerignore keeps the build context small');
  assert.match(readFileSync(at('.dockerignore'), 'utf8'), /^\*\*\/node_modules$/m);
});

test('every published port is bound to 127.0.0.1', () => {
  let count = 0;
  for (const [name, service] of services) {
    for (const port of service.ports ?? []) {
      count++;
      if (typeof port === 'string') assert.match(port, /^127\.0\.0\.1:\d+:\d+(\/(tcp|udp))?$/, `${name}: ${port}`);
      else assert.equal(port.host_ip, '127.0.0.1', `${name}: ${JSON.stringify(port)}`);
    }
  }
  assert.ok(count >= 3);
  for (const [name, port] of [['grafana', '3000'], ['prometheus', '9090'], ['tempo', '3200'], ['order', '8080']] as const) {
    assert.ok(compose.services[name]?.ports?.includes(`127.0.0.1:${port}:${port}`), `${name} is reachable on 127.0.0.1:${port}`);
  }
});

test('every long-running service has a healthcheck (or a readiness sidecar), a restart policy and a memory limit', () => {
  const oneShot = oneShotServices();
  for (const [name, service] of services) {
    const memory = service.deploy?.resources?.limits?.memory ?? service.mem_limit;
    assert.ok(memory, `${name}: memory limit`);
    if (oneShot.has(name)) {
      assert.equal(service.restart, 'no', `${name} runs once: restart "no"`);
      continue;
    }
    assert.ok(service.restart && service.restart !== 'no', `${name}: restart policy`);
    if (hasHealthcheck(service)) continue;
    // A distroless image that cannot probe itself is watched by <name>-ready.
    const sidecar = compose.services[`${name}-ready`];
    assert.ok(sidecar && hasHealthcheck(sidecar), `${name}: no healthcheck and no ${name}-ready sidecar with one`);
    assert.match(healthcheckText(sidecar), new RegExp(`//${name}:\\d+/`), `${name}-ready probes ${name} over the network`);
  }
});

test('the Collector readiness sidecar probes the health_check endpoint the Collector really binds', () => {
  const sidecar = compose.services['otel-collector-ready'];
  assert.ok(sidecar);
  const port = /\/\/otel-collector:(\d+)\//.exec(healthcheckText(sidecar))?.[1];
  assert.equal(port, '13133');
  const configFile = at('otel-collector', 'config.yaml');
  if (!existsSync(configFile)) return;
  const config = readYaml<{ extensions?: { health_check?: { endpoint?: string } }; service?: { extensions?: string[] } }>(configFile);
  assert.ok(config.service?.extensions?.includes('health_check'), 'the Collector runs the health_check extension');
  // ${env:NAME:-default}: compose sets no override, so the default is what binds.
  const endpoint = (config.extensions?.health_check?.endpoint ?? 'localhost:13133').replace(/\$\{env:[A-Z0-9_]+:-([^}]*)\}/g, '$1');
  assert.equal(endpoint, `0.0.0.0:${port}`, 'health_check must listen on 0.0.0.0 to be reachable from the sidecar');
});

test('depends_on conditions refer to services that can satisfy them', () => {
  const oneShot = oneShotServices();
  let healthy = 0;
  for (const [name, service] of services) {
    for (const [dependency, spec] of Object.entries(dependsOn(service))) {
      const target = compose.services[dependency];
      assert.ok(target, `${name} depends on ${dependency}, which does not exist`);
      assert.ok(['service_started', 'service_healthy', 'service_completed_successfully'].includes(spec.condition), `${name} -> ${dependency}: ${spec.condition}`);
      if (spec.condition === 'service_healthy') {
        healthy++;
        assert.ok(hasHealthcheck(target), `${name} waits for ${dependency} to be healthy, but ${dependency} has no healthcheck`);
      }
      if (spec.condition === 'service_completed_successfully') assert.ok(oneShot.has(dependency));
    }
  }
  assert.ok(healthy >= 5, 'startup order is driven by health, not by mere start');
  // The order that matters for the demo.
  const waitsFor = (a: string, b: string) => dependsOn(compose.services[a]!)[b]?.condition;
  assert.equal(waitsFor('order', 'inventory'), 'service_healthy');
  assert.equal(waitsFor('order', 'pricing'), 'service_healthy');
  assert.equal(waitsFor('order', 'otel-collector-ready'), 'service_healthy');
  assert.equal(waitsFor('k6', 'order'), 'service_healthy');
  assert.equal(waitsFor('grafana', 'prometheus'), 'service_healthy');
  assert.equal(waitsFor('tempo', 'tempo-init'), 'service_completed_successfully');
});

test('data lives in named volumes; Tempo data is chowned for uid 10001 before Tempo starts', () => {
  const declared = new Set(Object.keys(compose.volumes ?? {}));
  for (const [name, service] of services) {
    for (const volume of service.volumes ?? []) {
      const source = typeof volume === 'string' ? volume.split(':')[0]! : (volume.source ?? '');
      if (source.startsWith('.') || source.startsWith('/')) {
        assert.ok(source.startsWith('./'), `${name}: bind mounts stay inside the repository (${source})`);
        assert.ok(existsSync(at(source)) || source === './loadgen', `${name}: ${source} exists`);
        continue;
      }
      assert.ok(declared.has(source), `${name}: volume ${source} is declared at the top level`);
    }
  }
  const init = compose.services['tempo-init'];
  assert.ok(init);
  assert.deepEqual(init.command, ['chown', '-R', '10001:10001', '/var/tempo']);
  assert.ok(init.volumes?.includes('tempo-data:/var/tempo'));
  assert.ok(compose.services['tempo']?.volumes?.includes('tempo-data:/var/tempo'));
  assert.ok(compose.services['prometheus']?.volumes?.includes('./prometheus:/etc/prometheus:ro'), 'the whole prometheus folder is mounted');
});

test('Prometheus runs with exemplar storage and the remote write receiver', () => {
  const command = compose.services['prometheus']?.command;
  assert.ok(Array.isArray(command));
  for (const flag of ['--config.file=/etc/prometheus/prometheus.yml', '--enable-feature=exemplar-storage', '--web.enable-remote-write-receiver']) {
    assert.ok(command.includes(flag), `prometheus ${flag}`);
  }
});

test('k6 sends background traffic and remote writes its metrics to Prometheus', () => {
  const k6 = compose.services['k6'];
  assert.ok(k6);
  assert.deepEqual(k6.command, ['run', '-o', 'experimental-prometheus-rw', '/scripts/main.js']);
  assert.equal(k6.environment?.['SCENARIO'], 'background');
  assert.equal(k6.environment?.['K6_PROMETHEUS_RW_SERVER_URL'], 'http://prometheus:9090/api/v1/write');
  assert.ok(k6.volumes?.includes('./loadgen:/scripts:ro'));
});

// ---------------------------------------------------------------------------------------------------
// Tempo 3 configuration (it cannot run here: check what Tempo 3 would refuse or silently ignore)
// ---------------------------------------------------------------------------------------------------

const tempoFile = at('tempo', 'tempo.yaml');
const tempoText = readFileSync(tempoFile, 'utf8');
const tempoConfig = readYaml<Record<string, any>>(tempoFile);

test('tempo.yaml has none of the 2.x keys Tempo 3 refuses', () => {
  for (const key of ['ingester', 'ingester_client', 'compactor', 'metrics_generator_client', 'partition_ring_live_store', 'ingest']) {
    assert.ok(!(key in tempoConfig), `top-level ${key} is a 2.x (or microservices-only) block`);
  }
  assert.ok(!('traces_storage' in (tempoConfig['metrics_generator'] ?? {})), 'metrics_generator.traces_storage is gone in 3.x');
  assert.ok(!('local_blocks' in (tempoConfig['metrics_generator']?.['processor'] ?? {})), 'the local-blocks processor is gone in 3.x');
  assert.ok(!('query_live_store' in (tempoConfig['querier'] ?? {})), 'querier.query_live_store is gone in 3.x');
  const code = tempoText
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n');
  assert.doesNotMatch(code, /local[-_]blocks/);
});

test('tempo.yaml: OTLP receivers on 0.0.0.0, metrics-generator processors and exemplars on', () => {
  const protocols = tempoConfig['distributor']?.['receivers']?.['otlp']?.['protocols'] ?? {};
  assert.deepEqual(Object.keys(protocols).sort(), ['grpc', 'http']);
  assert.match(protocols.grpc.endpoint, /^\$\{TEMPO_OTLP_GRPC_ENDPOINT:-0\.0\.0\.0:4317\}$/);
  assert.match(protocols.http.endpoint, /^\$\{TEMPO_OTLP_HTTP_ENDPOINT:-0\.0\.0\.0:4318\}$/);
  // In 3.x the processors are enabled per tenant (overrides), not in the metrics_generator block.
  const processors: string[] = tempoConfig['overrides']?.['defaults']?.['metrics_generator']?.['processors'] ?? [];
  assert.deepEqual([...processors].sort(), ['service-graphs', 'span-metrics']);
  assert.ok(!('processors' in (tempoConfig['metrics_generator'] ?? {})));
  const remoteWrite = tempoConfig['metrics_generator']?.['storage']?.['remote_write'] ?? [];
  assert.equal(remoteWrite.length, 1);
  assert.equal(remoteWrite[0].url, '${PROMETHEUS_REMOTE_WRITE_URL:-http://prometheus:9090/api/v1/write}');
  assert.equal(remoteWrite[0].send_exemplars, true);
  assert.ok(tempoConfig['metrics_generator']?.['storage']?.['path'], 'the metrics-generator needs a WAL path');
  assert.equal(tempoConfig['storage']?.['trace']?.['backend'], 'local');
});

test('tempo.yaml: every environment reference has its compose default and is documented at the top', () => {
  const documented = new Map([
    ['TEMPO_HTTP_PORT', '3200'],
    ['TEMPO_GRPC_PORT', '9095'],
    ['TEMPO_OTLP_GRPC_ENDPOINT', '0.0.0.0:4317'],
    ['TEMPO_OTLP_HTTP_ENDPOINT', '0.0.0.0:4318'],
    ['TEMPO_DATA_DIR', '/var/tempo'],
    ['PROMETHEUS_REMOTE_WRITE_URL', 'http://prometheus:9090/api/v1/write'],
  ]);
  const header = tempoText.slice(0, tempoText.search(/^[a-z]/m));
  const used = new Set<string>();
  for (const [index, line] of tempoText.split('\n').entries()) {
    const isComment = /^\s*#/.test(line);
    for (const match of line.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}?/g)) {
      // Tempo expands the whole file, comments included: keep references out of comments.
      assert.ok(!isComment, `tempo.yaml:${index + 1}: a variable reference in a comment is expanded too`);
      const [, name, fallback] = match;
      assert.ok(documented.has(name!), `tempo.yaml:${index + 1}: ${name} is not one of the documented variables`);
      assert.equal(fallback, documented.get(name!), `tempo.yaml:${index + 1}: ${name} defaults to the compose value`);
      used.add(name!);
    }
  }
  for (const name of documented.keys()) {
    assert.ok(used.has(name), `${name} is used`);
    assert.match(header, new RegExp(`^#\\s+${name}\\s`, 'm'), `${name} is documented in the header comment`);
  }
  assert.match(header, /-config\.expand-env=true/);
  // Natively nothing may stay under /var/tempo: every directory follows TEMPO_DATA_DIR.
  const paths = [...tempoText.matchAll(/^\s*(?:path|shutdown_marker_dir|local_work_path):\s*(\S+)/gm)].map((m) => m[1]!);
  assert.ok(paths.length >= 6, `the data paths: ${paths.join(', ')}`);
  for (const path of paths) assert.match(path, /^\$\{TEMPO_DATA_DIR:-\/var\/tempo\}\//);
  // compose starts Tempo with the expansion on, and the Tempo healthcheck checks the default port.
  assert.ok((compose.services['tempo']?.command as string[]).includes('-config.expand-env=true'));
});
