// A histogram that records into the SDK instrument (counts, sum, buckets: unchanged SDK
// behaviour) and offers the same measurement to the exemplar reservoir of its store.
import { context, trace, type Attributes, type Histogram, type Meter, type MetricOptions, type SpanContext } from "@opentelemetry/api";
import { getDefaultExemplarStore, type ExemplarInstrument, type ExemplarStore } from "./store.ts";

/** The SDK's default explicit bucket boundaries, used when no advice is given. */
export const SDK_DEFAULT_HISTOGRAM_BOUNDARIES: readonly number[] = Object.freeze([
  0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000,
]);

export interface ExemplarHistogram {
  /** The SDK histogram. */
  readonly histogram: Histogram;
  /** Its exemplar reservoir. */
  readonly exemplars: ExemplarInstrument;
  /**
   * Records `value` into the SDK histogram and offers it as an exemplar.
   * @param spanContext the span the measurement belongs to; `undefined` looks up the active
   *   span, `null` means "no span".
   * @param time when the measurement was made, on the store's clock (`store.clock.now()`), if
   *   the caller has just read it; default: now.
   */
  record(value: number, attributes?: Attributes, spanContext?: SpanContext | null, time?: number): void;
}

/** Boundaries as the SDK uses them: sorted, without infinities. */
function normaliseBoundaries(boundaries: readonly number[]): number[] {
  const sorted = [...boundaries].sort((a, b) => a - b);
  return sorted.filter((b) => Number.isFinite(b));
}

const NO_ATTRIBUTES: Attributes = Object.freeze({});

/**
 * Creates the SDK histogram `name` on `meter` and registers its exemplar reservoir in `store`.
 * The reservoir's buckets follow `options.advice.explicitBucketBoundaries` (else the SDK
 * defaults). A View that changes the buckets is not seen here; exemplars then still export, one
 * per reservoir bucket.
 */
export function createExemplarHistogram(
  meter: Meter,
  name: string,
  options: MetricOptions = {},
  store: ExemplarStore = getDefaultExemplarStore(),
): ExemplarHistogram {
  const histogram = meter.createHistogram(name, options);
  const boundaries = normaliseBoundaries(options.advice?.explicitBucketBoundaries ?? SDK_DEFAULT_HISTOGRAM_BOUNDARIES);
  const exemplars = store.instrument(name, boundaries);
  return {
    histogram,
    exemplars,
    record(value, attributes = NO_ATTRIBUTES, spanContext, time) {
      histogram.record(value, attributes);
      exemplars.offer(value, attributes, spanContext === undefined ? trace.getSpanContext(context.active()) : spanContext, time);
    },
  };
}
