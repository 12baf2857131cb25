// k6 load for spike-to-trace: GET /orders/:id on the order service, each request with its own W3C
// traceparent and an x-user-id, so every k6 request is one trace in Tempo.
//
//   k6 run -e SCENARIO=steady loadgen/main.js          (or: npm run load -- steady)
//
// Environment (our own variables; K6_VUS / K6_DURATION would replace the scenarios, don't):
//   SCENARIO      smoke | steady | spike | soak | background      (default smoke; see lib/scenarios.js)
//   ORDER_URL     the order service                                (default http://localhost:8080;
//                 BASE_URL is read too when ORDER_URL is unset)
//   RATE          requests per second of the arrival-rate scenarios
//   DURATION      how long (smoke, steady, soak, background) or how long the peak lasts (spike)
//   VUS           smoke's virtual users (default 3)
//   SPIKE_RATE    spike's peak in requests per second (default 100)
//   ERROR_SHARE   share of requests sent to the error path, ids above 9999 (default 0.02)
//   LOG_TRACE_IDS 1 to print one line per request with its trace id (failures are always printed)
//   TRACEPARENT   sampled (default): flags 01, every request is recorded whatever the services'
//                 sampler; unsampled: flags 00, a parent-based sampler records none; off: no header,
//                 the services' own sampler decides (the workshop's sampling exercise)
//   SETUP_WAIT    seconds to wait for order's /healthz before giving up (default 20; background 120)
//   OTEL_EXPORTER_OTLP_ENDPOINT  where k6 sends its own span per request, the root of the request's
//                 trace (OTLP/HTTP, e.g. http://otel-collector:4318); unset: no spans (lib/client-spans.js)
//   STOP_URL      set by loadgen/run.ts: the stop that cuts nothing with a trace (lib/graceful-stop.js)
//
// Finding a k6 request in Tempo: the trace id is in the traceparent header k6 sent, and k6 keeps it
// as the metadata trace_id of every sample of that request (`--out json=file` writes it; metadata
// never becomes a Prometheus label, so remote write stays low-cardinality). Failed requests are
// logged with their trace id. Paste the id into Grafana's Tempo search, or GET /api/traces/<id>.
//
// Tags on every order request: name "GET /orders/:id" (one series, not one per id) and flow
// ("valid" for ids 1..9999, "error_path" for ids above 9999, where pricing answers 500 and order
// 502). The thresholds (lib/scenarios.js) judge the valid flow; the error path has its own checks.
// Which order an iteration asks for, and its headers, are the rules of lib/orders.js, which the
// demo's built-in load loop (demo/load.ts) follows too.
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Rate, Trend } from 'k6/metrics';
import { SpanBuffer, remainingMs, tracesEndpointFromEnv } from './lib/client-spans.js';
import { GracefulStop } from './lib/graceful-stop.js';
import { errorEveryFromEnv, orderRequest, traceparentModeFromEnv } from './lib/orders.js';
import { SCENARIOS, SLOW_RESPONSE_MS, isScenarioName, scenarioFor, setupWaitFromEnv, thresholdsFor, unknownScenarioMessage } from './lib/scenarios.js';

const SCENARIO = __ENV.SCENARIO || 'smoke';
if (!isScenarioName(SCENARIO)) throw new Error(unknownScenarioMessage(SCENARIO));

const ORDER_URL = (__ENV.ORDER_URL || __ENV.BASE_URL || 'http://localhost:8080').replace(/\/+$/, '');
// Every n-th iteration of the test goes to the error path, the first one included (lib/orders.js).
const ERROR_EVERY = errorEveryFromEnv(__ENV);
const LOG_TRACE_IDS = ['1', 'true', 'yes'].includes(String(__ENV.LOG_TRACE_IDS || '').toLowerCase());
const TRACEPARENT = traceparentModeFromEnv(__ENV);
const SETUP_WAIT_S = setupWaitFromEnv(__ENV, SCENARIO);

const EXPECT_200 = http.expectedStatuses(200);
const EXPECT_502 = http.expectedStatuses(502);

// k6's own client span per request, the root of its trace (lib/client-spans.js): on when
// OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set. The export requests are tagged apart
// (flow "telemetry") and their failures are not the load's: responseCallback null keeps them out
// of http_req_failed, so a Collector that is down fails no threshold.
const TRACES_ENDPOINT = tracesEndpointFromEnv(__ENV);
const clientSpans = TRACES_ENDPOINT
  ? new SpanBuffer({
      serviceName: __ENV.OTEL_SERVICE_NAME || 'k6',
      send: (body) =>
        http.post(TRACES_ENDPOINT, body, {
          headers: { 'content-type': 'application/json' },
          tags: { name: 'OTLP export', flow: 'telemetry' },
          responseCallback: null,
          timeout: '5s',
        }),
    })
  : undefined;

// The runner's stop (lib/graceful-stop.js): its requests are tagged apart (flow "control") and judged
// by nothing.
const gracefulStop = new GracefulStop({
  url: __ENV.STOP_URL,
  http: { get: (url) => http.get(url, { tags: { name: 'stop check', flow: 'control' }, responseCallback: null, timeout: '2s' }) },
  vu: () => exec.vu.idInTest,
  initialisedVus: () => exec.instance.vusInitialized,
});

/** Latency of the valid orders that did not take the slow path (the "normal path"). */
const normalDuration = new Trend('order_duration_normal', true);
/** Share of valid orders that took the slow path (answered in SLOW_RESPONSE_MS or more). */
const slowResponses = new Rate('order_slow_responses');
/**
 * Share of orders the services refused as overloaded (503: more requests in flight than they take,
 * services/shared/src/load-shedding.ts): the load is above what this machine serves.
 */
const refused = new Rate('order_refused');
/**
 * Share of valid orders that failed slowly: a gateway error or timeout (502, 504, or no answer within
 * k6's 10 s). Overload must never show as these: the services refuse fast with 503 instead.
 */
const failedSlowly = new Rate('order_failed_slowly');

export const options = {
  scenarios: { [SCENARIO]: scenarioFor(SCENARIO, __ENV) },
  thresholds: thresholdsFor(SCENARIO),
  // Without url (one value per order id) and connection details: these tags become Prometheus
  // labels with remote write, and must stay few.
  systemTags: ['status', 'method', 'name', 'group', 'check', 'error', 'error_code', 'scenario', 'expected_response'],
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
  setupTimeout: `${SETUP_WAIT_S + 15}s`,
};

/** Waits for order's /healthz, so that a stack still starting is not counted as failures. */
export function setup() {
  console.log(`${SCENARIO}: ${SCENARIOS[SCENARIO]} -> ${ORDER_URL}`);
  const deadline = Date.now() + SETUP_WAIT_S * 1000;
  for (;;) {
    const res = http.get(`${ORDER_URL}/healthz`, {
      tags: { name: 'GET /healthz', flow: 'probe' },
      timeout: '2s',
      responseCallback: EXPECT_200,
    });
    if (res.status === 200) return;
    if (Date.now() >= deadline) {
      const why = res.status ? `it answered ${res.status}` : res.error || 'no answer';
      exec.test.abort(`order is not ready at ${ORDER_URL}/healthz after ${SETUP_WAIT_S} s (${why}): is the stack up? Set ORDER_URL to point elsewhere.`);
    }
    sleep(1);
  }
}

export default function () {
  if (gracefulStop.requested()) {
    // No more orders: send the spans this VU holds, say so, and idle until the runner ends k6.
    clientSpans?.flush();
    gracefulStop.reportFlushed();
    if (SCENARIO === 'smoke') sleep(0.5);
    return;
  }
  const { orderId, path, flow, errorPath, headers, traceId, parentId } = orderRequest(exec.scenario.iterationInTest, {
    errorEvery: ERROR_EVERY,
    traceparent: TRACEPARENT,
  });

  // Metadata, not a tag: attached to every sample of this request (JSON output), never a label.
  if (traceId) exec.vu.metrics.metadata.trace_id = traceId;
  try {
    const startMs = Date.now();
    const res = http.get(`${ORDER_URL}${path}`, {
      headers,
      tags: { name: 'GET /orders/:id', flow },
      responseCallback: errorPath ? EXPECT_502 : EXPECT_200,
      timeout: '10s',
    });
    if (clientSpans && traceId && parentId) {
      const endMs = Date.now();
      clientSpans.add(
        {
          traceId,
          spanId: parentId,
          name: 'GET /orders/:id',
          startMs,
          endMs,
          attributes: {
            'http.request.method': 'GET',
            'url.full': `${ORDER_URL}${path}`,
            'http.response.status_code': res.status,
            'k6.scenario': exec.scenario.name,
          },
          // A client span is an error for any status from 400 on (OpenTelemetry's HTTP conventions).
          error: res.status === 0 ? res.error || 'no response' : res.status >= 400 ? String(res.status) : undefined,
        },
        remainingMs(exec.scenario, endMs),
      );
    }
    const body = jsonOf(res);
    const passed = errorPath
      ? check(
          res,
          {
            'error path: order answered 502': (r) => r.status === 502,
            'error path: JSON body has an error': () => typeof body?.error === 'string',
          },
          { flow },
        )
      : check(
          res,
          {
            'order answered 200': (r) => r.status === 200,
            'order JSON body has a total': () => typeof body?.total === 'number',
          },
          { flow },
        );

    refused.add(res.status === 503, { flow });
    if (!errorPath) failedSlowly.add(res.status === 0 || res.status === 502 || res.status === 504, { flow });
    if (!errorPath && res.status === 200) {
      const slow = res.timings.duration >= SLOW_RESPONSE_MS;
      slowResponses.add(slow, { flow });
      if (!slow) normalDuration.add(res.timings.duration, { flow });
    }
    const shownTraceId = traceId ?? '(chosen by order)';
    if (!passed) logFailure(orderId, flow, res, shownTraceId);
    else if (LOG_TRACE_IDS) console.log(`trace_id=${shownTraceId} order=${orderId} flow=${flow} status=${res.status} ms=${Math.round(res.timings.duration)}`);
  } finally {
    delete exec.vu.metrics.metadata.trace_id;
  }

  // smoke runs a few looping VUs: a short pause keeps them polite. The arrival-rate scenarios set
  // their own pace and must not sleep.
  if (SCENARIO === 'smoke') sleep(0.5);
}

function jsonOf(res) {
  try {
    const body = res.json();
    return body !== null && typeof body === 'object' ? body : undefined;
  } catch {
    return undefined;
  }
}

// A service that is down fails every request: log the first few per VU, then one in fifty.
let failuresLogged = 0;
function logFailure(orderId, flow, res, traceId) {
  failuresLogged++;
  if (failuresLogged > 5 && failuresLogged % 50 !== 0) return;
  const what =
    res.status === 503 ? 'status 503, refused: the services are overloaded (lower RATE)' : res.status ? `status ${res.status}` : res.error || 'no response';
  const body = typeof res.body === 'string' ? ` body ${res.body.slice(0, 160)}` : '';
  console.warn(`failed: GET /orders/${orderId} (${flow}) ${what} in ${Math.round(res.timings.duration)} ms, trace_id=${traceId}${body}`);
}
