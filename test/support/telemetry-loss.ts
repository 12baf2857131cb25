// Measuring what a fault cost: spans missing from Tempo for the requests k6 sent, requests missing
// from the Prometheus counters, and the services' resident memory while it lasted. For the fault
// tests (test/faults.test.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../../native/eventually.ts';
import { REQUEST_DURATION_HISTOGRAM, promQuery, scrapeSum, tempoMatchedSpans, tempoTrace } from '../../native/stack-apis.ts';
import { componentPids, urls } from '../../native/stack.ts';
import { rssMiB } from '../bench/proc.ts';
import { expectedShape, missingSpans, totalOf, type OrderKind, type SpanCounts } from './trace-shapes.ts';
import type { KnownTrace } from './traffic.ts';

export { totalOf, type SpanCounts };

/** The services whose spans a complete order trace holds (trace-shapes.ts). */
const TRACED_SERVICES = ['k6', 'order', 'inventory', 'pricing'];

/** What Tempo holds of one trace. */
export interface TraceFound {
  /** Its spans per service. */
  spans: SpanCounts;
  /**
   * The path inventory's get-stock span says it took (its `inventory.slow_path`), undefined if that
   * span is not found. The shape to expect follows it: k6's duration alone misjudges a normal order
   * that waited in a queue on a loaded machine for one on the slow path.
   */
  slowPath?: boolean;
}

/**
 * What Tempo holds of each trace, for traces whose spans started in [start, end] (Unix s). First one
 * TraceQL search per service and one per inventory path (tempoMatchedSpans): 5,000 lookups took
 * 45 s, the searches under 2 s. A search undercounts a trace Tempo holds in fragments (one part in a
 * block, the rest in another after a restart: Tempo keeps the largest fragment's count, not the
 * sum), so every trace the searches find incomplete is then looked up by id, which merges the
 * fragments: the counts are the lookups', with lookups only where they can differ. An absent trace
 * counts no spans; if any trace is incomplete, it is asked again once after `retryAfterMs`, for
 * spans still on their way.
 */
export async function spanCountsOf(
  traces: readonly KnownTrace[],
  window: { start: number; end: number },
  retryAfterMs = 5000,
): Promise<Map<string, TraceFound>> {
  const matching = (traceql: string) => tempoMatchedSpans(urls.tempo, traceql, window.start, window.end);
  const found = new Map<string, TraceFound>(traces.map((trace) => [trace.traceId, { spans: {} }]));
  for (const service of TRACED_SERVICES) {
    const matched = await matching(`{ resource.service.name = "${service}" }`);
    for (const [id, trace] of found) {
      const n = matched.get(id);
      if (n) trace.spans[service] = n;
    }
  }
  for (const slowPath of [true, false]) {
    const matched = await matching(`{ resource.service.name = "inventory" && span.inventory.slow_path = ${slowPath} }`);
    for (const [id, trace] of found) if (matched.has(id)) trace.slowPath = slowPath;
  }
  const incomplete = () =>
    traces.filter((trace) => totalOf(missingSpans(kindOf(trace, found.get(trace.traceId)), found.get(trace.traceId)!.spans, { fromK6: trace.fromK6 })) > 0);
  const lookUp = async (ids: readonly string[]) => {
    for (let i = 0; i < ids.length; i += 32) {
      await Promise.all(
        ids.slice(i, i + 32).map(async (id) => {
          const spans: SpanCounts = {};
          for (const span of (await tempoTrace(urls.tempo, id)) ?? []) spans[span.service] = (spans[span.service] ?? 0) + 1;
          found.get(id)!.spans = spans;
        }),
      );
    }
  };
  await lookUp(incomplete().map((trace) => trace.traceId));
  const left = incomplete();
  if (left.length > 0) {
    await sleep(retryAfterMs);
    await lookUp(left.map((trace) => trace.traceId));
  }
  return found;
}

/**
 * The kind of order a known request was, as the trace shapes name them: the path inventory's span
 * says it took, or, where that span is missing, whether k6 waited longer than its slow threshold.
 */
export const kindOf = (trace: KnownTrace, found?: TraceFound): OrderKind =>
  trace.error ? 'error path' : (found?.slowPath ?? trace.slow) ? 'slow path' : 'normal';

export interface SpanLoss {
  /** Spans missing, per service. */
  lost: SpanCounts;
  /** Traces with a span missing. */
  incompleteTraces: number;
  /** Spans expected in all. */
  expected: number;
  /** Traces compared. */
  traces: number;
}

/**
 * Compares each trace with the complete shape of its kind of order, as the services define it
 * (trace-shapes.ts), never with shapes read from the traces themselves.
 */
export function spanLoss(traces: readonly KnownTrace[], counts: Map<string, TraceFound>): SpanLoss {
  const loss: SpanLoss = { lost: {}, incompleteTraces: 0, expected: 0, traces: traces.length };
  for (const trace of traces) {
    const found = counts.get(trace.traceId);
    const options = { fromK6: trace.fromK6 };
    loss.expected += totalOf(expectedShape(kindOf(trace, found), found?.spans ?? {}, options));
    const missing = missingSpans(kindOf(trace, found), found?.spans ?? {}, options);
    for (const [service, n] of Object.entries(missing)) loss.lost[service] = (loss.lost[service] ?? 0) + n;
    if (totalOf(missing) > 0) loss.incompleteTraces++;
  }
  return loss;
}

/**
 * Order's request counter as Prometheus holds it now: the /orders/:id requests the service counted
 * (cumulative, all statuses), and the time of its newest sample.
 */
async function orderRequestsCounted(): Promise<{ value: number; at: number }> {
  const { result } = await promQuery(urls.prometheus, `sum(${REQUEST_DURATION_HISTOGRAM}_count{job="order", http_route="/orders/:id"})`);
  const timestamp = await promQuery(urls.prometheus, `max(timestamp(${REQUEST_DURATION_HISTOGRAM}_count{job="order", http_route="/orders/:id"}))`);
  return { value: Number(result[0]?.value[1] ?? 0), at: Number(timestamp.result[0]?.value[1] ?? 0) };
}

/** Waits until the counter has a sample newer than `after` (Unix s), then returns it. */
export async function orderRequestsCountedAfter(after: number, timeoutMs = 60_000): Promise<number> {
  const counted = await eventually(
    async () => {
      const latest = await orderRequestsCounted();
      return latest.at > after && latest;
    },
    `a sample of order's request counter after ${new Date(after * 1000).toISOString()}`,
    timeoutMs,
    1000,
  );
  return counted.value;
}

/**
 * Waits until the Collector holds no spans for Tempo (its exporter queue is empty and Tempo's
 * accepted-spans counter stands still for 3 s): what was queued during a fault has been delivered.
 */
export async function waitUntilSpansDelivered(timeoutMs = 90_000): Promise<void> {
  let last = -1;
  await eventually(
    async () => {
      const queued = await scrapeSum(urls.collectorMetrics, 'otelcol_exporter_queue_size');
      const accepted = await scrapeSum(`${urls.tempo}/metrics`, 'tempo_receiver_accepted_spans');
      const still = queued === 0 && accepted === last;
      last = accepted;
      return still;
    },
    'the spans queued in the Collector to reach Tempo',
    timeoutMs,
    3000,
  );
}

/** Samples the resident memory of the running components every 500 ms; `stop` returns the peaks (MiB). */
export function sampleResidentMemory(): { stop: () => Record<string, number> } {
  const peaks: Record<string, number> = {};
  const sample = () => {
    for (const [name, pid] of Object.entries(componentPids())) peaks[name] = Math.max(peaks[name] ?? 0, rssMiB(pid));
  };
  sample();
  const timer = setInterval(sample, 500);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return peaks;
    },
  };
}
