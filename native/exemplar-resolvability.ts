// Whether an exemplar leads to the request it measured: the one definition that the tests, the
// benchmarks, `npm run exemplar-links` and the demo share.
//
// An exemplar resolves ("span found") when Tempo returns its trace AND that trace holds the span the
// exemplar names (its span id), from the service whose series carried the exemplar, as the kind of
// span the series measures: a SERVER span for the services' request-duration histogram. A trace id
// Tempo knows proves less than it seems: k6 puts its own root span into every trace it starts, so the
// trace exists in Tempo even when every span of the services was lost.
import { setTimeout as sleep } from 'node:timers/promises';
import { REQUEST_DURATION_HISTOGRAM, promExemplars, tempoTrace, type PromExemplarSeries, type TempoSpan } from './stack-apis.ts';

/** One exemplar, flattened with what its series says about the span it should lead to. */
export interface Exemplar {
  /** '' when the exemplar carries none. */
  traceId: string;
  /** '' when the exemplar carries none (Tempo's span metrics name only the trace). */
  spanId: string;
  /** The service whose series carried it: the series' job (the services' histogram) or service label (span metrics). */
  service: string;
  /** The kind of span the series measures: its span_kind label, else SERVER (the services' histogram times server requests). */
  spanKind: string;
  /** The measured value (seconds for the request-duration histogram). */
  value: number;
  /** Unix seconds. */
  timestamp: number;
}

// The Collector's remote write names them trace_id and span_id; Tempo's metrics-generator traceID.
const TRACE_ID_LABELS = ['trace_id', 'traceID', 'traceId'];
const SPAN_ID_LABELS = ['span_id', 'spanID', 'spanId'];
const firstOf = (labels: Record<string, string>, names: readonly string[]) => names.map((name) => labels[name]).find(Boolean) ?? '';

/** The exemplars of a query_exemplars answer, flattened. */
export function exemplarsOf(series: readonly PromExemplarSeries[]): Exemplar[] {
  return series.flatMap((entry) =>
    entry.exemplars.map((exemplar) => ({
      traceId: firstOf(exemplar.labels, TRACE_ID_LABELS),
      spanId: firstOf(exemplar.labels, SPAN_ID_LABELS),
      service: entry.seriesLabels.job ?? entry.seriesLabels.service ?? '',
      spanKind: entry.seriesLabels.span_kind ?? 'SPAN_KIND_SERVER',
      value: Number(exemplar.value),
      timestamp: exemplar.timestamp,
    })),
  );
}

/** What looking an exemplar up in Tempo found. Only 'span found' resolves. */
export type Verdict =
  | 'span found'
  | 'no trace id'
  | 'no span id'
  | 'trace not found'
  | 'span not in trace'
  | 'span from another service'
  | 'span of another kind'
  | 'no span of its service and kind';

/**
 * The verdict on one exemplar, given its trace's spans (undefined: Tempo does not know the trace).
 * An exemplar without a span id (Tempo's span metrics) resolves, with `allowMissingSpanId`, when the
 * trace holds a span of its series' service and kind; otherwise it is 'no span id'.
 */
export function verdictOf(exemplar: Exemplar, spans: readonly TempoSpan[] | undefined, options: { allowMissingSpanId?: boolean } = {}): Verdict {
  if (!exemplar.traceId) return 'no trace id';
  if (!exemplar.spanId && !options.allowMissingSpanId) return 'no span id';
  if (!spans) return 'trace not found';
  const matches = (span: TempoSpan) => span.service === exemplar.service && span.kind === exemplar.spanKind;
  if (!exemplar.spanId) return spans.some(matches) ? 'span found' : 'no span of its service and kind';
  const span = spans.find((candidate) => candidate.spanId === exemplar.spanId);
  if (!span) return 'span not in trace';
  if (span.service !== exemplar.service) return 'span from another service';
  return span.kind === exemplar.spanKind ? 'span found' : 'span of another kind';
}

/** What became of a set of exemplars in Tempo. */
export interface Resolvability {
  total: number;
  /** Exemplars whose own span was found ('span found'). */
  spanFound: number;
  /** Every exemplar that did not resolve, with its verdict after the last lookup. */
  unresolved: Array<Exemplar & { verdict: Verdict }>;
  /** Exemplars that resolved only after a wait: their spans were still on the way at the first lookup. */
  late: Array<Exemplar & { ageS: number }>;
}

/**
 * Looks every exemplar's trace up in Tempo, once; those that do not resolve are asked again every
 * 2 s until `waitMs` has passed (all together, so many dead links cost waitMs, not waitMs each), at
 * most 16 lookups at a time. Traces reach Tempo seconds after their request (export batching, a tail
 * sampler's decision wait), and the spans of one trace arrive separately from each service.
 */
export async function resolveExemplars(
  tempo: string,
  exemplars: readonly Exemplar[],
  options: { waitMs?: number; allowMissingSpanId?: boolean } = {},
): Promise<Resolvability> {
  const waitMs = options.waitMs ?? 30_000;
  const verdicts = new Map<Exemplar, Verdict>();
  const lookUp = async (pending: readonly Exemplar[]) => {
    const traceIds = [...new Set(pending.map((exemplar) => exemplar.traceId).filter(Boolean))];
    const traces = new Map<string, TempoSpan[] | undefined>();
    for (let i = 0; i < traceIds.length; i += 16) {
      const batch = traceIds.slice(i, i + 16);
      const found = await Promise.all(batch.map((id) => tempoTrace(tempo, id).catch(() => undefined)));
      for (const [j, id] of batch.entries()) traces.set(id, found[j]);
    }
    for (const exemplar of pending) verdicts.set(exemplar, verdictOf(exemplar, traces.get(exemplar.traceId), options));
  };
  const unresolved = () => exemplars.filter((exemplar) => verdicts.get(exemplar) !== 'span found');
  const lookedUpAt = Date.now() / 1000;
  await lookUp(exemplars);
  const notAtFirst = new Set(unresolved());
  const deadline = Date.now() + waitMs;
  // Without a trace id or a span id there is nothing to wait for.
  const waitable = () => unresolved().filter((exemplar) => verdicts.get(exemplar) !== 'no trace id' && verdicts.get(exemplar) !== 'no span id');
  while (waitable().length > 0 && Date.now() < deadline) {
    await sleep(2000);
    await lookUp(waitable());
  }
  const stillUnresolved = unresolved();
  return {
    total: exemplars.length,
    spanFound: exemplars.length - stillUnresolved.length,
    unresolved: stillUnresolved.map((exemplar) => ({ ...exemplar, verdict: verdicts.get(exemplar)! })),
    late: [...notAtFirst]
      .filter((exemplar) => verdicts.get(exemplar) === 'span found')
      .map((exemplar) => ({ ...exemplar, ageS: lookedUpAt - exemplar.timestamp })),
  };
}

/**
 * Every exemplar of `series` (default: the services' request-duration histogram) between start and
 * end (Unix s), resolved in Tempo (see resolveExemplars).
 */
export async function exemplarResolvability(
  prometheus: string,
  tempo: string,
  start: number,
  end: number,
  options: { waitMs?: number; series?: string; allowMissingSpanId?: boolean } = {},
): Promise<Resolvability> {
  const series = await promExemplars(prometheus, options.series ?? `${REQUEST_DURATION_HISTOGRAM}_bucket`, start, end);
  return resolveExemplars(tempo, exemplarsOf(series), options);
}

/** "100.0 % of 231 span found (12 only after a wait)", the figure every caller prints. */
export function describeResolvability(result: Resolvability): string {
  const share = result.total === 0 ? 'none' : `${((100 * result.spanFound) / result.total).toFixed(1)} %`;
  const late = result.late.length > 0 ? ` (${result.late.length} only after a wait)` : '';
  return `${share} of ${result.total} span found${late}${result.unresolved.length > 0 ? `; not: ${countVerdicts(result)}` : ''}`;
}

/** The unresolved exemplars counted by verdict: "trace not found 3, span not in trace 1". */
export function countVerdicts(result: Resolvability): string {
  const counts = new Map<Verdict, number>();
  for (const { verdict } of result.unresolved) counts.set(verdict, (counts.get(verdict) ?? 0) + 1);
  return [...counts].map(([verdict, n]) => `${verdict} ${n}`).join(', ');
}

/**
 * Throws unless at least `minimum` exemplars were looked at (a healthy run exceeds it by far: a
 * share of nothing proves nothing) and every one resolved.
 */
export function assertEveryExemplarResolves(result: Resolvability, minimum: number): void {
  if (result.total < minimum) throw new Error(`only ${result.total} exemplars, fewer than the ${minimum} a healthy run exceeds by far`);
  if (result.unresolved.length > 0) {
    const examples = result.unresolved.slice(0, 5).map((e) => `${e.service} ${e.traceId}/${e.spanId}: ${e.verdict}`);
    throw new Error(`${result.unresolved.length} of ${result.total} exemplars do not lead to their span (${countVerdicts(result)}): ${examples.join('; ')}`);
  }
}

/**
 * The exemplars of a job's request-duration histogram between start and end (Unix s) that name a
 * trace, slowest first: the demo's dots on the spike.
 */
export async function slowestExemplars(prometheus: string, job: string, start: number, end: number): Promise<Exemplar[]> {
  const series = await promExemplars(prometheus, `${REQUEST_DURATION_HISTOGRAM}_bucket{job="${job}"}`, start, end);
  return exemplarsOf(series ?? [])
    .filter((exemplar) => exemplar.traceId !== '')
    .sort((a, b) => b.value - a.value);
}
