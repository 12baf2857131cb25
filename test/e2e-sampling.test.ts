// The sampling profile end to end (otel-collector/sampling.yaml over config.yaml) on the native stack
// with Tempo: k6 traffic with the slow path raised and error-path orders, then what Prometheus and
// Tempo return. Every exemplar must lead to its trace, every error and slow trace the test caused
// must be stored, most of the rest must be dropped before Tempo, and RED and the service graph,
// made by the Collector from every span, must agree with the services' own histogram.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertEveryExemplarResolves, describeResolvability, exemplarResolvability } from '../native/exemplar-resolvability.ts';
import { promValue } from '../native/stack-apis.ts';
import { assertFlowed, telemetryCounters } from '../native/telemetry-counters.ts';
import { stackDown, stackUp, urls } from '../native/stack.ts';
import { tempoSkipReason } from '../native/tools.ts';
import { eventually } from '../native/eventually.ts';
import { kindOf, spanCountsOf } from './support/telemetry-loss.ts';
import { missingSpans, totalOf } from './support/trace-shapes.ts';
import { runK6, sendOwnTracedRequests, type K6Run, type KnownTrace } from './support/traffic.ts';

const K6_RATE = 40;
const K6_SECONDS = 45;
const SLOW_MS = 1500; // the slow path takes about 3 s; the sampler keeps traces over 1 s
/**
 * The p99s are compared by rank, within two percentiles: a span also holds some tens of microseconds
 * of the http instrumentation's own work, so a few requests land one bucket higher (see below).
 * Counts have no such excuse: they must be equal.
 */
const RANK_TOLERANCE = 0.02;
/** Fewer exemplars than this prove nothing; a healthy run has several times as many. */
const MIN_EXEMPLARS = 60;
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
/** Slow and error orders the test must have caused for "every one is stored" to mean something. */
const MIN_SLOW_OR_ERROR = 10;
const SERVICES = ['order', 'inventory', 'pricing'] as const;

const figures: Record<string, string> = {};
let startedAt = 0;
let k6: K6Run | undefined;
let own: KnownTrace[] = [];

/** Two cumulative counts agree: exactly, and above zero (nothing counted proves nothing). */
const equalCounts = (spanMetrics: number, own: number) => own > 0 && spanMetrics === own;
/** Requests must be equal counts; errors equal too, and may be none (inventory never fails). */
const countsAgree = (what: string, spanMetrics: number, own: number) => (what === 'errors' ? spanMetrics === own : equalCounts(spanMetrics, own));

describe('the sampling profile end to end', { skip: tempoSkipReason(), timeout: 10 * 60_000 }, () => {
  before(async () => {
    startedAt = Date.now() / 1000;
    await stackUp({ fresh: true, sampling: true, serviceEnv: { SLOW_PATH_RATE: '0.05' }, log: (line) => console.log(`  ${line}`) });
    [k6, own] = await Promise.all([runK6({ rate: K6_RATE, seconds: K6_SECONDS, slowMs: SLOW_MS }), sendOwnTracedRequests(SLOW_MS)]);
    // The last spans: the services' export delay (5 s), the sampler's decision wait (10 s).
    await sleep(20_000);
  });

  after(async () => {
    await stackDown({ log: () => undefined });
    console.log('\nsampling profile figures:');
    for (const [name, value] of Object.entries(figures)) console.log(`  ${name.padEnd(46)} ${value}`);
  });

  test('every exemplar in Prometheus leads to its own span in Tempo (100 %)', async () => {
    const result = await exemplarResolvability(urls.prometheus, urls.tempo, startedAt, Date.now() / 1000, { waitMs: 40_000 });
    figures['exemplar resolvability'] = describeResolvability(result);
    assertEveryExemplarResolves(result, MIN_EXEMPLARS);
  });

  test('every error trace and every trace over 1 s the test caused is in Tempo, whole (100 %)', async () => {
    const wanted = [...own, ...k6!.traces].filter((t) => t.error || t.slow);
    const [slow, errors] = [wanted.filter((t) => t.slow).length, wanted.filter((t) => t.error).length];
    assert.ok(slow >= MIN_SLOW_OR_ERROR && errors >= MIN_SLOW_OR_ERROR, `too few slow (${slow}) or error (${errors}) requests`);
    // Whole: every span the services define for its kind of order (trace-shapes.ts), k6's root included.
    const incomplete = async () => {
      const counts = await spanCountsOf(wanted, { start: startedAt - 60, end: Date.now() / 1000 + 60 });
      return wanted.filter((t) => totalOf(missingSpans(kindOf(t, counts.get(t.traceId)), counts.get(t.traceId)?.spans ?? {}, { fromK6: t.fromK6 })) > 0);
    };
    const missing = await eventually(
      async () => {
        const left = await incomplete();
        return left.length === 0 ? left : undefined;
      },
      'every error and slow trace whole in Tempo',
      40_000,
      3000,
    ).catch(incomplete);
    figures['error and slow traces whole in Tempo'] = `${wanted.length - missing.length} of ${wanted.length}`;
    assert.deepEqual(missing, [], 'error or slow traces the sampler dropped or cut');
  });

  test('the sampler drops the rest before Tempo; nothing is refused or fails', async () => {
    const counts = await telemetryCounters({ collector: urls.collectorMetrics, prometheus: urls.prometheus, tempo: urls.tempo });
    const { flow, losses } = counts;
    assertFlowed(counts, MIN_FLOW);
    const received = flow['Collector spans accepted']!;
    const stored = flow['Tempo spans accepted']!;
    figures['spans reaching Tempo'] = `${stored} of ${received} (${(100 * (1 - stored / received)).toFixed(1)} % dropped by the sampler)`;
    assert.ok(stored < 0.6 * received, `Tempo received ${stored} of ${received} spans`);
    assert.deepEqual(
      Object.entries(losses).filter(([, n]) => n > 0),
      [],
      'telemetry lost',
    );
  });

  test("RED from the span metrics agrees with the services' own histogram: equal counts, p99s within two percentiles", async () => {
    for (const service of SERVICES) {
      const spanMetrics = `traces_spanmetrics_latency_bucket{service="${service}", span_kind="SPAN_KIND_SERVER"}`;
      const ownHistogram = `http_request_duration_seconds_bucket{job="${service}"}`;
      const counts = {
        requests: [
          `sum(traces_spanmetrics_calls_total{service="${service}", span_kind="SPAN_KIND_SERVER"})`,
          `sum(http_request_duration_seconds_count{job="${service}"})`,
        ],
        errors: [
          `sum(traces_spanmetrics_calls_total{service="${service}", span_kind="SPAN_KIND_SERVER", status_code="STATUS_CODE_ERROR"}) or vector(0)`,
          `sum(http_request_duration_seconds_count{job="${service}", http_response_status_code=~"5.."}) or vector(0)`,
        ],
      };
      for (const [what, [fromSpans, fromService]] of Object.entries(counts)) {
        const read = async () => [await promValue(urls.prometheus, fromSpans!), await promValue(urls.prometheus, fromService!)] as const;
        // The span metrics are flushed every 15 s, the services' metrics every 5 s: equal once both
        // hold the last request.
        const [a, b] = await eventually(
          async () => {
            const values = await read();
            return countsAgree(what, ...values) ? values : undefined;
          },
          `${service} ${what}: span metrics against the service's histogram`,
          45_000,
          3000,
        ).catch(read);
        figures[`${service} ${what} (span metrics / service)`] = `${a} / ${b}`;
        assert.ok(countsAgree(what, a, b), `${service} ${what}: ${a} from span metrics, ${b} from the service`);
      }

      // The p99s are compared by rank: each one, looked up in the other histogram, must be at least
      // its p97 (span metrics missing slow requests fail one side, span metrics made only of kept,
      // slow traces the other). Compared by value they are not stable: a span also holds the http instrumentation's own
      // work before and after the request (tens of microseconds), so a few requests land one bucket
      // higher in the span metrics, and where the p99 falls in a sparsely filled bucket (pricing's
      // sits just above 10 ms) histogram_quantile's interpolation turns 1 % of requests into 15 %
      // of value. The rank differs by at most the share of requests that changed bucket.
      const p99 = (buckets: string) => `histogram_quantile(0.99, sum by (le) (${buckets}))`;
      const rankIn = (buckets: string, value: number) => `histogram_fraction(0, ${value}, sum by (le) (${buckets}))`;
      const read = async () => {
        const [a, b] = [await promValue(urls.prometheus, p99(spanMetrics)), await promValue(urls.prometheus, p99(ownHistogram))];
        return { a, b, rankOfA: await promValue(urls.prometheus, rankIn(ownHistogram, a)), rankOfB: await promValue(urls.prometheus, rankIn(spanMetrics, b)) };
      };
      const agree = ({ rankOfA, rankOfB }: Awaited<ReturnType<typeof read>>) => rankOfA >= 0.99 - RANK_TOLERANCE && rankOfB >= 0.99 - RANK_TOLERANCE;
      const p = await eventually(
        async () => {
          const reading = await read();
          return agree(reading) ? reading : undefined;
        },
        `${service} p99: span metrics against the service's histogram`,
        45_000,
        3000,
      ).catch(read);
      figures[`${service} p99 (span metrics / service)`] =
        `${p.a.toFixed(4)} / ${p.b.toFixed(4)} s, p${(100 * p.rankOfA).toFixed(1)} / p${(100 * p.rankOfB).toFixed(1)} of the other`;
      assert.ok(
        agree(p),
        `${service} p99: ${p.a} s from span metrics is the service's p${100 * p.rankOfA}; the service's ${p.b} s is the span metrics' p${100 * p.rankOfB}`,
      );
    }
  });

  test('the service graph counts every call between services', async () => {
    for (const server of ['inventory', 'pricing']) {
      const route = server === 'inventory' ? '/stock/:id' : '/price/:id';
      const edge = `sum(traces_service_graph_request_total{client="order", server="${server}"})`;
      const served = `sum(http_request_duration_seconds_count{job="${server}", http_route="${route}"})`;
      const [a, b] = await eventually(
        async () => {
          const values = [await promValue(urls.prometheus, edge), await promValue(urls.prometheus, served)] as const;
          return equalCounts(values[0], values[1]) ? values : undefined;
        },
        `order → ${server} against ${server}'s requests`,
        45_000,
        3000,
      ).catch(async () => [await promValue(urls.prometheus, edge), await promValue(urls.prometheus, served)] as const);
      figures[`order → ${server} (service graph / served)`] = `${a} / ${b}`;
      assert.ok(equalCounts(a, b), `order → ${server}: ${a} in the service graph, ${b} served`);
    }
  });
});
