// The exemplar -> trace link, proven with Grafana's own frontend code: fixture exemplars in
// Prometheus's query_exemplars format go through the Prometheus data source of @grafana/prometheus,
// configured by grafana/provisioning/datasources, and each link is followed to the Explore state a
// click opens (@grafana/data). No stack runs here; the packages install once into the tool cache
// (test/grafana-frontend/install.ts), which takes a minute or two the first time.
//
// Grafana drops a destination whose label is spelled differently or whose data source uid is
// unknown, without an error anywhere: the last three tests keep that failure visible and named.
// The first test ties the packages to the Grafana of the stack: GRAFANA_VERSION from .env.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { listDashboardPromQL, loadProvisionedDatasources, type ProvisionedDatasource } from './support/dashboards.ts';
import {
  assertExemplarsLinkToTempo,
  type GrafanaExemplarLinksInput,
  type HarnessAnswer,
  runGrafanaExemplarHarness,
  toExemplarLinks,
} from './support/grafana-exemplar-links.ts';
import { packageDir } from './grafana-frontend/install.ts';
import type { PromExemplarSeries } from '../native/stack-apis.ts';
import { pinnedVersions } from '../native/tools.ts';

const at = 1_764_870_000; // seconds, as Prometheus gives exemplar timestamps

/** The services' latency histogram after the Collector's remote write: exemplar labels trace_id, span_id. */
const HTTP_EXEMPLARS: PromExemplarSeries[] = [
  {
    seriesLabels: {
      __name__: 'http_request_duration_seconds_bucket',
      http_request_method: 'GET',
      http_response_status_code: '200',
      http_route: '/stock/:id',
      instance: '7c1f5d2e-93a4-4b8e-a1c6-0f2d9e8b7a61',
      job: 'inventory',
      le: '5',
    },
    exemplars: [
      { labels: { span_id: '3a9c1e5f7b2d4068', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' }, value: '3.046518', timestamp: at + 0.417 },
      { labels: { span_id: 'c0ffee0ddba11f00', trace_id: '0af7651916cd43dd8448eb211c80319c' }, value: '3.112903', timestamp: at + 15.002 },
    ],
  },
  {
    seriesLabels: {
      __name__: 'http_request_duration_seconds_bucket',
      http_request_method: 'GET',
      http_response_status_code: '200',
      http_route: '/orders/:id',
      instance: 'e2b4a6c8-1d3f-4a5b-9c7d-8e6f0a2b4c6d',
      job: 'order',
      le: '0.25',
    },
    exemplars: [{ labels: { span_id: '5e2b8d4f6a1c3e07', trace_id: 'd4cda95b652f4a1592b449d5929fda1b' }, value: '0.187245', timestamp: at + 3.9 }],
  },
];

/** Tempo's span metrics (metrics-generator): exemplar label traceID, no span id. */
const SPAN_METRICS_EXEMPLARS: PromExemplarSeries[] = [
  {
    seriesLabels: {
      __name__: 'traces_spanmetrics_latency_bucket',
      le: '4.096',
      service: 'inventory',
      span_kind: 'SPAN_KIND_SERVER',
      span_name: 'GET /stock/:id',
      status_code: 'STATUS_CODE_UNSET',
    },
    exemplars: [{ labels: { traceID: '6e0c63257de34c92bf9efcd03927272e' }, value: '3.04', timestamp: at + 7.5 }],
  },
];

const datasources = loadProvisionedDatasources();
const tempo = datasources.find((ds) => ds.type === 'tempo');

/** The dashboard's exemplar query on `metric`, so that the request is the panel's. */
function panelQuery(metric: string): string {
  return listDashboardPromQL().find((q) => q.exemplar && q.expr.includes(metric))?.expr ?? metric;
}

/** The provisioning with the destination of exemplar label `label` changed. */
function withDestination(label: string, change: { name?: string; datasourceUid?: string }): ProvisionedDatasource[] {
  const copy = structuredClone(datasources);
  const destinations = copy.flatMap((ds) => (ds.jsonData?.exemplarTraceIdDestinations ?? []) as Array<{ name: string; datasourceUid: string }>);
  const destination = destinations.find((d) => d.name === label);
  assert.ok(destination, `the provisioning has no destination for "${label}"`);
  Object.assign(destination, change);
  return copy;
}

/** The provisioning with the Tempo data source under another uid. */
function withTempoUid(uid: string): ProvisionedDatasource[] {
  const copy = structuredClone(datasources);
  copy.find((ds) => ds.type === 'tempo')!.uid = uid;
  return copy;
}

// Every case in one harness process: loading Grafana's packages takes seconds, a case milliseconds.
const CASES = {
  services: { datasources, exemplars: HTTP_EXEMPLARS, query: panelQuery('http_request_duration_seconds') },
  spanMetrics: { datasources, exemplars: SPAN_METRICS_EXEMPLARS, query: panelQuery('traces_spanmetrics') },
  labelRenamed: { datasources: withDestination('trace_id', { name: 'traceId' }), exemplars: HTTP_EXEMPLARS },
  uidUnknown: { datasources: withDestination('trace_id', { datasourceUid: 'tempo-x' }), exemplars: HTTP_EXEMPLARS },
  tempoUidChanged: { datasources: withTempoUid('tempo-x'), exemplars: SPAN_METRICS_EXEMPLARS },
} satisfies Record<string, GrafanaExemplarLinksInput>;
type Case = keyof typeof CASES;

/** @grafana/* packages versioned apart from Grafana's releases: the Grafana Assistant SDK, a peer of @grafana/prometheus. */
const VERSIONED_APART = new Set(['@grafana/assistant']);

test("every @grafana/* package of the harness is Grafana's release pinned in .env (GRAFANA_VERSION)", () => {
  const grafanaVersion = pinnedVersions().GRAFANA_VERSION;
  assert.ok(grafanaVersion, '.env pins GRAFANA_VERSION');
  const manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const grafana = Object.entries(manifest.dependencies ?? {}).filter(([name]) => name.startsWith('@grafana/') && !VERSIONED_APART.has(name));
  assert.ok(
    grafana.some(([name]) => name === '@grafana/prometheus'),
    'test/grafana-frontend/package.json depends on @grafana/prometheus',
  );
  assert.deepEqual(
    grafana.filter(([, version]) => version !== grafanaVersion),
    [],
    `test/grafana-frontend/package.json pins every @grafana/* package to ${grafanaVersion} exactly`,
  );
  // What npm ci installs: the lock, including any copy of those packages nested under another.
  const lock = JSON.parse(readFileSync(path.join(packageDir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };
  const packageName = (key: string) => key.replace(/^(?:.*\/)?node_modules\//, '');
  const names = new Set(grafana.map(([name]) => name));
  const locked = Object.entries(lock.packages).filter(([key]) => names.has(packageName(key)));
  assert.equal(new Set(locked.map(([key]) => packageName(key))).size, names.size, 'each of them is in package-lock.json');
  assert.deepEqual(
    locked.filter(([, entry]) => entry.version !== grafanaVersion).map(([key, entry]) => `${key}@${entry.version}`),
    [],
    `test/grafana-frontend/package-lock.json locks every one of them at ${grafanaVersion}: regenerate it (npm install --package-lock-only)`,
  );
});

describe('exemplar links, as Grafana builds them from the provisioning', () => {
  const answers = {} as Record<Case, HarnessAnswer>;
  before(async () => {
    const names = Object.keys(CASES) as Case[];
    const results = await runGrafanaExemplarHarness(names.map((name) => CASES[name]));
    for (const [i, name] of names.entries()) answers[name] = results[i]!;
  });
  const links = (name: Case) => toExemplarLinks(CASES[name], answers[name]);

  test('each exemplar of the services opens its trace in the provisioned Tempo, on its span', () => {
    assert.ok(tempo, 'no Tempo data source is provisioned');
    // The data source asked for exemplars, and took the answer for the exemplar layer of the panel.
    assert.deepEqual(
      answers.services.sent.flatMap((request) => request.queries.map((q) => [q.exemplar, (q.datasource as { uid?: string }).uid])),
      [[true, 'prometheus']],
    );
    assert.equal(answers.services.dataTopic, 'annotations');

    const result = links('services');
    const given = HTTP_EXEMPLARS.flatMap((s) => s.exemplars);
    assert.equal(result.length, given.length);
    for (const [i, exemplar] of result.entries()) {
      assert.equal(exemplar.traceId, given[i]!.labels.trace_id);
      assert.equal(exemplar.links.length, 1, JSON.stringify(exemplar.links));
      const [link] = exemplar.links;
      assert.equal(link!.title, `Query with ${tempo.name}`);
      assert.equal(link!.datasourceUid, tempo.uid);
      assert.deepEqual(link!.query, { query: given[i]!.labels.trace_id, queryType: 'traceql', datasource: { uid: tempo.uid } });
      assert.equal(link!.spanId, given[i]!.labels.span_id);
      assert.match(link!.url, /^\/explore\?left=/);
    }
    assertExemplarsLinkToTempo(result, datasources);
  });

  test("each exemplar of Tempo's span metrics (label traceID) opens its trace in the provisioned Tempo", () => {
    assert.ok(tempo, 'no Tempo data source is provisioned');
    const result = links('spanMetrics');
    assert.deepEqual(
      result.map((e) => e.links.map((l) => [l.datasourceUid, l.query?.query])),
      [[[tempo.uid, SPAN_METRICS_EXEMPLARS[0]!.exemplars[0]!.labels.traceID]]],
    );
    assertExemplarsLinkToTempo(result, datasources);
  });

  test('a destination label spelled differently (traceId) leaves the dots without links, and the checker names the label', () => {
    const result = links('labelRenamed');
    assert.deepEqual(
      result.map((e) => e.links.length),
      [0, 0, 0],
    );
    assert.throws(
      () => assertExemplarsLinkToTempo(result, CASES.labelRenamed.datasources),
      /exemplar label "trace_id" has no destination in exemplarTraceIdDestinations/,
    );
  });

  test('a destination data source uid that is not provisioned (tempo-x) leaves the dots without links, and the checker names the uid', () => {
    const result = links('uidUnknown');
    assert.deepEqual(
      result.map((e) => e.links.length),
      [0, 0, 0],
    );
    assert.throws(() => assertExemplarsLinkToTempo(result, CASES.uidUnknown.datasources), /destination data source uid "tempo-x" is not provisioned/);
  });

  test('the Tempo data source provisioned under another uid leaves the destinations pointing nowhere, and the checker names the uid', () => {
    assert.ok(tempo, 'no Tempo data source is provisioned');
    const result = links('tempoUidChanged');
    assert.deepEqual(
      result.map((e) => e.links.length),
      [0],
    );
    assert.throws(
      () => assertExemplarsLinkToTempo(result, CASES.tempoUidChanged.datasources),
      new RegExp(`destination data source uid "${tempo.uid}" is not provisioned`),
    );
  });
});
