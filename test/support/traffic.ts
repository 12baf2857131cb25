// Traffic whose traces the end-to-end tests can look up: k6 with LOG_TRACE_IDS (each request's trace
// id, flow, status and duration, parsed from its log) and the test's own requests with trace ids it
// chose.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newTraceparent } from '../../loadgen/lib/traceparent.js';
import { startLoad } from '../../loadgen/run.ts';
import { stateDir } from '../../native/stack-components.ts';
import { urls } from '../../native/stack.ts';

/** A request whose trace id the test knows: its own, or one k6 logged. */
export interface KnownTrace {
  traceId: string;
  /** Sent to an order id above 9999: pricing answers 500, order 502. */
  error: boolean;
  /** Answered in more than `slowMs`. */
  slow: boolean;
  /** Sent by k6, whose own client span is the trace's root; else by the test, whose traceparent has no span. */
  fromK6: boolean;
}

export interface K6Run {
  exitCode: number;
  requestsPerSecond: number;
  /** Requests to order: k6's iterations, one order each (http_reqs counts its probe and span exports too). */
  requests: number;
  /** Requests that failed by k6's rules (http_req_failed: an unexpected status or no answer). */
  failed: number;
  /** p99 of the valid orders that did not take the slow path, ms (order_duration_normal). */
  normalP99Ms: number;
  traces: KnownTrace[];
}

/**
 * k6's steady scenario against the native stack, every request logged with its trace id. Exit 99
 * (a threshold failed) is accepted: the tests raise the slow path far above its usual 2 %.
 */
export async function runK6(options: { rate: number; seconds: number; slowMs: number; env?: Record<string, string> }): Promise<K6Run> {
  const outDir = join(stateDir, 'e2e');
  mkdirSync(outDir, { recursive: true });
  const summaryFile = join(outDir, 'k6-summary.json');
  const load = await startLoad({
    scenario: 'steady',
    orderUrl: urls.order,
    prometheusUrl: urls.prometheus,
    env: { RATE: String(options.rate), DURATION: `${options.seconds}s`, LOG_TRACE_IDS: '1', ...options.env },
    k6Args: ['--quiet', '--summary-export', summaryFile],
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  assert.ok(load.invocation.remoteWriteUrl, "k6 should remote write to the stack's Prometheus");
  let stderr = '';
  load.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exitCode = await load.exited;
  const traces = [...stderr.matchAll(/trace_id=([0-9a-f]{32}) order=\d+ flow=(valid|error_path) status=(\d+) ms=(\d+)/g)].map((match) => ({
    traceId: match[1]!,
    error: match[2] === 'error_path',
    slow: Number(match[4]) > options.slowMs,
    fromK6: true,
  }));
  const { metrics } = JSON.parse(readFileSync(summaryFile, 'utf8')) as {
    metrics: { iterations: { count: number; rate: number }; http_req_failed: { passes: number }; order_duration_normal: { 'p(99)': number } };
  };
  assert.ok(exitCode === 0 || exitCode === 99, `k6 failed with exit code ${exitCode}:\n${stderr.slice(-2000)}`);
  assert.ok(traces.length > 100, `k6 logged only ${traces.length} trace ids`);
  return {
    exitCode,
    requestsPerSecond: metrics.iterations.rate,
    requests: metrics.iterations.count,
    // A Rate metric's "passes" are its true values: for http_req_failed, the failures.
    failed: metrics.http_req_failed.passes,
    normalP99Ms: metrics.order_duration_normal['p(99)'],
    traces,
  };
}

/**
 * The test's own requests, with trace ids it chose: five orders for items pricing does not know,
 * then valid orders until three took longer than `slowMs`.
 */
export async function sendOwnTracedRequests(slowMs: number): Promise<KnownTrace[]> {
  const traces: KnownTrace[] = [];
  const send = async (orderId: number, expectedStatus: number) => {
    const { traceId, header } = newTraceparent();
    const started = performance.now();
    const response = await fetch(`${urls.order}/orders/${orderId}`, { headers: { traceparent: header, 'x-user-id': 'e2e' } });
    assert.equal(response.status, expectedStatus);
    await response.arrayBuffer();
    traces.push({ traceId, error: expectedStatus !== 200, slow: performance.now() - started > slowMs, fromK6: false });
  };
  for (let i = 0; i < 5; i++) await send(10_000 + i, 502);
  for (let i = 0; i < 200 && traces.filter((t) => t.slow).length < 3; i++) await send(100 + i, 200);
  return traces;
}
