// The scale-out profile end to end, natively: the Collector as the agent tier routing spans by trace
// id to two gateways (otel-collector/agent.yaml, gateway.yaml over sampling.yaml), under k6 load. It
// must keep the sampling profile's promises with nothing split, doubled or lost: every exemplar leads
// to its span, every trace the sampler kept is whole, each gateway takes its share, the span metrics
// and the service graph count every request once (the replicas' series kept apart by their
// `replica` label), and Prometheus refuses no sample. Then a gateway is killed for 30 s under load:
// what the agent does is measured, and the traces started after its return resolve again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../native/eventually.ts';
import { assertEveryExemplarResolves, describeResolvability, exemplarResolvability } from '../native/exemplar-resolvability.ts';
import { promQuery, promValue, scrape, tempoSearch } from '../native/stack-apis.ts';
import { gatewayPorts } from '../native/stack-ports.ts';
import { componentPids, killComponent, restartComponent, stackDown, stackUp, urls } from '../native/stack.ts';
import { assertFlowed, telemetryCounters } from '../native/telemetry-counters.ts';
import { tempoSkipReason } from '../native/tools.ts';
import { dashboardPromQueries } from './support/dashboards.ts';
import { kindOf, spanCountsOf } from './support/telemetry-loss.ts';
import { missingSpans, totalOf } from './support/trace-shapes.ts';
import { runK6, type K6Run } from './support/traffic.ts';
import { rssMiB } from './bench/proc.ts';

const GATEWAYS = 2;
/** Fast enough that the exemplar policy keeps a small share (a share that falls as traffic grows). */
const K6_RATE = 300;
const K6_SECONDS = 40;
const SLOW_MS = 1500;
const FAULT_RATE = 100;
const FAULT_WINDOW_S = 60;
const MIN_EXEMPLARS = 100;
const MIN_KEPT_TRACES = 200;
/** Each gateway's share of the traces, by the hash of their ids: half, give or take this much. */
const SHARE_RANGE = [0.3, 0.7] as const;
/** Spans the sampler must cut before Tempo, at this load. */
const MIN_CUT = 0.85;
/**
 * Error orders in the load. The sampler keeps every error trace, every slow one (2 %) and 5 % of the
 * rest besides the exemplars' traces, so with k6's default 2 % of error orders the kept share
 * floors at some 14 % however high the rate (85.8 % cut at 300 req/s); 1 % leaves room.
 */
const ERROR_SHARE = '0.01';
/** The longest wait between two of the agent's retries (the exporter's default backoff). */
const RETRY_MAX_INTERVAL_MS = 30_000;

const figures: Record<string, string> = {};
const gatewayMetrics = (i: number) => `http://127.0.0.1:${gatewayPorts(i).metrics}/metrics`;
const gatewayNames = Array.from({ length: GATEWAYS }, (_, i) => `otel-gateway-${i + 1}`);
let startedAt = 0;
let k6: K6Run;

/** Spans a Collector accepted, from its own metrics page. */
const acceptedSpans = async (metricsUrl: string) => (await scrape(metricsUrl)).get('otelcol_receiver_accepted_spans') ?? 0;

describe('the scale-out profile end to end (agent → 2 gateways by trace id)', { skip: tempoSkipReason(), timeout: 15 * 60_000 }, () => {
  before(async () => {
    startedAt = Date.now() / 1000;
    await stackUp({ fresh: true, gateways: GATEWAYS, log: (line) => console.log(`  ${line}`) });
    k6 = await runK6({ rate: K6_RATE, seconds: K6_SECONDS, slowMs: SLOW_MS, env: { ERROR_SHARE } });
    // The services' export delay (5 s), the sampler's decision wait (10 s), the connectors' flush (15 s).
    await sleep(20_000);
  });

  after(async () => {
    await stackDown({ log: () => undefined });
    console.log('\nscale-out figures:');
    for (const [name, value] of Object.entries(figures)) console.log(`  ${name.padEnd(48)} ${value}`);
  });

  test('every exemplar leads to its own span in Tempo (100 %)', async () => {
    const result = await exemplarResolvability(urls.prometheus, urls.tempo, startedAt, Date.now() / 1000, { waitMs: 40_000 });
    figures['exemplar resolvability'] = describeResolvability(result);
    assertEveryExemplarResolves(result, MIN_EXEMPLARS);
  });

  test('each gateway takes between 30 % and 70 % of the traces', async () => {
    // Order's SERVER spans counted by each replica's span metrics: one per trace.
    const { result } = await promQuery(urls.prometheus, 'sum by (replica) (traces_spanmetrics_calls_total{service="order", span_kind="SPAN_KIND_SERVER"})');
    const perReplica = new Map(result.map((sample) => [sample.metric.replica ?? '', Number(sample.value[1])]));
    const total = [...perReplica.values()].reduce((a, b) => a + b, 0);
    figures['traces per gateway'] = [...perReplica].map(([replica, n]) => `${replica} ${n} (${((100 * n) / total).toFixed(1)} %)`).join(', ');
    assert.deepEqual([...perReplica.keys()].sort(), gatewayNames, 'one series per gateway replica');
    assert.ok(total >= k6.requests, `the gateways counted ${total} orders, k6 sent ${k6.requests}`);
    for (const [replica, n] of perReplica) {
      assert.ok(n / total >= SHARE_RANGE[0] && n / total <= SHARE_RANGE[1], `${replica} took ${((100 * n) / total).toFixed(1)} % of the traces`);
    }
  });

  test(`the sampler cuts at least ${100 * MIN_CUT} % of the spans before Tempo, and every trace it kept is whole`, async () => {
    const agent = await acceptedSpans(urls.collectorMetrics);
    const stored = (await scrape(`${urls.tempo}/metrics`)).get('tempo_receiver_accepted_spans') ?? 0;
    figures['spans reaching Tempo'] = `${stored} of ${agent} (${(100 * (1 - stored / agent)).toFixed(1)} % cut)`;
    assert.ok(1 - stored / agent >= MIN_CUT, `Tempo got ${stored} of ${agent} spans`);

    // The kept traces, as Tempo lists them, compared with the shape the services define.
    const kept = new Set(
      (await tempoSearch(urls.tempo, '{ resource.service.name = "k6" }', startedAt - 60, Date.now() / 1000 + 60, 10_000)).map((hit) => hit.traceId),
    );
    const keptTraces = k6.traces.filter((trace) => kept.has(trace.traceId));
    assert.ok(keptTraces.length >= MIN_KEPT_TRACES, `only ${keptTraces.length} of k6's traces kept`);
    const counts = await spanCountsOf(keptTraces, { start: startedAt - 60, end: Date.now() / 1000 + 60 });
    const split = keptTraces.filter((trace) => {
      const found = counts.get(trace.traceId);
      return totalOf(missingSpans(kindOf(trace, found), found?.spans ?? {}, { fromK6: true })) > 0;
    });
    figures['kept traces whole'] = `${keptTraces.length - split.length} of ${keptTraces.length}`;
    assert.deepEqual(
      split.map((trace) => `${trace.traceId} ${kindOf(trace, counts.get(trace.traceId))} ${JSON.stringify(counts.get(trace.traceId)?.spans)}`).slice(0, 10),
      [],
      'kept traces with spans missing',
    );
  });

  test("span metrics and the service graph count every request once, summed over the replicas: equal to the services' own counts", async () => {
    const pairs: Array<[string, string, string]> = [
      ...['order', 'inventory', 'pricing'].map((service): [string, string, string] => [
        `${service} requests`,
        `sum(traces_spanmetrics_calls_total{service="${service}", span_kind="SPAN_KIND_SERVER"})`,
        `sum(http_request_duration_seconds_count{job="${service}"})`,
      ]),
      [
        'order → inventory',
        'sum(traces_service_graph_request_total{client="order", server="inventory"})',
        'sum(http_request_duration_seconds_count{job="inventory", http_route="/stock/:id"})',
      ],
      [
        'order → pricing',
        'sum(traces_service_graph_request_total{client="order", server="pricing"})',
        'sum(http_request_duration_seconds_count{job="pricing", http_route="/price/:id"})',
      ],
    ];
    for (const [what, fromSpans, fromService] of pairs) {
      const read = async () => [await promValue(urls.prometheus, fromSpans), await promValue(urls.prometheus, fromService)] as const;
      // The connectors flush every 15 s, the services every 5 s: equal once both hold the last request.
      const [a, b] = await eventually(
        async () => {
          const values = await read();
          return values[1] > 0 && values[0] === values[1] ? values : undefined;
        },
        `${what}: span metrics against the services' own count`,
        45_000,
        3000,
      ).catch(read);
      figures[`${what} (spans / service)`] = `${a} / ${b}`;
      assert.ok(b > 0 && a === b, `${what}: ${a} from the gateways' series, ${b} from the service`);
    }
  });

  test("every dashboard query reads the replicas' series as one: data, and no replica label left in the result", async () => {
    const split: string[] = [];
    for (const { panel, expr } of dashboardPromQueries()) {
      const { result } = await promQuery(urls.prometheus, expr);
      if (result.length === 0) split.push(`${panel}: no data (${expr})`);
      for (const sample of result) if ('replica' in sample.metric) split.push(`${panel}: a series per replica (${expr})`);
    }
    assert.deepEqual([...new Set(split)], [], 'dashboard queries that do not sum over the gateway replicas');
  });

  test('nothing is refused, failed or lost in the agent, the gateways, Tempo or Prometheus; Prometheus refuses no sample', async () => {
    const agent = await telemetryCounters({ collector: urls.collectorMetrics, prometheus: urls.prometheus, tempo: urls.tempo });
    assertFlowed(agent, { 'Collector spans accepted': 10_000, 'Prometheus exemplars appended': 100 });
    const losses: Record<string, number> = { ...agent.losses };
    for (const [i, name] of gatewayNames.entries()) {
      const gateway = await telemetryCounters({ collector: gatewayMetrics(i + 1), prometheus: urls.prometheus, tempo: urls.tempo });
      // A gateway receives spans only (the agent sends it no metrics): it has no metric points receiver counters.
      assert.deepEqual(
        gateway.absent.filter((counter) => !counter.startsWith('otelcol_receiver_') || !counter.includes('_metric_points')),
        [],
        `${name}'s counters`,
      );
      assert.ok((gateway.flow['Collector spans accepted'] ?? 0) > 1000, `${name} accepted ${gateway.flow['Collector spans accepted']} spans`);
      for (const [label, n] of Object.entries(gateway.losses)) if (label.startsWith('Collector')) losses[`${name}: ${label}`] = n;
    }
    const rejected = await prometheusRejectedSamples();
    figures['Prometheus samples rejected'] = Object.entries(rejected)
      .map(([name, n]) => `${name} ${n}`)
      .join(', ');
    assert.deepEqual(
      Object.entries({ ...losses, ...rejected }).filter(([, n]) => n > 0),
      [],
      'telemetry lost or refused',
    );
  });

  test('a gateway killed for 30 s under load: the agent holds its share and delivers it on its return; traces started after it resolve', async () => {
    // The agent's per-gateway OTLP exporters queue and retry (agent.yaml); their queues are not in
    // its metrics, so what it held shows as its memory, and as what the gateway accepts once back.
    const killed = gatewayNames[0]!;
    let returnedAt = 0;
    let deliveredOnReturn = 0;
    let agentPeakMiB = 0;
    const [run] = await Promise.all([
      runK6({ rate: FAULT_RATE, seconds: FAULT_WINDOW_S, slowMs: SLOW_MS }),
      (async () => {
        await sleep(10_000);
        await killComponent(killed);
        const downAt = Date.now();
        while (Date.now() - downAt < 30_000) {
          agentPeakMiB = Math.max(agentPeakMiB, rssMiB(componentPids()['otel-collector']!));
          await sleep(1000);
        }
        await restartComponent(killed, { gateways: GATEWAYS });
        returnedAt = Date.now() / 1000;
      })(),
    ]);
    // The agent's exporter retries with a growing backoff, at most 30 s apart.
    await sleep(Math.max(0, returnedAt * 1000 + RETRY_MAX_INTERVAL_MS + 5000 - Date.now()));
    deliveredOnReturn = await acceptedSpans(gatewayMetrics(1));
    const agent = await scrape(urls.collectorMetrics);
    const during = await exemplarResolvability(urls.prometheus, urls.tempo, returnedAt - 30, returnedAt, { waitMs: 30_000 });
    const after = await exemplarResolvability(urls.prometheus, urls.tempo, returnedAt + 5, Date.now() / 1000, { waitMs: 40_000 });
    figures['gateway killed 30 s'] =
      `${run.requests} requests, ${run.failed} failed; agent peak RSS ${agentPeakMiB.toFixed(0)} MiB; ` +
      `the gateway accepted ${deliveredOnReturn} spans in its first ${RETRY_MAX_INTERVAL_MS / 1000 + 5} s back; ` +
      `agent gave up on ${agent.get('otelcol_exporter_send_failed_spans') ?? 0} spans; ` +
      `exemplars of the outage ${describeResolvability(during)}; after the return ${describeResolvability(after)}`;
    assert.equal(run.failed, 0, 'requests failed while a gateway was away');
    assert.ok(deliveredOnReturn > 0, 'the agent should have held spans for the gateway while it was away');
    assertEveryExemplarResolves(after, 30);
  });
});

/** Prometheus's own counters of samples it refused: out of order, out of bounds, too old, duplicates. */
async function prometheusRejectedSamples(): Promise<Record<string, number>> {
  const page = await scrape(`${urls.prometheus}/metrics`);
  const names = ['prometheus_tsdb_out_of_order_samples_total', 'prometheus_tsdb_out_of_bound_samples_total', 'prometheus_tsdb_too_old_samples_total'];
  const missing = names.filter((name) => !page.has(name));
  assert.deepEqual(missing, [], "Prometheus's rejected-sample counters, renamed?");
  return Object.fromEntries(names.map((name) => [name, page.get(name)!]));
}
