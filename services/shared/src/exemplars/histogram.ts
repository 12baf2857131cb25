// A histogram with exemplars, in the shape of the API's Histogram: record(value, attributes?,
// context?). It records into the SDK histogram (counts, sum and buckets exactly as the SDK's) and,
// as the SDK's own reservoirs will once they are wired, offers the measurement with the span of
// `context` (default: the active one) to the histogram's reservoir.
//
// The mark: when the reservoir keeps a measurement as an exemplar, the span it was measured in gets
// the boolean attribute `<histogram name>.exemplar` = true (for the request histogram,
// `http.request.duration.exemplar`), set while the span is still open. A tail sampler can then keep
// exactly the traces that exemplars point at (otel-collector/sampling.yaml). Only a recording span
// can be marked: under head sampling the exemplars of unsampled requests carry no mark, and point
// at traces nobody stored.
import { context as contextApi, trace, TraceFlags, type Attributes, type Histogram, type Meter, type MetricOptions } from '@opentelemetry/api';
import { normaliseBoundaries, SDK_DEFAULT_HISTOGRAM_BOUNDARIES } from './buckets.ts';
import type { ExemplarStore } from './store.ts';

const INVALID_TRACE_ID = '00000000000000000000000000000000';
const INVALID_SPAN_ID = '0000000000000000';
const NO_ATTRIBUTES: Attributes = Object.freeze({});

/** The span attribute that marks a measurement kept as an exemplar of the histogram `name`. */
export function exemplarMarkOf(name: string): string {
  return `${name}.exemplar`;
}

/**
 * Creates the SDK histogram `name` on `meter`, with a reservoir in `store` whose buckets follow
 * `options.advice.explicitBucketBoundaries` (else the SDK's defaults). A View that changes the
 * buckets is not seen here; exemplars then still export, one per reservoir bucket.
 */
export function createExemplarHistogram(meter: Meter, name: string, options: MetricOptions, store: ExemplarStore): Histogram {
  const histogram = meter.createHistogram(name, options);
  const reservoir = store.reservoir(name, normaliseBoundaries(options.advice?.explicitBucketBoundaries ?? SDK_DEFAULT_HISTOGRAM_BOUNDARIES));
  const mark = exemplarMarkOf(name);
  const filter = store.filter;
  return {
    record(value, attributes = NO_ATTRIBUTES, context = contextApi.active()) {
      histogram.record(value, attributes, context);
      // The SDK histogram ignores NaN and negative values; so do the exemplars.
      if (filter === 'always_off' || !(value >= 0)) return;
      const span = trace.getSpan(context);
      let traceId: string | undefined;
      let spanId: string | undefined;
      let sampled = false;
      if (span !== undefined) {
        const spanContext = span.spanContext();
        if (spanContext.traceId !== INVALID_TRACE_ID && spanContext.spanId !== INVALID_SPAN_ID) {
          traceId = spanContext.traceId;
          spanId = spanContext.spanId;
          sampled = (spanContext.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
        }
      }
      if (filter === 'trace_based' && !sampled) return;
      if (reservoir.offer(value, attributes, traceId, spanId) && span?.isRecording()) span.setAttribute(mark, true);
    },
  };
}
