// The exemplar stopgap (services/shared/src/exemplars/) and the request-duration middleware.
//
// The exported bytes are checked with an independent decoder: otlp-decode, a Go program built on
// the official OTLP types (go.opentelemetry.io/proto/otlp), built by `npm run tools`
// (test/support/otlp-decode.ts).
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, ROOT_CONTEXT, trace, TraceFlags, ValueType, type Attributes, type Context, type SpanContext } from '@opentelemetry/api';
import { RPCType, setRPCMetadata } from '@opentelemetry/core';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  AggregationType,
  DataPointType,
  InstrumentType,
  MeterProvider,
  MetricReader,
  type HistogramMetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { StackContextManager, TracerProvider } from '@opentelemetry/sdk-trace';
import express, { type ErrorRequestHandler } from 'express';
import {
  createExemplarHistogram,
  createExemplarMetricExporter,
  createExemplarSerializer,
  exemplarFilterFromEnv,
  ExemplarStore,
  otlpMetricsTypes,
  type ExemplarClock,
  type ExemplarFilter,
} from '../services/shared/src/exemplars/index.ts';
import {
  HTTP_REQUEST_DURATION,
  HTTP_REQUEST_DURATION_BUCKETS,
  HTTP_REQUEST_DURATION_OPTIONS,
  requestDurationMiddleware,
} from '../services/shared/src/request-metrics.ts';
import { goDecode, idHex, metricsOf, type Json } from './support/otlp-decode.ts';

// ---- helpers ---------------------------------------------------------------------------------

/** A reader the test collects from by hand. */
class ManualReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

async function collect(reader: MetricReader): Promise<ResourceMetrics> {
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  return resourceMetrics;
}

function metricNamed(request: Json, name: string): Json {
  const metric = metricsOf(request).find((m) => m.name === name);
  assert.ok(metric, `metric ${name} in ${JSON.stringify(metricsOf(request).map((m) => m.name))}`);
  return metric;
}

/** Attributes of a protojson data point as a plain object. */
function attrs(point: Json): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of point.attributes ?? []) {
    const v = kv.value ?? {};
    out[kv.key] = v.stringValue ?? v.boolValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.doubleValue);
  }
  return out;
}

function pointWith(metric: Json, wanted: Record<string, unknown>): Json {
  const point = metric.histogram.dataPoints.find((p: Json) => Object.entries(wanted).every(([k, v]) => attrs(p)[k] === v));
  assert.ok(point, `data point ${JSON.stringify(wanted)} in ${JSON.stringify(metric.histogram.dataPoints.map(attrs))}`);
  return point;
}

/** Index of the bucket of `value` in a protojson HistogramDataPoint (upper bounds inclusive). */
function bucketOf(point: Json, value: number): number {
  const bounds: number[] = point.explicitBounds;
  const i = bounds.findIndex((b) => value <= b);
  return i === -1 ? bounds.length : i;
}

const BOUNDARIES = [...HTTP_REQUEST_DURATION_BUCKETS];
const HISTOGRAM_OPTIONS = HTTP_REQUEST_DURATION_OPTIONS;

const GET_ORDER = { 'http.request.method': 'GET', 'http.route': '/orders/:id', 'http.response.status_code': 200 };
const GET_STOCK_500 = { 'http.request.method': 'GET', 'http.route': '/stock/:id', 'http.response.status_code': 500 };

function fakeSpan(traceFlags: number, seed = 1): SpanContext {
  const hex = (n: number, len: number) =>
    n
      .toString(16)
      .padStart(2, '0')
      .repeat(len / 2);
  return { traceId: hex(seed, 32), spanId: hex(seed + 16, 16), traceFlags };
}

/** A context whose span is `span` (as record(value, attributes, context) takes it); null: no span. */
function inSpan(span: SpanContext | null): Context {
  return span === null ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, span);
}

/** A store plus a MeterProvider with the exemplar histogram http.request.duration. */
function setup(storeOptions: { filter?: ExemplarFilter; maxAttributeSets?: number; clock?: ExemplarClock } = {}) {
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const store = new ExemplarStore({ filter: 'always_on', ...storeOptions });
  const histogram = createExemplarHistogram(meterProvider.getMeter('exemplar-test'), HTTP_REQUEST_DURATION, HISTOGRAM_OPTIONS, store);
  const serializer = createExemplarSerializer(store);
  const exportOnce = async (): Promise<Uint8Array> => serializer.serializeRequest(await collect(reader))!;
  return { reader, meterProvider, store, histogram, serializer, exportOnce };
}

// StackContextManager follows context through synchronous calls only, which is all these tests
// need (context.with around a record, or around express's synchronous next()).
const contextManager = new StackContextManager();
before(() => {
  context.setGlobalContextManager(contextManager.enable());
});
after(() => {
  context.disable();
});

// ---- (1) the exported bytes, decoded by the official OTLP types -------------------------------

describe('exemplar serializer output, decoded by the official OTLP Go types', () => {
  test('histogram data points carry the first exemplar per bucket with trace id, span id, seconds and time', async () => {
    const tracerProvider = new TracerProvider();
    const tracer = tracerProvider.getTracer('exemplar-test');
    const { reader, meterProvider, store, histogram, serializer } = setup();

    const spanA = tracer.startSpan('a');
    const spanB = tracer.startSpan('b');
    const spanC = tracer.startSpan('c');
    const spanD = tracer.startSpan('d');
    histogram.record(0.04, GET_ORDER, trace.setSpan(ROOT_CONTEXT, spanA)); // bucket (0.025, 0.05]
    histogram.record(2.7, GET_ORDER, trace.setSpan(ROOT_CONTEXT, spanB)); // bucket (2.5, 3.5]
    // Inside an active span: record() finds it itself. Same bucket as A, later: A stays.
    context.with(trace.setSpan(context.active(), spanC), () => histogram.record(0.045, GET_ORDER));
    histogram.record(12, GET_ORDER, ROOT_CONTEXT); // overflow bucket, outside any span
    context.with(trace.setSpan(context.active(), spanD), () => histogram.record(0.2, GET_STOCK_500));
    for (const span of [spanA, spanB, spanC, spanD]) span.end();

    const resourceMetrics = await collect(reader);
    const decoded = goDecode(serializer.serializeRequest(resourceMetrics)!);
    const metric = metricNamed(decoded, HTTP_REQUEST_DURATION);
    assert.equal(metric.unit, 's');
    assert.equal(metric.histogram.aggregationTemporality, 'AGGREGATION_TEMPORALITY_CUMULATIVE');

    const orders = pointWith(metric, GET_ORDER);
    assert.deepEqual(orders.explicitBounds, BOUNDARIES);
    const exemplars = orders.exemplars.map((e: Json) => ({ value: e.asDouble, traceId: idHex(e.traceId), spanId: idHex(e.spanId) }));
    assert.deepEqual(exemplars, [
      { value: 0.04, traceId: spanA.spanContext().traceId, spanId: spanA.spanContext().spanId },
      { value: 2.7, traceId: spanB.spanContext().traceId, spanId: spanB.spanContext().spanId },
      { value: 12, traceId: undefined, spanId: undefined },
    ]);
    // Each exemplar sits in a bucket the data point counted, and in its time window.
    assert.deepEqual(
      orders.exemplars.map((e: Json) => bucketOf(orders, e.asDouble)),
      [3, 14, BOUNDARIES.length],
    );
    for (const e of orders.exemplars) {
      assert.ok(Number(orders.bucketCounts[bucketOf(orders, e.asDouble)]) >= 1, `bucket of ${e.asDouble} counted`);
      assert.match(e.timeUnixNano, /^\d+$/);
      // The SDK stamps data points with Date.now() (whole ms); allow for that granularity.
      const t = BigInt(e.timeUnixNano);
      const slack = 5_000_000n;
      assert.ok(t >= BigInt(orders.startTimeUnixNano) - slack && t <= BigInt(orders.timeUnixNano) + slack, `exemplar time ${t} inside the data point's window`);
      assert.ok(t > BigInt(Date.now() - 60_000) * 1_000_000n, 'exemplar time is wall-clock time in nanoseconds');
    }

    const stock = pointWith(metric, GET_STOCK_500);
    assert.equal(stock.exemplars.length, 1);
    assert.equal(stock.exemplars[0].asDouble, 0.2);
    assert.equal(idHex(stock.exemplars[0].traceId), spanD.spanContext().traceId);
    assert.equal(idHex(stock.exemplars[0].spanId), spanD.spanContext().spanId);
    assert.equal(store.pending, 0, 'every exemplar left the store when serialized');

    await meterProvider.shutdown();
    await tracerProvider.shutdown();
  });

  test('a value exactly on a bucket bound lands in the bucket that bound closes, where the SDK counts it', async () => {
    // Bounds are inclusive upper bounds: 0.05 belongs to (0.025, 0.05], not to (0.05, 0.075]. The
    // exported exemplars carry no bucket, so only a second measurement in the same bucket shows
    // where the reservoir put the first: record the bound (span A), then a value just inside its
    // bucket (span B). Right: one exemplar, A's (first per bucket). Off by one: two.
    const { histogram, exportOnce, meterProvider } = setup();
    const spanA = (i: number) => fakeSpan(TraceFlags.SAMPLED, 1 + 2 * i);
    const spanB = (i: number) => fakeSpan(TraceFlags.SAMPLED, 2 + 2 * i);
    const routeOf = (i: number) => ({ ...GET_ORDER, 'http.route': `/bound/${i}` });
    for (const [i, bound] of BOUNDARIES.entries()) {
      histogram.record(bound, routeOf(i), inSpan(spanA(i)));
      histogram.record((bound + (BOUNDARIES[i - 1] ?? 0)) / 2, routeOf(i), inSpan(spanB(i)));
    }
    const metric = metricNamed(goDecode(await exportOnce()), HTTP_REQUEST_DURATION);
    for (const [i, bound] of BOUNDARIES.entries()) {
      const point = pointWith(metric, routeOf(i));
      assert.deepEqual(point.explicitBounds, BOUNDARIES);
      assert.equal(point.bucketCounts[i], '2', `the SDK counts ${bound} and the value below it in bucket ${i}`);
      assert.deepEqual(
        point.exemplars.map((e: Json) => ({ value: e.asDouble, spanId: idHex(e.spanId) })),
        [{ value: bound, spanId: spanA(i).spanId }],
        `bucket ${i} up to ${bound} keeps its first measurement, ${bound}`,
      );
    }
    await meterProvider.shutdown();
  });

  test('decoding and re-encoding loses nothing: every metric kind, resource and scope round-trip', async () => {
    const reader = new ManualReader();
    const meterProvider = new MeterProvider({
      readers: [reader],
      resource: resourceFromAttributes({
        'service.name': 'exemplar-test',
        'test.bool': true,
        'test.int': 42,
        'test.negative': -7,
        'test.double': 1.5,
        'test.strings': ['a', 'b'],
        'test.numbers': [1, 2.5],
      }),
      views: [{ instrumentName: 'test.payload.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
    });
    const store = new ExemplarStore({ filter: 'always_on' });
    const meter = meterProvider.getMeter('exemplar-test', '1.2.3', { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
    const histogram = createExemplarHistogram(meter, HTTP_REQUEST_DURATION, { ...HISTOGRAM_OPTIONS, description: 'Duration of HTTP server requests.' }, store);
    meter.createCounter('test.requests', { valueType: ValueType.INT, description: 'int sum' }).add(3, { kind: 'x', flag: false });
    meter.createUpDownCounter('test.inflight').add(-2.5, { n: 1 });
    meter.createGauge('test.temperature', { unit: 'Cel' }).record(21.5, { room: 'a' });
    meter.createObservableGauge('test.queue').addCallback((result) => result.observe(7, { q: 'orders' }));
    const payload = meter.createHistogram('test.payload.size', { unit: 'By' });
    for (const v of [0, 100, 2000, 2000]) payload.record(v, { codec: 'json' });
    histogram.record(0.3, GET_ORDER, inSpan(fakeSpan(TraceFlags.SAMPLED)));

    const resourceMetrics = await collect(reader);
    const stock = goDecode(ProtobufMetricsSerializer.serializeRequest(resourceMetrics)!);
    const ours = goDecode(createExemplarSerializer(store).serializeRequest(resourceMetrics)!);

    const kinds = metricsOf(stock).map((m) => Object.keys(m).find((k) => ['sum', 'gauge', 'histogram', 'exponentialHistogram'].includes(k)));
    assert.deepEqual(new Set(kinds), new Set(['sum', 'gauge', 'histogram', 'exponentialHistogram']));
    const resourceValueKinds = new Set(stock.resourceMetrics[0].resource.attributes.map((kv: Json) => Object.keys(kv.value)[0]));
    assert.deepEqual(resourceValueKinds, new Set(['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue']));
    assert.equal(stock.resourceMetrics[0].scopeMetrics[0].scope.version, '1.2.3');

    // Ours = stock + exemplars, nothing else.
    const exemplarsFound = metricNamed(ours, HTTP_REQUEST_DURATION).histogram.dataPoints[0].exemplars;
    assert.equal(exemplarsFound.length, 1);
    for (const metric of metricsOf(ours)) for (const point of metric.histogram?.dataPoints ?? []) delete point.exemplars;
    assert.deepEqual(ours, stock);
    await meterProvider.shutdown();
  });

  test('the kept .proto also encodes summaries and every AnyValue kind as the official types read them', () => {
    // In OTLP/JSON's spelling, which is also what the Go decoder prints back.
    const summaryPoint = {
      attributes: [{ key: 'm', value: { stringValue: 'get' } }],
      startTimeUnixNano: '1700000000000000000',
      timeUnixNano: '1700000005000000001',
      count: '10',
      sum: 4.5,
      quantileValues: [
        { quantile: 0.5, value: 0.4 },
        { quantile: 0.99, value: 1.2 },
      ],
      flags: 1,
    };
    const type = otlpMetricsTypes.ExportMetricsServiceRequest;
    const bytes = type
      .encode(
        type.fromObject({
          resourceMetrics: [
            {
              resource: {
                attributes: [
                  { key: 's', value: { stringValue: 'x' } },
                  { key: 'b', value: { boolValue: true } },
                  { key: 'i', value: { intValue: '-9007199254740993' } },
                  { key: 'd', value: { doubleValue: 0.25 } },
                  { key: 'a', value: { arrayValue: { values: [{ stringValue: 'y' }, { intValue: 3 }] } } },
                  { key: 'kv', value: { kvlistValue: { values: [{ key: 'inner', value: { boolValue: false } }] } } },
                  { key: 'bytes', value: { bytesValue: Buffer.from([1, 2, 3]) } },
                ],
                droppedAttributesCount: 2,
              },
              scopeMetrics: [
                {
                  scope: { name: 'scope', version: '9', attributes: [{ key: 'sa', value: { stringValue: 'v' } }], droppedAttributesCount: 1 },
                  schemaUrl: 'https://example.com/schema',
                  metrics: [
                    {
                      name: 'rpc.latency',
                      summary: {
                        dataPoints: [summaryPoint],
                      },
                      metadata: [{ key: 'origin', value: { stringValue: 'test' } }],
                    },
                  ],
                },
              ],
            },
          ],
        }),
      )
      .finish();
    const decoded = goDecode(bytes);
    const resource = decoded.resourceMetrics[0].resource;
    assert.equal(resource.droppedAttributesCount, 2);
    assert.deepEqual(resource.attributes.find((kv: Json) => kv.key === 'i').value, { intValue: '-9007199254740993' });
    assert.deepEqual(resource.attributes.find((kv: Json) => kv.key === 'kv').value, {
      kvlistValue: { values: [{ key: 'inner', value: { boolValue: false } }] },
    });
    assert.deepEqual(resource.attributes.find((kv: Json) => kv.key === 'bytes').value, { bytesValue: 'AQID' });
    const scopeMetrics = decoded.resourceMetrics[0].scopeMetrics[0];
    assert.equal(scopeMetrics.schemaUrl, 'https://example.com/schema');
    assert.deepEqual(scopeMetrics.scope, { name: 'scope', version: '9', attributes: [{ key: 'sa', value: { stringValue: 'v' } }], droppedAttributesCount: 1 });
    const metric = scopeMetrics.metrics[0];
    assert.deepEqual(metric.metadata, [{ key: 'origin', value: { stringValue: 'test' } }]);
    assert.deepEqual(metric.summary.dataPoints[0], summaryPoint);
  });
});

// ---- (2) filters --------------------------------------------------------------------------------

describe('exemplar filter', () => {
  test('OTEL_METRICS_EXEMPLAR_FILTER: always_on by default, known values in any case, warning on unknown', () => {
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    assert.equal(exemplarFilterFromEnv({}, warn), 'always_on');
    assert.equal(exemplarFilterFromEnv({ OTEL_METRICS_EXEMPLAR_FILTER: '' }, warn), 'always_on');
    assert.equal(exemplarFilterFromEnv({ OTEL_METRICS_EXEMPLAR_FILTER: 'TRACE_BASED' }, warn), 'trace_based');
    assert.equal(exemplarFilterFromEnv({ OTEL_METRICS_EXEMPLAR_FILTER: ' always_off ' }, warn), 'always_off');
    assert.deepEqual(warnings, []);
    assert.equal(exemplarFilterFromEnv({ OTEL_METRICS_EXEMPLAR_FILTER: 'sometimes' }, warn), 'always_on');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /OTEL_METRICS_EXEMPLAR_FILTER.*sometimes.*always_on/);
  });

  const sampled = fakeSpan(TraceFlags.SAMPLED, 1);
  const unsampled = fakeSpan(TraceFlags.NONE, 2);
  const invalid: SpanContext = { traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: TraceFlags.SAMPLED };
  // One measurement per bucket so that none replaces another.
  const offers: [number, SpanContext | null][] = [
    [0.001, null],
    [0.02, unsampled],
    [0.2, sampled],
    [2, invalid],
  ];

  function exemplarsWith(filter: ExemplarFilter) {
    const { histogram, store } = setup({ filter });
    for (const [value, span] of offers) histogram.record(value, GET_ORDER, inSpan(span));
    const batches = [...(store.get(HTTP_REQUEST_DURATION)?.take().values() ?? [])];
    return batches.flatMap((b) => b.exemplars).map((e) => ({ value: e.value, traceId: e.traceId, spanId: e.spanId }));
  }

  test('always_on: every measurement; ids only from a valid span (sampled or not)', () => {
    assert.deepEqual(exemplarsWith('always_on'), [
      { value: 0.001, traceId: undefined, spanId: undefined },
      { value: 0.02, traceId: unsampled.traceId, spanId: unsampled.spanId },
      { value: 0.2, traceId: sampled.traceId, spanId: sampled.spanId },
      { value: 2, traceId: undefined, spanId: undefined },
    ]);
  });

  test('trace_based: only measurements in a sampled span', () => {
    assert.deepEqual(exemplarsWith('trace_based'), [{ value: 0.2, traceId: sampled.traceId, spanId: sampled.spanId }]);
  });

  test('always_off: none', () => {
    assert.deepEqual(exemplarsWith('always_off'), []);
  });

  test('always_on without a span exports an exemplar without ids; the SDK histogram is unaffected by the filter', async () => {
    for (const filter of ['always_on', 'always_off'] as const) {
      const { reader, histogram, serializer, meterProvider } = setup({ filter });
      histogram.record(0.3, GET_ORDER); // no active span
      const resourceMetrics = await collect(reader);
      const point = pointWith(metricNamed(goDecode(serializer.serializeRequest(resourceMetrics)!), HTTP_REQUEST_DURATION), GET_ORDER);
      assert.equal(point.count, '1');
      if (filter === 'always_on') {
        assert.equal(point.exemplars.length, 1);
        assert.equal(point.exemplars[0].asDouble, 0.3);
        assert.ok(!('traceId' in point.exemplars[0]) && !('spanId' in point.exemplars[0]), JSON.stringify(point.exemplars[0]));
      } else {
        assert.equal(point.exemplars, undefined);
      }
      await meterProvider.shutdown();
    }
  });
});

// ---- (3) bounded memory -------------------------------------------------------------------------

describe('exemplar store memory', () => {
  test('100k distinct attribute sets: at most maxAttributeSets kept, the rest dropped and counted', () => {
    const store = new ExemplarStore({ filter: 'always_on' });
    const instrument = store.reservoir(HTTP_REQUEST_DURATION, BOUNDARIES);
    const { traceId, spanId } = fakeSpan(TraceFlags.SAMPLED);
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100_000; i++) {
      instrument.offer(0.1, { 'http.request.method': 'GET', 'http.route': `/users/${i}`, 'http.response.status_code': 200 }, traceId, spanId);
    }
    assert.equal(instrument.size, store.maxAttributeSets);
    assert.equal(store.maxAttributeSets, 2000);
    assert.equal(instrument.droppedMeasurements, 98_000);
    assert.equal(instrument.pending, 2000);
    // A known attribute set still gets its exemplars once the cap is reached.
    instrument.offer(3, { 'http.request.method': 'GET', 'http.route': '/users/0', 'http.response.status_code': 200 }, traceId, spanId);
    assert.equal(instrument.pending, 2001);
    assert.equal(instrument.droppedMeasurements, 98_000);
    // Loose: 2000 sets with their buckets and trie nodes take a few MB, not 100k sets' worth.
    global.gc?.();
    assert.ok(process.memoryUsage().heapUsed - heapBefore < 32 * 1024 * 1024, 'heap growth stays small');
    assert.equal(instrument.take().size, 2000);
    assert.equal(instrument.pending, 0);
    assert.equal(instrument.size, 2000, "attribute sets stay known, like the SDK's cumulative storage");
  });

  test('exemplars of attribute sets the SDK folded into its overflow series are dropped and counted', async () => {
    const reader = new ManualReader();
    const meterProvider = new MeterProvider({
      readers: [reader],
      views: [{ instrumentName: HTTP_REQUEST_DURATION, aggregationCardinalityLimit: 3 }],
    });
    const store = new ExemplarStore({ filter: 'always_on' });
    const histogram = createExemplarHistogram(meterProvider.getMeter('t'), HTTP_REQUEST_DURATION, HISTOGRAM_OPTIONS, store);
    for (let i = 0; i < 6; i++) histogram.record(0.1, { route: `/r${i}` }, inSpan(fakeSpan(TraceFlags.SAMPLED, i + 1)));
    const decoded = goDecode(createExemplarSerializer(store).serializeRequest(await collect(reader))!);
    const points: Json[] = metricNamed(decoded, HTTP_REQUEST_DURATION).histogram.dataPoints;
    const withExemplars = points.filter((p) => p.exemplars?.length);
    const overflow = points.find((p) => attrs(p)['otel.metric.overflow'] === true);
    assert.ok(overflow, 'the SDK made an overflow data point');
    assert.equal(overflow.exemplars, undefined);
    assert.equal(withExemplars.length + store.unmatchedExemplars, 6);
    assert.ok(store.unmatchedExemplars >= 3);
    assert.equal(store.pending, 0);
    await meterProvider.shutdown();
  });
});

// ---- (4) draining -------------------------------------------------------------------------------

describe('exemplar draining', () => {
  test('an exported exemplar is not sent again; a new one is', async () => {
    const { histogram, exportOnce, meterProvider, store } = setup();
    const first = fakeSpan(TraceFlags.SAMPLED, 1);
    const second = fakeSpan(TraceFlags.SAMPLED, 2);
    histogram.record(0.3, GET_ORDER, inSpan(first));

    const export1 = pointWith(metricNamed(goDecode(await exportOnce()), HTTP_REQUEST_DURATION), GET_ORDER);
    assert.deepEqual(
      export1.exemplars.map((e: Json) => idHex(e.traceId)),
      [first.traceId],
    );

    const export2 = pointWith(metricNamed(goDecode(await exportOnce()), HTTP_REQUEST_DURATION), GET_ORDER);
    assert.equal(export2.count, '1', 'the cumulative data point is exported again');
    assert.equal(export2.exemplars, undefined, 'its exemplar is not');

    histogram.record(0.31, GET_ORDER, inSpan(second));
    const export3 = pointWith(metricNamed(goDecode(await exportOnce()), HTTP_REQUEST_DURATION), GET_ORDER);
    assert.equal(export3.count, '2');
    assert.deepEqual(
      export3.exemplars.map((e: Json) => [e.asDouble, idHex(e.traceId)]),
      [[0.31, second.traceId]],
    );
    assert.equal(store.pending, 0);
    await meterProvider.shutdown();
  });

  test('without pending exemplars the stock bytes go out untouched', async () => {
    const { reader, histogram, serializer, meterProvider } = setup({ filter: 'always_off' });
    histogram.record(0.3, GET_ORDER, inSpan(fakeSpan(TraceFlags.SAMPLED)));
    const resourceMetrics = await collect(reader);
    assert.deepEqual(serializer.serializeRequest(resourceMetrics), ProtobufMetricsSerializer.serializeRequest(resourceMetrics));
    await meterProvider.shutdown();
  });
});

// ---- the exporter -------------------------------------------------------------------------------

describe('createExemplarMetricExporter', () => {
  test('cumulative temporality for every instrument, whatever the environment says', async () => {
    const saved = process.env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE;
    process.env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE = 'delta';
    try {
      const exporter = createExemplarMetricExporter(new ExemplarStore(), { url: 'http://127.0.0.1:1' });
      for (const type of [InstrumentType.HISTOGRAM, InstrumentType.COUNTER, InstrumentType.OBSERVABLE_GAUGE]) {
        assert.equal(exporter.selectAggregationTemporality(type), AggregationTemporality.CUMULATIVE);
      }
      await exporter.shutdown();
    } finally {
      if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE;
      else process.env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE = saved;
    }
  });
});

// ---- (5) the express middleware -------------------------------------------------------------------

describe('requestDurationMiddleware', () => {
  const SERVER_SPAN = fakeSpan(TraceFlags.SAMPLED, 0xab); // what the http instrumentation makes
  const LAYER_SPAN = fakeSpan(TraceFlags.SAMPLED, 0xac); // a span an earlier middleware made active
  const ACTIVE_ONLY_SPAN = fakeSpan(TraceFlags.SAMPLED, 0xad); // no http instrumentation: just an active span

  async function withApp<T>(fn: (base: string, reader: MetricReader, store: ExemplarStore) => Promise<T>): Promise<T> {
    const reader = new ManualReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const store = new ExemplarStore({ filter: 'always_on' });
    const app = express();
    // Stands in for the http instrumentation and an earlier middleware: the server span in the RPC
    // metadata, another span active. Both exist when the middleware is entered, and only then
    // (StackContextManager does not follow async callbacks).
    app.use((req, _res, next) => {
      const mode = req.headers['x-test-span'];
      if (mode === 'server') {
        const withServer = setRPCMetadata(context.active(), { type: RPCType.HTTP, span: trace.wrapSpanContext(SERVER_SPAN) });
        context.with(trace.setSpanContext(withServer, LAYER_SPAN), next);
      } else if (mode === 'active') {
        context.with(trace.setSpanContext(context.active(), ACTIVE_ONLY_SPAN), next);
      } else {
        next();
      }
    });
    const histogram = createExemplarHistogram(meterProvider.getMeter('request-metrics-test'), HTTP_REQUEST_DURATION, HISTOGRAM_OPTIONS, store);
    app.use(requestDurationMiddleware({ histogram }));
    app.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });
    app.get('/orders/:id', (_req, res) => {
      res.json({ ok: true });
    });
    app.post('/orders', (_req, res) => {
      res.status(201).json({ created: true });
    });
    app.get('/slow/:id', async (_req, res) => {
      await sleep(120);
      res.json({ slow: true });
    });
    app.get('/fail/:id', (_req, _res, next) => {
      next(new Error('boom'));
    });
    const router = express.Router();
    router.get('/items/:id', (_req, res) => {
      res.json({ item: true });
    });
    app.use('/api', router);
    app.use((_req, res) => {
      res.status(404).json({ error: 'no route' });
    });
    const onError: ErrorRequestHandler = (_err, _req, res, _next) => {
      res.status(500).json({ error: 'internal' });
    };
    app.use(onError);

    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
    const { port } = server.address() as AddressInfo;
    try {
      return await fn(`http://127.0.0.1:${port}`, reader, store);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await meterProvider.shutdown();
    }
  }

  /** The histogram's data points, once `expected` requests were recorded ('finish' can trail the response). */
  async function durationPoints(reader: MetricReader, expected: number): Promise<HistogramMetricData> {
    for (let attempt = 0; ; attempt++) {
      const resourceMetrics = await collect(reader);
      const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === HTTP_REQUEST_DURATION);
      const total = metric?.dataPointType === DataPointType.HISTOGRAM ? metric.dataPoints.reduce((n, p) => n + p.value.count, 0) : 0;
      if (metric?.dataPointType === DataPointType.HISTOGRAM && total >= expected) return metric;
      if (attempt > 100) assert.fail(`expected ${expected} recorded requests, got ${total}`);
      await sleep(20);
    }
  }

  test('records seconds per route template and status code, skips /healthz, takes the server span at entry', async () => {
    await withApp(async (base, reader, store) => {
      // The traced request first: each bucket keeps the first measurement of the interval.
      const requests: [string, RequestInit?][] = [
        ['/orders/3', { headers: { 'x-test-span': 'server' } }],
        ['/orders/1'],
        ['/orders/2'],
        ['/orders', { method: 'POST' }],
        ['/slow/7'],
        ['/fail/3'],
        ['/api/items/9', { headers: { 'x-test-span': 'active' } }],
        ['/healthz'],
        ['/healthz'],
        ['/no/such/path?x=1'],
      ];
      for (const [path, init] of requests) {
        const response = await fetch(base + path, init);
        await response.arrayBuffer();
      }
      const metric = await durationPoints(reader, 8);
      assert.equal(metric.descriptor.unit, 's');
      assert.equal(metric.descriptor.name, 'http.request.duration');

      const byKey = new Map<string, { count: number; sum: number; boundaries: number[] }>();
      for (const point of metric.dataPoints) {
        const a = point.attributes as Attributes;
        assert.deepEqual(Object.keys(a).sort(), ['http.request.method', 'http.response.status_code', 'http.route']);
        byKey.set(`${a['http.request.method']} ${a['http.route']} ${a['http.response.status_code']}`, {
          count: point.value.count,
          sum: point.value.sum ?? NaN,
          boundaries: point.value.buckets.boundaries,
        });
      }
      assert.deepEqual([...byKey.entries()].map(([k, v]) => [k, v.count]).sort(), [
        ['GET /api/items/:id 200', 1],
        ['GET /fail/:id 500', 1],
        ['GET /orders/:id 200', 3],
        ['GET /slow/:id 200', 1],
        ['GET unmatched 404', 1],
        ['POST /orders 201', 1],
      ]);
      assert.deepEqual(byKey.get('GET /orders/:id 200')!.boundaries, BOUNDARIES);
      const slow = byKey.get('GET /slow/:id 200')!.sum;
      assert.ok(slow >= 0.1 && slow < 3, `the 120 ms request is recorded in seconds: ${slow}`);

      // The server span of the request (else the active span) when it entered the middleware is
      // on the exemplar, although the response finished later, outside that context.
      const batches = [...store.get(HTTP_REQUEST_DURATION)!.take().values()];
      const tracedOf = (route: string) =>
        batches
          .find((b) => b.attributes['http.route'] === route)!
          .exemplars.filter((e) => e.traceId !== undefined)
          .map((e) => [e.traceId, e.spanId]);
      assert.deepEqual(tracedOf('/orders/:id'), [[SERVER_SPAN.traceId, SERVER_SPAN.spanId]]);
      assert.deepEqual(tracedOf('/api/items/:id'), [[ACTIVE_ONLY_SPAN.traceId, ACTIVE_ONLY_SPAN.spanId]]);
      assert.ok(batches.every((b) => b.attributes['http.route'] !== '/healthz'));
    });
  });
});
