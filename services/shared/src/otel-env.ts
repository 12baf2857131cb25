// The standard OTEL_* variables of the trace SDK and the metric reader, read as the specification
// defines them (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/).
//
// telemetry.ts builds the SDK from its parts rather than with @opentelemetry/sdk-node's NodeSDK,
// which imports every exporter it could be asked for (logs, Zipkin, Prometheus, B3, OTLP over
// each protocol): 13 packages the services never use, 5 to 8 MiB of each one's memory. NodeSDK
// reads these variables; so does this module, with the same defaults. Not read here:
// OTEL_TRACES_EXPORTER and OTEL_*_PROTOCOL (the services export OTLP/gRPC, see telemetry.ts),
// OTEL_NODE_RESOURCE_DETECTORS, and the B3 propagators.
import { diag, type TextMapPropagator } from '@opentelemetry/api';
import {
  CompositePropagator,
  getNumberFromEnv,
  getStringFromEnv,
  getStringListFromEnv,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type BatchSpanProcessorOptions,
  type Sampler,
  type SpanLimits,
} from '@opentelemetry/sdk-trace';

/** OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG; undefined means the SDK default, parentbased_always_on. */
export function samplerFromEnv(): Sampler | undefined {
  const name = getStringFromEnv('OTEL_TRACES_SAMPLER');
  switch (name) {
    case undefined:
      return undefined;
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(samplerRatioFromEnv());
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(samplerRatioFromEnv()) });
    default:
      diag.error(`OTEL_TRACES_SAMPLER="${name}" is not a sampler this service knows; using parentbased_always_on`);
      return undefined;
  }
}

function samplerRatioFromEnv(): number {
  const ratio = getNumberFromEnv('OTEL_TRACES_SAMPLER_ARG');
  if (ratio !== undefined && ratio >= 0 && ratio <= 1) return ratio;
  diag.error(`OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1, got ${JSON.stringify(process.env.OTEL_TRACES_SAMPLER_ARG ?? '')}; using 1`);
  return 1;
}

/** OTEL_PROPAGATORS: tracecontext and baggage (the default) or none; null means no propagator. */
export function propagatorFromEnv(): TextMapPropagator | null {
  const names = new Set(getStringListFromEnv('OTEL_PROPAGATORS') ?? []);
  if (names.size === 0) names.add('tracecontext').add('baggage');
  if (names.has('none')) return null;
  const propagators: TextMapPropagator[] = [];
  for (const name of names) {
    if (name === 'tracecontext') propagators.push(new W3CTraceContextPropagator());
    else if (name === 'baggage') propagators.push(new W3CBaggagePropagator());
    else diag.warn(`OTEL_PROPAGATORS: "${name}" is not supported here (tracecontext, baggage, none); ignored`);
  }
  return propagators.length === 0 ? null : new CompositePropagator({ propagators });
}

/** OTEL_SPAN_*_LIMIT and OTEL_ATTRIBUTE_*_LIMIT: undefined leaves the SDK default. */
export function spanLimitsFromEnv(): SpanLimits {
  return {
    attributeCountLimit: getNumberFromEnv('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT') ?? getNumberFromEnv('OTEL_ATTRIBUTE_COUNT_LIMIT'),
    attributeValueLengthLimit: getNumberFromEnv('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT') ?? getNumberFromEnv('OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT'),
    eventCountLimit: getNumberFromEnv('OTEL_SPAN_EVENT_COUNT_LIMIT'),
    linkCountLimit: getNumberFromEnv('OTEL_SPAN_LINK_COUNT_LIMIT'),
    attributePerEventCountLimit: getNumberFromEnv('OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT'),
    attributePerLinkCountLimit: getNumberFromEnv('OTEL_LINK_ATTRIBUTE_COUNT_LIMIT'),
  };
}

/** OTEL_BSP_*: undefined (or a negative number) leaves the batch span processor's default. */
export function batchSpanProcessorOptionsFromEnv(): Omit<BatchSpanProcessorOptions, 'exporter'> {
  const nonNegative = (name: string) => {
    const value = getNumberFromEnv(name);
    return value !== undefined && value >= 0 ? value : undefined;
  };
  return {
    maxQueueSize: nonNegative('OTEL_BSP_MAX_QUEUE_SIZE'),
    maxExportBatchSize: nonNegative('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
    scheduledDelayMillis: nonNegative('OTEL_BSP_SCHEDULE_DELAY'),
    exportTimeoutMillis: nonNegative('OTEL_BSP_EXPORT_TIMEOUT'),
  };
}

/** OTEL_METRIC_EXPORT_INTERVAL in milliseconds; unset, invalid, infinite or not positive gives `fallback`. */
export function metricExportIntervalFromEnv(fallback: number): number {
  const interval = getNumberFromEnv('OTEL_METRIC_EXPORT_INTERVAL');
  return interval !== undefined && Number.isFinite(interval) && interval > 0 ? interval : fallback;
}
