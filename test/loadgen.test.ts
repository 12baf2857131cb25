// The k6 load generator: loadgen/main.js with the natively built k6, through loadgen/run.ts (what
// `npm run load -- <scenario>` runs), against the three real services.
//
// - every scenario name loads (k6 inspect), an unknown one fails;
// - a smoke run PASSES against healthy services, and the trace id of each traceparent k6 generated
//   is the trace id of order's server span for that request: the header is honoured end to end;
// - a smoke run FAILS (non-zero exit) when the slow path takes every request, and when pricing is
//   down.
// The Tempo version of the trace id check belongs where Tempo runs (the end-to-end test).
import { SpanKind } from '@opentelemetry/api';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  MAX_SPAN_WAIT_MS,
  MAX_SPANS_PER_EXPORT,
  SpanBuffer,
  exportTraceRequest,
  remainingMs,
  tracesEndpointFromEnv,
  type ClientSpan,
} from '../loadgen/lib/client-spans.js';
import { capacityWarning } from '../loadgen/capacity.ts';
import { SCENARIO_NAMES, scenarioFor, thresholdsFor } from '../loadgen/lib/scenarios.js';
import { parseTraceparent, newTraceparent } from '../loadgen/lib/traceparent.js';
import { startService, type RunningService } from './support/services.ts';
import { describeRun, repoRoot, requireTool, run, type RunResult } from '../native/tools.ts';

const SMOKE_DURATION = process.env.LOADGEN_TEST_DURATION ?? '8s';
/** How far order's server span may end after k6's client span (see the smoke test below). */
const CLOSE_EVENT_SLACK_MS = 10;

/** node loadgen/run.ts <args>, never remote-writing into a Prometheus that may run on this machine. */
function load(args: string[], env: Record<string, string> = {}, timeoutMs = 90_000): Promise<RunResult> {
  return run(process.execPath, ['loadgen/run.ts', ...args], { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1', ...env }, timeoutMs });
}

describe('loadgen/main.js scenarios', () => {
  for (const name of SCENARIO_NAMES) {
    test(`k6 inspect loads the ${name} scenario, with thresholds`, async () => {
      const k6 = requireTool('k6');
      const result = await run(k6, ['inspect', '--execution-requirements', '-e', `SCENARIO=${name}`, 'loadgen/main.js']);
      assert.equal(result.code, 0, describeRun(`k6 inspect SCENARIO=${name}`, result));
      const options = JSON.parse(result.stdout) as { scenarios: Record<string, { executor: string }>; thresholds: Record<string, unknown> };
      assert.deepEqual(Object.keys(options.scenarios), [name]);
      assert.equal(options.scenarios[name]!.executor, (scenarioFor(name, {}) as { executor: string }).executor);
      for (const metric of [
        'http_req_failed{flow:valid}',
        'checks',
        'http_req_duration{flow:valid}',
        'order_duration_normal',
        'order_slow_responses',
        'order_refused',
        'order_failed_slowly',
      ]) {
        assert.ok(metric in options.thresholds, `${name}: no threshold on ${metric}`);
      }
    });
  }

  test('an unknown scenario fails k6 inspect and makes run.ts exit 2 with the list', async () => {
    const k6 = requireTool('k6');
    const inspected = await run(k6, ['inspect', '-e', 'SCENARIO=nope', 'loadgen/main.js']);
    assert.notEqual(inspected.code, 0, describeRun('k6 inspect SCENARIO=nope', inspected));
    // k6 logs in logfmt: the quotes arrive escaped.
    assert.match(inspected.stderr, /unknown scenario \\?"nope\\?"; choose one of: smoke, steady, spike, soak, background/);

    const ran = await load(['nope']);
    assert.equal(ran.code, 2, describeRun('run.ts nope', ran));
    assert.match(ran.stderr, /unknown scenario "nope"/);
    assert.match(ran.stderr, /usage: npm run load -- <scenario>/);
  });

  test('run.ts checks the settings before k6 starts: a bad value is one line and exit 2', async () => {
    for (const [env, message] of [
      [{ RATE: '-5' }, /^load: RATE must be a number from 0\.1 to 1000, got "-5"\n$/],
      [{ DURATION: 'soon' }, /^load: DURATION must be a duration like 30s/],
      [{ ERROR_SHARE: '2' }, /^load: ERROR_SHARE must be a number from 0 to 1/],
      [{ TRACEPARENT: 'maybe' }, /^load: TRACEPARENT must be sampled, unsampled or off/],
    ] as const) {
      const ran = await load(['steady'], env);
      assert.equal(ran.code, 2, describeRun(`run.ts steady with ${JSON.stringify(env)}`, ran));
      assert.match(ran.stderr, message);
    }
  });

  test('run.ts says how to get k6 when it is missing', async () => {
    const ran = await load(['smoke'], { K6_BIN: join(tmpdir(), 'no-such-dir', 'k6') });
    assert.equal(ran.code, 1, describeRun('run.ts with a missing k6', ran));
    assert.match(ran.stderr, /run `npm run tools` first/);
  });

  test('the environment shapes the scenarios, and a typo is an error, not another load', () => {
    assert.deepEqual(
      { ...scenarioFor('steady', { RATE: '7', DURATION: '2m' }) },
      { executor: 'constant-arrival-rate', rate: 7, timeUnit: '1s', duration: '2m', preAllocatedVUs: 5, maxVUs: 28, gracefulStop: '10s' },
    );
    assert.equal((scenarioFor('background', { RATE: '2.5' }) as { rate: number; timeUnit: string }).rate, 25);
    assert.throws(() => scenarioFor('steady', { RATE: 'fast' }), /RATE must be a number/);
    assert.throws(() => scenarioFor('soak', { DURATION: '10 minutes' }), /DURATION must be a duration/);
    // The smoke run is strict and stops early when valid orders fail; background never aborts.
    assert.match(JSON.stringify(thresholdsFor('smoke')), /abortOnFail/);
    assert.doesNotMatch(JSON.stringify(thresholdsFor('background')), /abortOnFail/);
  });

  test('traceparent: version 00, 16-byte trace id, 8-byte parent id, sampled', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { traceId, parentId, header } = newTraceparent();
      assert.match(header, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      assert.deepEqual(parseTraceparent(header), { traceId, parentId, flags: '01' });
      seen.add(traceId);
    }
    assert.equal(seen.size, 200);
    assert.equal(parseTraceparent(`00-${'0'.repeat(32)}-${'1'.repeat(16)}-01`), undefined);
  });
});

describe("k6's client spans (loadgen/lib/client-spans.js)", () => {
  const span = (i: number, endMs = 1_700_000_000_123 + i): ClientSpan => ({
    traceId: 'a'.repeat(31) + (i % 10),
    spanId: 'b'.repeat(15) + (i % 10),
    name: 'GET /orders/:id',
    startMs: endMs - 95,
    endMs,
    attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200 },
  });

  test('OTLP/JSON: hex ids, nanoseconds as exact decimal strings, a client span, ERROR only on failure', () => {
    const request = exportTraceRequest('k6', [span(1), { ...span(2), error: '502' }]) as unknown as {
      resourceSpans: Array<{ resource: { attributes: unknown[] }; scopeSpans: Array<{ spans: Array<Record<string, unknown>> }> }>;
    };
    const [resource] = request.resourceSpans;
    assert.deepEqual(resource!.resource.attributes, [{ key: 'service.name', value: { stringValue: 'k6' } }]);
    const [ok, failed] = resource!.scopeSpans[0]!.spans;
    assert.equal(ok!.traceId, `${'a'.repeat(31)}1`);
    assert.equal(ok!.spanId, `${'b'.repeat(15)}1`);
    assert.equal(ok!.kind, 3);
    assert.equal(ok!.startTimeUnixNano, '1700000000029000000');
    assert.equal(ok!.endTimeUnixNano, '1700000000124000000');
    assert.deepEqual(ok!.attributes, [
      { key: 'http.request.method', value: { stringValue: 'GET' } },
      { key: 'http.response.status_code', value: { intValue: '200' } },
    ]);
    assert.deepEqual(ok!.status, {});
    assert.deepEqual(failed!.status, { code: 2, message: '502' });
  });

  test('a buffer sends when full, when its oldest span has waited, and after every span near the end', () => {
    let now = 1_700_000_000_000;
    const sent: number[] = [];
    const buffer = new SpanBuffer({
      serviceName: 'k6',
      send: (body) => sent.push(JSON.parse(body).resourceSpans[0].scopeSpans[0].spans.length),
      now: () => now,
    });
    for (let i = 0; i < MAX_SPANS_PER_EXPORT + 5; i++) buffer.add(span(i, now));
    assert.deepEqual(sent, [MAX_SPANS_PER_EXPORT]);
    now += MAX_SPAN_WAIT_MS;
    buffer.add(span(0, now));
    assert.deepEqual(sent, [MAX_SPANS_PER_EXPORT, 6]);
    buffer.add(span(1, now), MAX_SPAN_WAIT_MS);
    assert.deepEqual(sent, [MAX_SPANS_PER_EXPORT, 6, 1]);
    assert.equal(remainingMs({ startTime: 1000, progress: 0.25 }, 2000), 3000);
    assert.equal(remainingMs({ startTime: 1000, progress: 0 }, 2000), Infinity);
  });

  test('on with an OTLP endpoint, off without one or when disabled', () => {
    assert.equal(tracesEndpointFromEnv({}), undefined);
    assert.equal(tracesEndpointFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318/' }), 'http://otel-collector:4318/v1/traces');
    assert.equal(tracesEndpointFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/x', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://d' }), 'http://c:4318/x');
    assert.equal(tracesEndpointFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://d', OTEL_SDK_DISABLED: 'true' }), undefined);
    assert.equal(tracesEndpointFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://d', OTEL_TRACES_EXPORTER: 'none' }), undefined);
  });
});

describe('npm run load -- smoke, against the three services', () => {
  let inventory: RunningService;
  let pricing: RunningService;
  let order: RunningService;
  let outDir: string;
  /** What k6 posted as its client spans: a stand-in for the Collector's OTLP/HTTP receiver. */
  const exports: Array<{
    service: string;
    spans: Array<{ traceId: string; spanId: string; kind: number; startTimeUnixNano: string; endTimeUnixNano: string }>;
  }> = [];
  const otlpReceiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const parsed = JSON.parse(body) as {
        resourceSpans: Array<{
          resource: { attributes: Array<{ value: { stringValue: string } }> };
          scopeSpans: Array<{ spans: (typeof exports)[number]['spans'] }>;
        }>;
      };
      for (const resourceSpans of parsed.resourceSpans) {
        exports.push({ service: resourceSpans.resource.attributes[0]!.value.stringValue, spans: resourceSpans.scopeSpans.flatMap((scope) => scope.spans) });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });

  before(async () => {
    requireTool('k6');
    otlpReceiver.listen(0, '127.0.0.1');
    await once(otlpReceiver, 'listening');
    outDir = mkdtempSync(join(tmpdir(), 'loadgen-test-'));
    // The slow path starts off so that the passing run is deterministic; the test below turns it
    // on for every request at run time.
    [inventory, pricing] = await Promise.all([startService('inventory', { SLOW_PATH_RATE: '0' }), startService('pricing')]);
    order = await startService('order', { INVENTORY_URL: inventory.url, PRICING_URL: pricing.url });
  });

  after(async () => {
    await Promise.all([order, inventory, pricing].filter(Boolean).map((service) => service.stop()));
    if (outDir) rmSync(outDir, { recursive: true, force: true });
    otlpReceiver.close();
  });

  const smoke = (name: string, extraArgs: string[] = [], duration = SMOKE_DURATION) =>
    load(['smoke', '--no-remote-write', '--out', `json=${join(outDir, `${name}.json`)}`, ...extraArgs], {
      ORDER_URL: order.url,
      DURATION: duration,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(otlpReceiver.address() as AddressInfo).port}`,
    });

  /** trace_id metadata of the order requests k6 made, by flow, from k6's JSON output. */
  function k6TraceIds(name: string): Map<string, string> {
    const byTrace = new Map<string, string>();
    for (const line of readFileSync(join(outDir, `${name}.json`), 'utf8').split('\n')) {
      if (!line.includes('"http_reqs"') || !line.includes('"Point"')) continue;
      const sample = JSON.parse(line) as { data: { tags: Record<string, string>; metadata?: Record<string, string> } };
      const flow = sample.data.tags.flow;
      if (flow === 'valid' || flow === 'error_path') {
        const traceId = sample.data.metadata?.trace_id;
        assert.match(traceId ?? '', /^[0-9a-f]{32}$/, `a ${flow} request without a trace_id: ${line}`);
        byTrace.set(traceId!, flow);
      }
    }
    return byTrace;
  }

  test('passes, and order honours the traceparent k6 generated', async () => {
    const result = await smoke('healthy');
    assert.equal(result.code, 0, describeRun('npm run load -- smoke', result));
    assert.match(result.stdout, /order answered 200/);

    const k6Traces = k6TraceIds('healthy');
    const flows = [...k6Traces.values()];
    assert.ok(flows.filter((flow) => flow === 'valid').length >= 10, `too few valid requests: ${flows.length}`);
    assert.ok(flows.includes('error_path'), 'no request went to the error path');

    const orderServerSpans = (await order.spans()).filter((span) => span.service === 'order' && span.kind === SpanKind.SERVER);
    const orderTraces = new Set(orderServerSpans.map((span) => span.traceId));
    const missing = [...k6Traces.keys()].filter((traceId) => !orderTraces.has(traceId));
    assert.deepEqual(missing, [], `order has no server span in these k6 traces: the traceparent was not honoured`);

    // x-user-id reaches the business span.
    const details = (await order.spans()).filter((span) => span.name === 'fetch-order-details' && k6Traces.has(span.traceId));
    assert.ok(details.length > 0 && details.every((span) => /^user-\d+$/.test(String(span.attributes['user.id']))));

    // k6 sent its own client span for every request, in batches: the parent of order's server span,
    // around it in time.
    const clientSpans = new Map(exports.flatMap((batch) => batch.spans.map((span) => [span.traceId, { ...span, service: batch.service }] as const)));
    assert.deepEqual(
      [...k6Traces.keys()].filter((traceId) => !clientSpans.has(traceId)),
      [],
      'k6 requests without a client span',
    );
    console.log(`k6 client spans: ${clientSpans.size} in ${exports.length} exports`);
    assert.ok(exports.length * 2 <= clientSpans.size, `${exports.length} exports for ${clientSpans.size} spans: not batched`);
    for (const server of orderServerSpans.filter((span) => k6Traces.has(span.traceId))) {
      const client = clientSpans.get(server.traceId)!;
      assert.equal(client.service, 'k6');
      assert.equal(client.kind, 3);
      assert.equal(server.parentSpanId, client.spanId, "order's server span is a child of k6's client span");
      // Both clocks are the machine's wall clock: k6's Date.now() in whole milliseconds, and the
      // SDK's, which starts a span at Date.now() too. order receives the request after k6 took its
      // start, so that order holds exactly. Its end may trail k6's: the http instrumentation ends
      // the server span on the response's 'close' event, a tick or more after the response has left
      // (k6 often has it first), and k6's end is rounded down: up to 1.3 ms on an idle machine,
      // more on a busy one. 10 ms is allowed; the smoke's requests take some 20 to 140 ms, so a
      // client span that ended before its request came back still fails.
      const clientStartMs = Number(BigInt(client.startTimeUnixNano) / 1_000_000n);
      const clientEndMs = Number(BigInt(client.endTimeUnixNano) / 1_000_000n);
      const timing = `k6 ${clientStartMs}–${clientEndMs}, order ${server.startMs}–${server.endMs} (ms)`;
      assert.ok(server.startMs >= clientStartMs, `order's server span starts before k6 sent the request: ${timing}`);
      assert.ok(server.endMs <= clientEndMs + CLOSE_EVENT_SLACK_MS, `order's server span ends well after k6's: ${timing}`);
    }
  });

  test('fails when the slow path takes every request', async () => {
    const put = (rate: number) =>
      fetch(`${inventory.url}/admin/slow-path`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rate }) });
    assert.equal((await put(1)).status, 200);
    try {
      const result = await smoke('all-slow', [], '5s');
      assert.equal(result.code, 99, describeRun('smoke with the slow path on for every request (thresholds must fail)', result));
      assert.match(result.stdout, /order_slow_responses[\s\S]*✗ 'rate<0.10'/);
    } finally {
      assert.equal((await put(0)).status, 200);
    }
  });

  test("a run stopped mid-way, as Ctrl-C stops it, leaves no order without k6's client span", async () => {
    // The slow path on a third of the requests keeps some in flight for 3 s when the stop comes.
    const put = (rate: number) =>
      fetch(`${inventory.url}/admin/slow-path`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rate }) });
    assert.equal((await put(0.3)).status, 200);
    const startedAt = Date.now();
    try {
      const runner = spawn(process.execPath, ['loadgen/run.ts', 'steady', '--no-remote-write', '--quiet'], {
        cwd: repoRoot,
        env: {
          ...process.env,
          NO_COLOR: '1',
          ORDER_URL: order.url,
          RATE: '20',
          DURATION: '60s',
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(otlpReceiver.address() as AddressInfo).port}`,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      runner.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      await new Promise((resolve) => setTimeout(resolve, 8000));
      runner.kill('SIGINT');
      const [code] = (await once(runner, 'exit')) as [number | null];
      const stoppedMs = Date.now() - startedAt;
      assert.match(stderr, /load: stopping: no new orders/, stderr);
      assert.ok(stoppedMs < 30_000, `the stop took ${stoppedMs} ms`);

      const servers = (await order.spans()).filter((span) => span.service === 'order' && span.kind === SpanKind.SERVER && span.startMs >= startedAt);
      const clientSpanIds = new Set(exports.flatMap((batch) => batch.spans.map((span) => span.spanId)));
      const rootless = servers.filter((span) => span.parentSpanId && !clientSpanIds.has(span.parentSpanId)).map((span) => span.traceId);
      console.log(`stopped after ${(stoppedMs / 1000).toFixed(1)} s (runner exit ${code}): ${servers.length} orders, ${rootless.length} without k6's span`);
      assert.ok(servers.length >= 100, `only ${servers.length} orders before the stop`);
      assert.deepEqual(rootless, [], 'orders whose k6 client span was never sent: traces without their root');
    } finally {
      assert.equal((await put(0)).status, 200);
    }
  });

  test('run.ts warns before a rate above what this machine held in the last bench:load, and says how to measure it when nothing is', () => {
    const held = { rate: 300, profile: 'default', at: '2026-12-04T20:00:00.000Z' };
    assert.equal(capacityWarning(300, held), undefined);
    assert.match(
      capacityWarning(500, held) ?? '',
      /^load: warning: 500 orders\/s is above the 300\/s this machine held in the last `npm run bench:load` \(2026-12-04, default profile\)/,
    );
    assert.equal(capacityWarning(20, undefined), undefined, 'a light run needs no word');
    assert.match(capacityWarning(500, undefined) ?? '', /never measured: `npm run bench:load` finds the highest rate it holds/);
  });

  test('run.ts hands extra flags to k6 only when k6 accepts them: a typo is one line and exit 2', async () => {
    const ran = await load(['steady', '--bogus-flag']);
    assert.equal(ran.code, 2, describeRun('run.ts steady --bogus-flag', ran));
    assert.match(ran.stderr, /k6 refuses the flags --bogus-flag: unknown flag: --bogus-flag \(see k6 run --help\)/);
  });

  test('fails when pricing is down, and logs the failed requests with their trace ids', async () => {
    await pricing.stop();
    const result = await smoke('pricing-down', [], '10s');
    assert.notEqual(result.code, 0, describeRun('smoke with pricing down (must fail)', result));
    assert.equal(result.code, 99, describeRun('smoke with pricing down: thresholds should fail it', result));
    assert.match(result.stderr, /failed: GET \/orders\/\d+ \(valid\) status 502 .*trace_id=[0-9a-f]{32}/);
  });
});
