// The standard OTEL_* variables that services/shared/src/otel-env.ts reads in place of NodeSDK:
// each value the specification names gives its sampler, propagator or setting, and anything else
// falls back to the SDK default with a diagnostic instead of failing the service.
import { ROOT_CONTEXT, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, SamplingDecision, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  batchSpanProcessorOptionsFromEnv,
  metricExportIntervalFromEnv,
  propagatorFromEnv,
  samplerFromEnv,
  spanLimitsFromEnv,
} from '../services/shared/src/otel-env.ts';

const VARIABLES = [
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_PROPAGATORS',
  'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_BSP_SCHEDULE_DELAY',
  'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
  'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
  'OTEL_ATTRIBUTE_COUNT_LIMIT',
  'OTEL_METRIC_EXPORT_INTERVAL',
];
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
/** What the sampler decides for a root span and for the child of a sampled remote parent. */
function decisions(sampler: ReturnType<typeof samplerFromEnv>) {
  assert.ok(sampler);
  const sampledParent = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED, isRemote: true });
  return {
    root: sampler.shouldSample(ROOT_CONTEXT, TRACE_ID, 'root', SpanKind.SERVER, {}, []).decision,
    child: sampler.shouldSample(sampledParent, TRACE_ID, 'child', SpanKind.SERVER, {}, []).decision,
  };
}

describe('OTEL_TRACES_SAMPLER', () => {
  test('unset leaves the SDK default (parentbased_always_on)', () => {
    delete process.env.OTEL_TRACES_SAMPLER;
    assert.equal(samplerFromEnv(), undefined);
  });

  test('each sampler the specification names', () => {
    process.env.OTEL_TRACES_SAMPLER_ARG = '0';
    const expected = {
      always_on: [AlwaysOnSampler, SamplingDecision.RECORD_AND_SAMPLED, SamplingDecision.RECORD_AND_SAMPLED],
      always_off: [AlwaysOffSampler, SamplingDecision.NOT_RECORD, SamplingDecision.NOT_RECORD],
      traceidratio: [TraceIdRatioBasedSampler, SamplingDecision.NOT_RECORD, SamplingDecision.NOT_RECORD],
      parentbased_always_on: [ParentBasedSampler, SamplingDecision.RECORD_AND_SAMPLED, SamplingDecision.RECORD_AND_SAMPLED],
      parentbased_always_off: [ParentBasedSampler, SamplingDecision.NOT_RECORD, SamplingDecision.RECORD_AND_SAMPLED],
      parentbased_traceidratio: [ParentBasedSampler, SamplingDecision.NOT_RECORD, SamplingDecision.RECORD_AND_SAMPLED],
    } as const;
    for (const [name, [type, root, child]] of Object.entries(expected)) {
      process.env.OTEL_TRACES_SAMPLER = name;
      const sampler = samplerFromEnv();
      assert.ok(sampler instanceof type, `${name} gives ${sampler?.toString()}`);
      assert.deepEqual(decisions(sampler), { root, child }, name);
    }
  });

  test('the ratio comes from OTEL_TRACES_SAMPLER_ARG; a missing or out-of-range ratio is 1', () => {
    process.env.OTEL_TRACES_SAMPLER = 'traceidratio';
    process.env.OTEL_TRACES_SAMPLER_ARG = '0.1';
    assert.match(String(samplerFromEnv()), /TraceIdRatioBased\{0\.1\}/);
    for (const bad of ['', '1.5', '-1', 'half']) {
      process.env.OTEL_TRACES_SAMPLER_ARG = bad;
      assert.match(String(samplerFromEnv()), /TraceIdRatioBased\{1\}/, `OTEL_TRACES_SAMPLER_ARG=${bad}`);
    }
  });

  test('an unknown name leaves the default instead of failing the service', () => {
    process.env.OTEL_TRACES_SAMPLER = 'jaeger_remote';
    assert.equal(samplerFromEnv(), undefined);
  });
});

describe('OTEL_PROPAGATORS', () => {
  const fieldsOf = () => propagatorFromEnv()?.fields().sort();

  test('tracecontext and baggage by default, or as listed', () => {
    delete process.env.OTEL_PROPAGATORS;
    assert.deepEqual(fieldsOf(), ['baggage', 'traceparent', 'tracestate']);
    process.env.OTEL_PROPAGATORS = 'tracecontext';
    assert.deepEqual(fieldsOf(), ['traceparent', 'tracestate']);
  });

  test('none, or only names not supported here, gives no propagator', () => {
    process.env.OTEL_PROPAGATORS = 'tracecontext,none';
    assert.equal(propagatorFromEnv(), null);
    process.env.OTEL_PROPAGATORS = 'b3';
    assert.equal(propagatorFromEnv(), null);
  });
});

test('OTEL_BSP_* and the span limits are numbers, left undefined when unset or invalid', () => {
  process.env.OTEL_BSP_MAX_QUEUE_SIZE = '4096';
  process.env.OTEL_BSP_SCHEDULE_DELAY = '-5';
  const bsp = batchSpanProcessorOptionsFromEnv();
  assert.equal(bsp.maxQueueSize, 4096);
  assert.equal(bsp.scheduledDelayMillis, undefined);
  process.env.OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT = '256';
  process.env.OTEL_ATTRIBUTE_COUNT_LIMIT = '64';
  assert.equal(spanLimitsFromEnv().attributeValueLengthLimit, 256);
  process.env.OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT = '128';
  const limits = spanLimitsFromEnv();
  assert.equal(limits.attributeValueLengthLimit, 128, 'the span-specific variable wins');
  assert.equal(limits.attributeCountLimit, 64);
  assert.equal(limits.eventCountLimit, undefined);
});

test('OTEL_METRIC_EXPORT_INTERVAL is a positive number of milliseconds, else the service default', () => {
  delete process.env.OTEL_METRIC_EXPORT_INTERVAL;
  assert.equal(metricExportIntervalFromEnv(5000), 5000);
  process.env.OTEL_METRIC_EXPORT_INTERVAL = '2000';
  assert.equal(metricExportIntervalFromEnv(5000), 2000);
  for (const invalid of ['0', '-1', 'soon', 'Infinity', ' ']) {
    process.env.OTEL_METRIC_EXPORT_INTERVAL = invalid;
    assert.equal(metricExportIntervalFromEnv(5000), 5000, JSON.stringify(invalid));
  }
});
