// End to end, on the real binaries: the native stack (Prometheus, Tempo, the Collector and the three
// services, all on the repository's config files), k6 traffic with the slow path raised and a few
// error-path orders, then assertions on what Prometheus and Tempo themselves return (including the
// TraceQL of the workshop and of the dashboards). Prints its figures.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { componentPids, ports, stackDown, stackUp, urls } from '../native/stack.ts';
import { tempoSkipReason } from '../native/tools.ts';
import {
  dashboardPromQueries,
  dashboardTraceQLQueries,
  listDashboardPromQL,
  loadProvisionedDatasources,
  provisionedExemplarLabels,
} from './support/dashboards.ts';
import { assertExemplarsLinkToTempo, runGrafanaExemplarHarness, toExemplarLinks } from './support/grafana-exemplar-links.ts';
import { eventually } from '../native/eventually.ts';
import { localLinks, workshopTraceQLQueries } from './support/docs.ts';
import { isLoopback, listeningAddresses } from '../native/listeners.ts';
import { runK6, sendOwnTracedRequests, type K6Run, type KnownTrace } from './support/traffic.ts';
import { SLOW_PATH_QUERIES } from '../services/inventory/src/stock-repository.ts';
import {
  assertEveryExemplarResolves,
  describeResolvability,
  exemplarResolvability,
  exemplarsOf,
  resolveExemplars,
  type Exemplar,
} from '../native/exemplar-resolvability.ts';
import { assertFlowed, telemetryCounters } from '../native/telemetry-counters.ts';
import { promExemplars, promQuery, tempoSearch, tempoTrace, type PromExemplarSeries, type TempoSpan } from '../native/stack-apis.ts';

const K6_RATE = 25; // requests per second
const K6_DURATION_S = 40;
const SLOW_PATH_RATE = 0.1; // raised from 2 % so that slow requests show up within seconds
const SLOW_PATH_DELAY_MS = 3000;
const SLOW_MS = SLOW_PATH_DELAY_MS * 0.9;
const HISTOGRAM = 'http_request_duration_seconds';
const FIRST_RESOLVABLE_EXEMPLAR_MAX_MS = 20_000;
/**
 * An exemplar can reach Prometheus before its trace reaches Tempo: the services send spans every
 * 5 s (the batch span processor) and metrics every 5 s, the Collector batches both. One older
 * than this that Tempo does not return at once points at a lost or late span, not at the batching.
 */
const EXEMPLAR_TRACE_LAG_MAX_S = 15;
/**
 * Fewer exemplars than these prove nothing; a healthy run has several times as many (the figures
 * printed): each service's histogram keeps one per bucket, attribute set and 5 s export interval.
 */
const MIN_EXEMPLARS = 50;
const MIN_SPAN_METRICS_EXEMPLARS = 20;
/** Exemplars each exemplar panel must show before its links are judged (a run shows several times as many). */
const MIN_GRAFANA_LINKS = 20;
/**
 * What each flow counter must have counted before "nothing lost" counts: a healthy run counts
 * several times as much (the figures printed).
 */
const MIN_FLOW = {
  'Collector spans accepted': 3000,
  'Collector metric points accepted': 20,
  'Collector metric points sent': 20,
  'Prometheus exemplars appended': 100,
};
/** The workshop's structural query (docs/WORKSHOP.md, section 2), said to find exactly the slow-path traces. */
const WORKSHOP_STRUCTURAL_QUERY = workshopTraceQLQueries().find((query) => query.includes('>>'))!;
const withoutTempo = tempoSkipReason();

const figures: Record<string, string> = {};
let startedAt = 0; // seconds, Prometheus time
let healthyAt = 0; // ms
let k6: K6Run | undefined;
let ownTraces: KnownTrace[] = [];
/** k6's requests, from the traceparent it generated and logged (LOG_TRACE_IDS). */
let k6Traces: KnownTrace[] = [];
let firstResolvableExemplarMs: number | undefined;
let firstExemplarMs: number | undefined;

/** Watches for the first exemplar in Prometheus, and the first one that leads to its span in Tempo. */
async function watchFirstExemplars(until: Promise<unknown>): Promise<void> {
  let done = false;
  void until.finally(() => (done = true));
  while (!done && firstResolvableExemplarMs === undefined) {
    const now = Date.now() / 1000;
    const exemplars = exemplarsOf(await promExemplars(urls.prometheus, `${HISTOGRAM}_bucket`, startedAt, now).catch(() => []));
    if (exemplars.length > 0) {
      firstExemplarMs ??= Date.now() - healthyAt;
      if (withoutTempo) return;
      const { spanFound } = await resolveExemplars(urls.tempo, exemplars.slice(-5), { waitMs: 0 });
      if (spanFound > 0) {
        firstResolvableExemplarMs = Date.now() - healthyAt;
        return;
      }
    }
    await sleep(500);
  }
}

describe('the native stack end to end', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    startedAt = Date.now() / 1000;
    await stackUp({
      fresh: true,
      serviceEnv: { SLOW_PATH_RATE: String(SLOW_PATH_RATE), SLOW_PATH_DELAY_MS: String(SLOW_PATH_DELAY_MS) },
      log: (line) => console.log(`  ${line}`),
    });
    healthyAt = Date.now();
    const traffic = Promise.all([
      runK6({ rate: K6_RATE, seconds: K6_DURATION_S, slowMs: SLOW_MS }).then((run) => {
        k6 = run;
        k6Traces = run.traces;
      }),
      sendOwnTracedRequests(SLOW_MS).then((traces) => (ownTraces = traces)),
    ]);
    await Promise.all([traffic, watchFirstExemplars(traffic)]);
    // One more export interval (5 s) plus ingest, so the last requests are in Prometheus too.
    await sleep(8000);
  });

  after(async () => {
    figures['k6 requests per second'] = k6 ? `${k6.requestsPerSecond.toFixed(1)} (${k6.requests} requests, exit ${k6.exitCode})` : 'n/a';
    figures['first exemplar in Prometheus after healthy'] = firstExemplarMs === undefined ? 'never' : `${(firstExemplarMs / 1000).toFixed(1)} s`;
    figures['first resolvable exemplar after healthy'] = withoutTempo
      ? 'n/a (no Tempo)'
      : firstResolvableExemplarMs === undefined
        ? 'never'
        : `${(firstResolvableExemplarMs / 1000).toFixed(1)} s`;
    await stackDown({ log: () => undefined });
    console.log('\nend-to-end figures:');
    for (const [name, value] of Object.entries(figures)) console.log(`  ${name.padEnd(44)} ${value}`);
  });

  test('every port of the native stack listens on 127.0.0.1 only', () => {
    const listeners = Object.entries(componentPids()).flatMap(([name, pid]) => listeningAddresses(pid).map((address) => `${name} ${address}`));
    figures['listening sockets'] = listeners.join(', ');
    assert.ok(listeners.length >= (withoutTempo ? 8 : 12), `expected the ports of every component, got ${listeners.join(', ')}`);
    assert.deepEqual(
      listeners.filter((listener) => !isLoopback(listener.split(' ')[1]!)),
      [],
    );
  });

  test('Prometheus has http_request_duration_seconds_bucket from order, inventory and pricing', async () => {
    const result = await promQuery(urls.prometheus, `count by (job) (${HISTOGRAM}_bucket)`);
    assert.deepEqual(result.result.map((sample) => sample.metric.job).sort(), ['inventory', 'order', 'pricing']);
  });

  test("inventory's p99 is well above 1 s while its p50 stays low", async () => {
    const quantile = async (q: number) => {
      const { result } = await promQuery(urls.prometheus, `histogram_quantile(${q}, sum by (le) (increase(${HISTOGRAM}_bucket{job="inventory"}[5m])))`);
      assert.equal(result.length, 1, `no ${q} quantile for inventory`);
      return Number(result[0]!.value[1]);
    };
    const [p50, p99] = [await quantile(0.5), await quantile(0.99)];
    figures['inventory p50 / p99'] = `${(p50 * 1000).toFixed(0)} ms / ${(p99 * 1000).toFixed(0)} ms`;
    assert.ok(p99 > 1.5, `p99 ${p99} s`);
    assert.ok(p50 < 0.25, `p50 ${p50} s`);
  });

  describe('exemplars', () => {
    let series: PromExemplarSeries[] = [];
    before(async () => {
      series = await promExemplars(urls.prometheus, `${HISTOGRAM}_bucket`, startedAt, Date.now() / 1000);
    });

    test('query_exemplars returns exemplars with trace_id and span_id for every service', () => {
      const jobs = new Set(series.filter((s) => s.exemplars.length > 0).map((s) => s.seriesLabels.job));
      assert.deepEqual([...jobs].sort(), ['inventory', 'order', 'pricing']);
      for (const exemplar of series.flatMap((s) => s.exemplars)) {
        assert.match(exemplar.labels.trace_id ?? '', /^[0-9a-f]{32}$/);
        assert.match(exemplar.labels.span_id ?? '', /^[0-9a-f]{16}$/);
      }
      const slowest = Math.max(...series.filter((s) => s.seriesLabels.job === 'inventory').flatMap((s) => s.exemplars.map((e) => Number(e.value))));
      assert.ok(slowest >= SLOW_PATH_DELAY_MS / 1000, `the slowest inventory exemplar is ${slowest} s`);
      figures['exemplars returned by Prometheus'] = String(series.reduce((n, s) => n + s.exemplars.length, 0));
    });

    test("every exemplar leads to its own span in Tempo, and the slowest one's trace shows the whole N+1", { skip: withoutTempo }, async () => {
      const result = await exemplarResolvability(urls.prometheus, urls.tempo, startedAt, Date.now() / 1000);
      const { late } = result;
      figures['exemplar resolvability'] =
        describeResolvability(result) + (late.length ? ` (ages at the first lookup ${late.map((l) => `${l.ageS.toFixed(1)} s`).join(', ')})` : '');
      assertEveryExemplarResolves(result, MIN_EXEMPLARS);
      const overdue = late.filter((l) => l.ageS > EXEMPLAR_TRACE_LAG_MAX_S);
      assert.deepEqual(overdue, [], `exemplars older than ${EXEMPLAR_TRACE_LAG_MAX_S} s whose span Tempo returned only after a wait`);

      const slowest = exemplarsOf(series)
        .filter((e) => e.service === 'inventory')
        .sort((a, b) => b.value - a.value)[0]!;
      const spans = (await tempoTrace(urls.tempo, slowest.traceId))!;
      const queries = spans.filter((span) => span.service === 'inventory' && span.name === 'query-stock-db');
      assert.equal(queries.length, SLOW_PATH_QUERIES, `the slowest exemplar's trace ${slowest.traceId}: query-stock-db spans`);
    });
  });

  test('Tempo returns the traces the test and k6 started, across all three services with parent links', { skip: withoutTempo }, async () => {
    const someOfK6 = k6Traces.filter((t) => !t.error).slice(0, 3);
    for (const { traceId, slow } of ownTraces.filter((t) => t.slow).concat(ownTraces.filter((t) => !t.error).slice(0, 3), someOfK6)) {
      const spans = await eventually<TempoSpan[]>(
        async () => {
          const found = await tempoTrace(urls.tempo, traceId);
          return found && ['order', 'inventory', 'pricing'].every((s) => found.some((span) => span.service === s)) ? found : undefined;
        },
        `trace ${traceId}`,
        30_000,
        1000,
      );
      const byId = new Map(spans.map((span) => [span.spanId, span]));
      for (const service of ['inventory', 'pricing']) {
        const server = spans.find((span) => span.service === service && span.kind === 'SPAN_KIND_SERVER');
        assert.ok(server, `no ${service} server span in ${traceId}`);
        assert.equal(byId.get(server.parentSpanId)?.service, 'order', `${service}'s server span is not a child of an order span`);
      }
      if (slow) assert.equal(spans.filter((span) => span.name === 'query-stock-db').length, SLOW_PATH_QUERIES, `slow trace ${traceId}: the N+1`);
    }
  });

  test(`the first exemplar resolves in Tempo within ${FIRST_RESOLVABLE_EXEMPLAR_MAX_MS / 1000} s of the stack being healthy`, { skip: withoutTempo }, () => {
    assert.ok(firstResolvableExemplarMs !== undefined, 'no exemplar resolved in Tempo while the traffic ran');
    assert.ok(
      firstResolvableExemplarMs <= FIRST_RESOLVABLE_EXEMPLAR_MAX_MS,
      `the first resolvable exemplar came ${firstResolvableExemplarMs} ms after healthy`,
    );
  });

  test('no telemetry is lost on the way: nothing refused, failed or discarded in the Collector, Tempo or Prometheus', async () => {
    const counts = await telemetryCounters({
      collector: urls.collectorMetrics,
      prometheus: urls.prometheus,
      tempo: withoutTempo ? undefined : urls.tempo,
    });
    const { flow, losses } = counts;
    figures['telemetry flow'] = Object.entries(flow)
      .map(([name, n]) => `${name} ${n}`)
      .join(', ');
    figures['telemetry lost'] = String(Object.values(losses).reduce((a, b) => a + b, 0));
    assertFlowed(counts, MIN_FLOW);
    assert.deepEqual(
      Object.entries(losses).filter(([, n]) => n > 0),
      [],
      'telemetry lost',
    );
  });

  describe('TraceQL against Tempo', { skip: withoutTempo }, () => {
    const search = (traceql: string) => tempoSearch(urls.tempo, traceql, startedAt - 60, Date.now() / 1000 + 60);
    const known = () => [...ownTraces, ...k6Traces];

    test('{ span.http.response.status_code = 500 } finds exactly the error-path orders of the test and k6', async () => {
      const query = '{ span.http.response.status_code = 500 }';
      const expected = new Set(
        known()
          .filter((t) => t.error)
          .map((t) => t.traceId),
      );
      assert.ok(expected.size >= 5, `only ${expected.size} error-path orders were sent`);
      const found = await eventually(
        async () => {
          const ids = new Set((await search(query)).map((hit) => hit.traceId));
          return [...expected].every((id) => ids.has(id)) ? ids : undefined;
        },
        `every error-path trace found by ${query}`,
        30_000,
        1000,
      );
      figures[`TraceQL ${query}`] = `${found.size} traces (${expected.size} error-path orders sent)`;
      assert.deepEqual([...found].sort(), [...expected].sort());
    });

    test('{ name = "query-stock-db" } | count() > 10 finds the slow-path traces and no normal ones', async () => {
      const query = '{ name = "query-stock-db" } | count() > 10';
      const slow = known()
        .filter((t) => t.slow && !t.error)
        .map((t) => t.traceId);
      const normal = known()
        .filter((t) => !t.slow && !t.error)
        .map((t) => t.traceId);
      assert.ok(slow.length >= 3, `only ${slow.length} slow-path orders`);
      const found = await eventually(
        async () => {
          const ids = new Set((await search(query)).map((hit) => hit.traceId));
          return slow.every((id) => ids.has(id)) ? ids : undefined;
        },
        `every slow trace found by ${query}`,
        30_000,
        1000,
      );
      figures[`TraceQL ${query}`] = `${found.size} traces (${slow.length} slow orders known, ${normal.length} normal ones)`;
      assert.deepEqual(
        normal.filter((id) => found.has(id)),
        [],
        'normal orders matched',
      );
    });

    test("k6's traces are whole: k6's client span is their root, and the workshop's >> query finds exactly k6's slow-path traces", async () => {
      // The structural operators match only where the tree is complete up to its root: k6's traces,
      // not the test's own (their root, the test's traceparent, is never sent).
      const query = WORKSHOP_STRUCTURAL_QUERY;
      const slow = k6Traces.filter((t) => t.slow && !t.error).map((t) => t.traceId);
      const normal = k6Traces.filter((t) => !t.slow && !t.error).map((t) => t.traceId);
      assert.ok(slow.length >= 3 && normal.length >= 100, `only ${slow.length} slow and ${normal.length} normal k6 orders`);
      const hits = await eventually(
        async () => {
          const found = new Map((await tempoSearch(urls.tempo, query, startedAt - 60, Date.now() / 1000 + 60, 5000)).map((hit) => [hit.traceId, hit]));
          return slow.every((id) => found.has(id)) ? found : undefined;
        },
        `every slow k6 trace found by ${query}`,
        30_000,
        1000,
      );
      assert.deepEqual(
        normal.filter((id) => hits.has(id)),
        [],
        `normal k6 orders matched by ${query}`,
      );
      const roots = slow.map((id) => `${hits.get(id)!.rootServiceName}: ${hits.get(id)!.rootTraceName}`);
      figures[`TraceQL ${query}`] = `${hits.size} traces: all ${slow.length} slow k6 orders, none of the ${normal.length} normal ones`;
      assert.deepEqual(new Set(roots), new Set(['k6: GET /orders/:id']), 'the root of each search row');

      // And in the trace itself: order's server span is a child of k6's client span, for every k6 request.
      const sample = k6Traces.filter((_, i) => i % 10 === 0);
      for (const { traceId } of sample) {
        const spans = (await tempoTrace(urls.tempo, traceId)) ?? [];
        const client = spans.find((span) => span.service === 'k6');
        const orderServer = spans.find((span) => span.service === 'order' && span.kind === 'SPAN_KIND_SERVER');
        assert.ok(client && orderServer, `trace ${traceId}: k6 span ${Boolean(client)}, order server span ${Boolean(orderServer)}`);
        assert.equal(orderServer.parentSpanId, client.spanId, `trace ${traceId}`);
        assert.equal(client.parentSpanId, '', `trace ${traceId}: k6's span is the root`);
      }
      figures['k6 client spans checked'] = `${sample.length} traces, every one rooted at k6`;
    });

    test('every TraceQL query of the workshop returns traces from this Tempo', async () => {
      const queries = workshopTraceQLQueries();
      assert.ok(queries.length >= 5 && WORKSHOP_STRUCTURAL_QUERY, `the workshop's TraceQL table: ${queries.join(' | ')}`);
      for (const query of queries) {
        const hits = await eventually(
          async () => {
            const found = await search(query);
            return found.length > 0 ? found : undefined;
          },
          `traces for the workshop's ${query}`,
          30_000,
          1000,
        );
        figures[`TraceQL ${query} (workshop)`] = `${hits.length} traces`;
      }
    });

    test('every TraceQL query of the Grafana dashboards returns traces from this Tempo', async () => {
      const queries = dashboardTraceQLQueries();
      assert.ok(queries.length > 0);
      for (const { panel, query } of queries) {
        const hits = await eventually(
          async () => {
            const found = await search(query);
            return found.length > 0 ? found : undefined;
          },
          `traces for ${panel}: ${query}`,
          30_000,
          1000,
        );
        figures[`TraceQL ${query} (dashboard)`] = `${hits.length} traces`;
      }
    });

    test("Tempo's span metrics reach Prometheus with traceID exemplars whose traces hold a span of their series' service and kind", async () => {
      // Tempo's metrics-generator names only the trace (traceID), no span: the trace must hold a span
      // of the service and kind of the exemplar's series.
      const exemplars = await eventually(
        async () => {
          const found = exemplarsOf(await promExemplars(urls.prometheus, 'traces_spanmetrics_latency_bucket', startedAt, Date.now() / 1000));
          return found.length >= MIN_SPAN_METRICS_EXEMPLARS ? found : undefined;
        },
        `at least ${MIN_SPAN_METRICS_EXEMPLARS} traceID exemplars on traces_spanmetrics_latency_bucket`,
        60_000,
        1000,
      );
      const result = await resolveExemplars(urls.tempo, exemplars, { allowMissingSpanId: true });
      figures['span-metrics exemplars'] = describeResolvability(result);
      assertEveryExemplarResolves(result, MIN_SPAN_METRICS_EXEMPLARS);
    });
  });

  test("Tempo's service graph shows k6 → order, order → inventory and order → pricing", { skip: withoutTempo }, async () => {
    const edges = await eventually(
      async () => {
        const { result } = await promQuery(urls.prometheus, 'sum by (client, server) (traces_service_graph_request_total)');
        const found = result.map((sample) => `${sample.metric.client} → ${sample.metric.server}`);
        // k6 → order: k6 sends its own client span for each request (loadgen/lib/client-spans.js).
        return ['k6 → order', 'order → inventory', 'order → pricing'].every((edge) => found.includes(edge)) ? found : undefined;
      },
      'service graph edges',
      60_000,
      1000,
    );
    figures['service graph edges'] = edges.join(', ');
    // The RED panels count server spans: the three services', never k6's client spans.
    const { result } = await promQuery(urls.prometheus, 'sum by (service) (traces_spanmetrics_calls_total{span_kind="SPAN_KIND_SERVER"})');
    assert.deepEqual(new Set(result.map((sample) => sample.metric.service)), new Set(['order', 'inventory', 'pricing']));
  });

  test('every PromQL expression of the Grafana dashboards returns data from this Prometheus', async () => {
    const empty: string[] = [];
    const queries = dashboardPromQueries();
    assert.ok(queries.length > 0);
    for (const { panel, expr } of queries) {
      // Tempo's metrics generator produces the traces_* series; without Tempo they cannot exist.
      if (withoutTempo && /\btraces_/.test(expr)) continue;
      const { result } = await promQuery(urls.prometheus, expr);
      if (result.length === 0) empty.push(`${panel}: ${expr}`);
    }
    assert.deepEqual(empty, [], 'dashboard queries without data');
  });

  test('every link to the native stack in the README, the workshop and the runbook answers', { skip: withoutTempo }, async () => {
    // Grafana (3000) runs only in compose; 4317 is the Collector's gRPC port, named as a setting.
    const httpPorts = new Set([ports.order, ports.inventory, ports.pricing, ports.prometheus, ports.tempoHttp]);
    const links = localLinks().filter((link) => httpPorts.has(Number(new URL(link.url.replace('$TRACE', 'x')).port)));
    assert.ok(links.length >= 10, `links found: ${links.map((link) => link.url).join(' ')}`);
    const traceId = ownTraces[0]!.traceId;
    const broken: string[] = [];
    for (const link of links) {
      const response = await fetch(link.url.replace('$TRACE', traceId), { signal: AbortSignal.timeout(10_000) }).catch((error: Error) => error);
      if (response instanceof Error || !response.ok)
        broken.push(`${link.file}:${link.line} ${link.url}: ${response instanceof Error ? response.message : response.status}`);
      if (!(response instanceof Error)) await response.arrayBuffer();
    }
    figures['doc links to the native stack'] = `${links.length - broken.length} of ${links.length} answer`;
    assert.deepEqual(broken, [], 'links in the docs that do not answer');
  });

  test("Grafana's own frontend code links every exemplar of the dashboard's exemplar panels to Tempo, and each link's trace holds the exemplar's span", {
    skip: withoutTempo,
  }, async () => {
    // The panels' queries as Grafana sends them (variables replaced), their exemplars as Prometheus
    // answers them, through @grafana/prometheus's transformer and @grafana/data's link mapping with
    // the data sources exactly as provisioned (test/grafana-frontend/); then every link followed.
    const datasources = loadProvisionedDatasources();
    const panels = listDashboardPromQL().filter((q) => q.exemplar);
    assert.ok(panels.length >= 2, `exemplar panels: ${panels.map((p) => p.panelTitle).join(', ')}`);
    const inputs = await Promise.all(
      panels.map(async (panel) => ({
        datasources,
        exemplars: await promExemplars(urls.prometheus, panel.query, startedAt, Date.now() / 1000),
        refId: panel.refId,
        query: panel.query,
      })),
    );
    const answers = await runGrafanaExemplarHarness(inputs);
    const followed: Exemplar[] = [];
    for (const [i, panel] of panels.entries()) {
      const links = toExemplarLinks(inputs[i]!, answers[i]!);
      assert.ok(links.length >= MIN_GRAFANA_LINKS, `${panel.panelTitle}: only ${links.length} exemplars`);
      assertExemplarsLinkToTempo(links, datasources);
      // What a click opens: Explore on that Tempo uid with the trace id as its query and, where the
      // exemplar names one, the span selected (panelsState.trace.spanId).
      for (const exemplar of links) {
        const [link] = exemplar.links;
        followed.push({
          traceId: link!.query!.query!,
          spanId: link!.spanId ?? '',
          service: exemplar.seriesLabels.job ?? exemplar.seriesLabels.service ?? '',
          spanKind: exemplar.seriesLabels.span_kind ?? 'SPAN_KIND_SERVER',
          value: 0,
          timestamp: 0,
        });
      }
      figures[`Grafana links: ${panel.panelTitle}`] =
        `${links.length} exemplars, each one "${links[0]!.links[0]!.title}" link to ${links[0]!.links[0]!.datasourceUid}`;
    }
    // Tempo's span metrics name no span: their traces must hold a span of the series' service and kind.
    const result = await resolveExemplars(urls.tempo, followed, { allowMissingSpanId: true });
    figures['Grafana links followed to Tempo'] = describeResolvability(result);
    assertEveryExemplarResolves(result, MIN_GRAFANA_LINKS * panels.length);
    assert.ok(followed.filter((e) => e.spanId).length >= MIN_GRAFANA_LINKS, "the services' exemplars should open their trace with their span selected");
  });

  test('every exemplar label Grafana is provisioned for appears on real exemplars', async () => {
    const labels = new Set(
      (await promExemplars(urls.prometheus, '{__name__=~".+_bucket"}', startedAt, Date.now() / 1000)).flatMap((s) =>
        s.exemplars.flatMap((e) => Object.keys(e.labels)),
      ),
    );
    for (const label of provisionedExemplarLabels()) {
      // traceID is the label Tempo's metrics generator writes; it needs Tempo.
      if (withoutTempo && label !== 'trace_id') continue;
      assert.ok(labels.has(label), `Grafana links exemplars by ${label}, but no exemplar carries it (seen: ${[...labels].join(', ')})`);
    }
  });
});
