// Sampling benchmark (not a test): the same load through the native stack with Tempo in three
// modes, one after the other in one run, and what each keeps.
//
//   keep everything   the default: every trace stored
//   10 % head         the services sample 10 % (parentbased_traceidratio), k6 sends no traceparent
//   sampling profile  otel-collector/sampling.yaml: tail sampling that keeps exemplars' traces
//
// For each: spans reaching Tempo per second, telemetry refused or failed anywhere, how many
// exemplars in Prometheus lead to a stored trace, Tempo's and the Collector's peak resident memory,
// and (sampling profile) RED from the span metrics against the services' own histogram.
//
//   npm run bench:sampling            (BENCH_RATE=500 BENCH_SECONDS=60)
import { setTimeout as sleep } from 'node:timers/promises';
import { startLoad } from '../../loadgen/run.ts';
import { describeResolvability, exemplarResolvability } from '../../native/exemplar-resolvability.ts';
import { promValue } from '../../native/stack-apis.ts';
import { telemetryCounters } from '../../native/telemetry-counters.ts';
import { componentPids, stackDown, stackUp, urls } from '../../native/stack.ts';
import { tempoSkipReason } from '../../native/tools.ts';
import { peakRssMiB } from './proc.ts';

const rate = Number(process.env.BENCH_RATE ?? 500);
const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const skip = tempoSkipReason();
if (skip) throw new Error(`the sampling benchmark needs Tempo: ${skip}`);

interface Mode {
  name: string;
  sampling: boolean;
  serviceEnv: Record<string, string>;
  k6Env: Record<string, string>;
}

const MODES: Mode[] = [
  { name: 'keep everything', sampling: false, serviceEnv: {}, k6Env: {} },
  {
    name: '10 % head',
    sampling: false,
    serviceEnv: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
    k6Env: { TRACEPARENT: 'off' },
  },
  { name: 'sampling profile', sampling: true, serviceEnv: {}, k6Env: {} },
];

/** Span-metric RED against the services' own histogram, summed over the three services. */
async function redAgreement(): Promise<string> {
  const pairs: Array<[string, string, string]> = [
    ['requests', 'sum(traces_spanmetrics_calls_total{span_kind="SPAN_KIND_SERVER"})', 'sum(http_request_duration_seconds_count)'],
    [
      'errors',
      'sum(traces_spanmetrics_calls_total{span_kind="SPAN_KIND_SERVER", status_code="STATUS_CODE_ERROR"})',
      'sum(http_request_duration_seconds_count{http_response_status_code=~"5.."})',
    ],
    [
      'order p99',
      'histogram_quantile(0.99, sum by (le) (traces_spanmetrics_latency_bucket{service="order", span_kind="SPAN_KIND_SERVER"}))',
      'histogram_quantile(0.99, sum by (le) (http_request_duration_seconds_bucket{job="order"}))',
    ],
  ];
  const parts: string[] = [];
  for (const [what, fromSpans, fromService] of pairs) {
    const [a, b] = [await promValue(urls.prometheus, fromSpans), await promValue(urls.prometheus, fromService)];
    parts.push(`${what} ${((100 * (a - b)) / b).toFixed(2)} %`);
  }
  return parts.join(', ');
}

console.log(`sampling benchmark: ${rate} req/s for ${seconds} s per mode, slow path at its default 2 %, native stack with Tempo`);
const rows: string[] = [];
for (const mode of MODES) {
  await stackUp({ fresh: true, sampling: mode.sampling, serviceEnv: mode.serviceEnv, log: () => undefined });
  try {
    const start = Date.now() / 1000;
    const before = await telemetryCounters({ collector: urls.collectorMetrics, prometheus: urls.prometheus, tempo: urls.tempo });
    const load = await startLoad({
      scenario: 'steady',
      orderUrl: urls.order,
      env: { RATE: String(rate), DURATION: `${seconds}s`, ...mode.k6Env },
      k6Args: ['--quiet'],
      remoteWrite: 'off',
      stdio: 'ignore',
    });
    await load.exited;
    const end = Date.now() / 1000;
    await sleep(25_000); // the last exports, the tail sampler's decision wait, span-metric flushes
    const after = await telemetryCounters({ collector: urls.collectorMetrics, prometheus: urls.prometheus, tempo: urls.tempo });
    if (after.absent.length > 0) throw new Error(`loss counters missing from the scrape: ${after.absent.join(', ')}`);
    const delta = (name: string, kind: 'flow' | 'losses') => (after[kind][name] ?? 0) - (before[kind][name] ?? 0);
    const received = delta('Collector spans accepted', 'flow');
    const stored = delta('Tempo spans accepted', 'flow');
    const lost = Object.keys(after.losses)
      .filter((name) => delta(name, 'losses') > 0)
      .map((name) => `${name} +${delta(name, 'losses')}`);
    const links = await exemplarResolvability(urls.prometheus, urls.tempo, start, end, { waitMs: 30_000 });
    const pids = componentPids();
    const tempoPeak = peakRssMiB(pids.tempo ?? 0);
    const collectorPeak = peakRssMiB(pids['otel-collector'] ?? 0);
    const red = mode.sampling ? await redAgreement() : 'n/a';
    rows.push(
      `${mode.name.padEnd(17)} ${(stored / seconds).toFixed(0).padStart(8)} spans/s to Tempo (of ${(received / seconds).toFixed(0)} received)  ` +
        `exemplars ${describeResolvability(links)}  peak RSS Tempo ${tempoPeak.toFixed(0)} MiB, Collector ${collectorPeak.toFixed(0)} MiB  ` +
        `lost: ${lost.join(', ') || 'none'}  RED from span metrics vs services: ${red}`,
    );
    console.log(rows.at(-1));
  } finally {
    await stackDown({ log: () => undefined });
  }
}
const [everything, , profile] = rows.map((row) => Number(/^\S.*?\s+(\d+) spans\/s/.exec(row)?.[1] ?? NaN));
console.log(
  `\nspans reaching Tempo, sampling profile against keep everything: cut by ${(100 * (1 - profile! / everything!)).toFixed(1)} % (target at least 85 %)`,
);
