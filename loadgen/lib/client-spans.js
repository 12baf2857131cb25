// k6's own span for each request it sends: the root of the request's trace. k6 puts a traceparent on
// every request (traceparent.js) but records no span for it, so without these every trace would
// start at order's server span, under a parent that never arrives: Tempo shows "root span not yet
// received" and TraceQL's structural operators (>>, >) match nothing. The span has the trace and
// span id of the traceparent sent, the request's start and end by k6's clock, and goes to the
// Collector over OTLP/HTTP (JSON), many spans per request so that the telemetry does not double the
// load. No k6 import here: main.js sends, the tests (Node) check the encoding.
//
// Configuration, as the OpenTelemetry SDKs read it:
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT   the full URL (http://otel-collector:4318/v1/traces), or
//   OTEL_EXPORTER_OTLP_ENDPOINT          the base URL; /v1/traces is added
//   OTEL_SERVICE_NAME                    default k6
//   OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none   no spans
// With no endpoint set, no spans are sent (k6 run by hand keeps working without a Collector).

/** @typedef {Record<string, string | undefined>} Env */
/**
 * @typedef {object} ClientSpan
 * @property {string} traceId      32 hex digits
 * @property {string} spanId       16 hex digits: the parent id of the traceparent sent
 * @property {string} name
 * @property {number} startMs      Unix time, ms
 * @property {number} endMs
 * @property {Record<string, string | number>} attributes
 * @property {string} [error]      set when the request failed (the span's status is then ERROR)
 */

/** Spans per export request, at most. */
export const MAX_SPANS_PER_EXPORT = 200;
/** How long a span may wait in a VU's buffer before it is sent, ms. */
export const MAX_SPAN_WAIT_MS = 2000;
/** The scope the spans are recorded under. */
const SCOPE = 'spike-to-trace/loadgen';
const SPAN_KIND_CLIENT = 3;
const STATUS_CODE_ERROR = 2;

/**
 * The OTLP/HTTP traces URL from the environment, or undefined when k6 is to send no spans.
 * @param {Env} env
 */
export function tracesEndpointFromEnv(env) {
  if (String(env.OTEL_SDK_DISABLED).toLowerCase() === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return undefined;
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  return undefined;
}

/** Milliseconds as the decimal nanoseconds OTLP/JSON wants (a string: beyond a double's precision). */
const nanos = (/** @type {number} */ ms) => `${Math.round(ms)}000000`;

/** @param {string | number} value */
const anyValue = (value) =>
  typeof value === 'number' ? (Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value }) : { stringValue: value };

/**
 * An OTLP/JSON ExportTraceServiceRequest for these spans (ids in hex, as OTLP/JSON has them).
 * @param {string} serviceName
 * @param {readonly ClientSpan[]} spans
 */
export function exportTraceRequest(serviceName, spans) {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: serviceName } }] },
        scopeSpans: [
          {
            scope: { name: SCOPE },
            spans: spans.map((span) => ({
              traceId: span.traceId,
              spanId: span.spanId,
              name: span.name,
              kind: SPAN_KIND_CLIENT,
              startTimeUnixNano: nanos(span.startMs),
              endTimeUnixNano: nanos(span.endMs),
              attributes: Object.entries(span.attributes).map(([key, value]) => ({ key, value: anyValue(value) })),
              status: span.error ? { code: STATUS_CODE_ERROR, message: span.error } : {},
            })),
          },
        ],
      },
    ],
  };
}

/**
 * A VU's buffer of spans. k6's VUs share no memory, so each VU batches its own: it sends when the
 * buffer is full, when its oldest span has waited MAX_SPAN_WAIT_MS, or, near the end of the test,
 * after every request (a VU's last spans would otherwise never leave).
 */
export class SpanBuffer {
  /**
   * @param {{ serviceName: string, send: (body: string) => void, now?: () => number }} options
   */
  constructor(options) {
    this.serviceName = options.serviceName;
    this.send = options.send;
    this.now = options.now ?? Date.now;
    /** @type {ClientSpan[]} */
    this.spans = [];
  }

  /**
   * Adds a span; sends the buffer when it is due.
   * @param {ClientSpan} span
   * @param {number} [remainingMs]  how long the test still runs, when known
   */
  add(span, remainingMs = Infinity) {
    this.spans.push(span);
    const oldest = this.spans[0];
    const waited = oldest ? this.now() - oldest.endMs : 0;
    if (this.spans.length >= MAX_SPANS_PER_EXPORT || waited >= MAX_SPAN_WAIT_MS || remainingMs <= MAX_SPAN_WAIT_MS) this.flush();
  }

  flush() {
    if (this.spans.length === 0) return;
    const body = JSON.stringify(exportTraceRequest(this.serviceName, this.spans));
    this.spans = [];
    this.send(body);
  }
}

/**
 * How long a scenario still runs, ms, from its progress (0..1) and start time; Infinity before any
 * progress is known.
 * @param {{ startTime: number, progress: number }} scenario  k6's exec.scenario
 * @param {number} now
 */
export function remainingMs(scenario, now) {
  if (!(scenario.progress > 0)) return Infinity;
  const elapsed = now - scenario.startTime;
  return (elapsed * (1 - scenario.progress)) / scenario.progress;
}
