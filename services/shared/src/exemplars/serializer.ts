// The serializer of the exemplar exporter: the stock OTLP protobuf bytes, plus the pending
// exemplars in HistogramDataPoint.exemplars (field 8).
//
// The SDK's ProtobufMetricsSerializer encodes the request as usual. When the store holds
// exemplars, the bytes are decoded with protobufjs (otlp-metrics.proto next to this file), each
// histogram's exemplars are taken from its reservoir and attached to the data points with the same
// metric name and attribute set, and the request is encoded again: once per export interval, off
// the record path. The SDK's encoder has no hook to add them before encoding.
import { readFileSync } from 'node:fs';
import { diag } from '@opentelemetry/api';
import protobuf from 'protobufjs';
import { ProtobufMetricsSerializer, type IExportMetricsServiceResponse, type ISerializer } from '@opentelemetry/otlp-transformer';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { canonicalKeyFromEntries } from './attributes.ts';
import type { Exemplar } from './reservoir.ts';
import type { ExemplarStore } from './store.ts';

const PROTO_PACKAGE = 'spike_to_trace.otlp.metrics';

const root = protobuf.parse(readFileSync(new URL('./otlp-metrics.proto', import.meta.url), 'utf8')).root;

/** protobufjs reflection types of the kept OTLP schema (for tests and tools). */
export const otlpMetricsTypes = {
  ExportMetricsServiceRequest: root.lookupType(`${PROTO_PACKAGE}.ExportMetricsServiceRequest`),
  ExportMetricsServiceResponse: root.lookupType(`${PROTO_PACKAGE}.ExportMetricsServiceResponse`),
} as const;

// ---- shapes of decoded messages (protobufjs, camelCase, only what is read here) --------------

/** A 64-bit integer as protobufjs decodes it (a Long; a number when long.js is absent). */
interface LongLike {
  toNumber(): number;
}

interface DecodedAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: LongLike | number;
  doubleValue?: number;
  arrayValue?: { values?: DecodedAnyValue[] };
  kvlistValue?: { values?: DecodedKeyValue[] };
  bytesValue?: Uint8Array;
  stringValueStrindex?: number;
}

interface DecodedKeyValue {
  key: string;
  value?: DecodedAnyValue | null;
}

interface EncodableExemplar {
  timeUnixNano: string;
  asDouble: number;
  spanId?: Uint8Array;
  traceId?: Uint8Array;
}

interface DecodedHistogramDataPoint {
  attributes?: DecodedKeyValue[];
  exemplars?: (object | EncodableExemplar)[];
}

interface DecodedMetric {
  name: string;
  histogram?: { dataPoints?: DecodedHistogramDataPoint[] } | null;
}

interface DecodedRequest {
  resourceMetrics?: { scopeMetrics?: { metrics?: DecodedMetric[] }[] }[];
}

// ---- conversions -----------------------------------------------------------------------------

const has = (o: object, key: string): boolean => Object.hasOwn(o, key);

function toNumber(value: LongLike | number): number {
  return typeof value === 'number' ? value : value.toNumber();
}

/** An OTLP AnyValue as the JS attribute value the SDK encoded it from. */
function anyValueToJs(value: DecodedAnyValue | null | undefined): unknown {
  if (value == null) return null;
  if (has(value, 'stringValue')) return value.stringValue;
  if (has(value, 'boolValue')) return value.boolValue;
  if (has(value, 'intValue')) return toNumber(value.intValue!);
  if (has(value, 'doubleValue')) return value.doubleValue;
  if (has(value, 'arrayValue')) return (value.arrayValue?.values ?? []).map(anyValueToJs);
  if (has(value, 'kvlistValue')) {
    const obj: Record<string, unknown> = {};
    for (const kv of value.kvlistValue?.values ?? []) obj[kv.key] = anyValueToJs(kv.value);
    return obj;
  }
  if (has(value, 'bytesValue')) return value.bytesValue;
  return null;
}

function attributesKeyOf(attributes: DecodedKeyValue[] | undefined): string {
  return canonicalKeyFromEntries((attributes ?? []).map((kv): [string, unknown] => [kv.key, anyValueToJs(kv.value)]));
}

const HEX_TRACE_ID = /^[0-9a-f]{32}$/i;
const HEX_SPAN_ID = /^[0-9a-f]{16}$/i;

/** Milliseconds since the epoch as a decimal string of nanoseconds (exact for fixed64). */
function unixNanosString(unixMs: number): string {
  const whole = Math.trunc(unixMs);
  const fraction = Math.round((unixMs - whole) * 1e6);
  return (BigInt(whole) * 1_000_000n + BigInt(fraction)).toString();
}

function toOtlpExemplar(exemplar: Exemplar): EncodableExemplar {
  const out: EncodableExemplar = { timeUnixNano: unixNanosString(exemplar.timeUnixMs), asDouble: exemplar.value };
  const { traceId, spanId } = exemplar;
  if (traceId !== undefined && spanId !== undefined && HEX_TRACE_ID.test(traceId) && HEX_SPAN_ID.test(spanId)) {
    out.traceId = Buffer.from(traceId, 'hex');
    out.spanId = Buffer.from(spanId, 'hex');
  }
  return out;
}

// ---- attaching -------------------------------------------------------------------------------

/**
 * Attaches the store's pending exemplars to an encoded ExportMetricsServiceRequest and returns the
 * re-encoded request (or the input when nothing was attached). The exemplars of every histogram
 * in the request are taken, attached or not (those without a matching data point are counted in
 * `store.unmatchedExemplars`). So one request must carry all the data points of a histogram: the
 * PeriodicExportingMetricReader's default (leave its maxExportBatchSize unset).
 *
 * The periodic reader snapshots the histograms and the exporter serializes the snapshot in one
 * chain of promises, so an exemplar practically never postdates its data point; one that does
 * (a request finishing during the wait for asynchronous resource attributes at the very first
 * export) is still a real measurement of that series, which is all Prometheus needs.
 */
export function attachExemplars(encoded: Uint8Array, store: ExemplarStore): Uint8Array {
  if (store.pending === 0) return encoded;
  const reader = protobuf.Reader.create(encoded);
  reader.discardUnknown = false; // keep anything this schema does not know, byte for byte
  const message = otlpMetricsTypes.ExportMetricsServiceRequest.decode(reader);
  const request = message as unknown as DecodedRequest;

  let attached = 0;
  for (const resourceMetrics of request.resourceMetrics ?? []) {
    for (const scopeMetrics of resourceMetrics.scopeMetrics ?? []) {
      for (const metric of scopeMetrics.metrics ?? []) {
        const points = metric.histogram?.dataPoints;
        if (!points || points.length === 0) continue;
        const reservoir = store.get(metric.name);
        if (reservoir === undefined || reservoir.pending === 0) continue;

        const batches = reservoir.take();

        for (const point of points) {
          const key = attributesKeyOf(point.attributes);
          const batch = batches.get(key);
          if (batch === undefined) continue;
          batches.delete(key);
          point.exemplars = [...(point.exemplars ?? []), ...batch.exemplars.map(toOtlpExemplar)];
          attached += batch.exemplars.length;
        }
        for (const batch of batches.values()) store.unmatchedExemplars += batch.exemplars.length;
      }
    }
  }
  if (attached === 0) return encoded;
  return otlpMetricsTypes.ExportMetricsServiceRequest.encode(message).finish();
}

/**
 * An OTLP metrics serializer that writes exemplars: the stock protobuf serializer plus
 * `attachExemplars`. Responses are read by the stock serializer.
 */
export function createExemplarSerializer(store: ExemplarStore): ISerializer<ResourceMetrics, IExportMetricsServiceResponse> {
  return {
    serializeRequest(request: ResourceMetrics): Uint8Array | undefined {
      const encoded = ProtobufMetricsSerializer.serializeRequest(request);
      if (encoded === undefined) return undefined;
      try {
        return attachExemplars(encoded, store);
      } catch (error) {
        // Never let the exemplar add-on cost the metrics themselves.
        diag.warn('exemplars: could not attach exemplars, exporting the metrics without them', error);
        return encoded;
      }
    },
    deserializeResponse(data: Uint8Array): IExportMetricsServiceResponse {
      return ProtobufMetricsSerializer.deserializeResponse(data);
    },
  };
}
