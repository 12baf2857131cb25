// End to end through the real OpenTelemetry Collector: spans made with the SDK tracer,
// measurements recorded inside them, exported by OUR exemplar exporter over OTLP/gRPC to the
// Collector (`npm run tools` builds it from otel-collector/builder-config.yaml), run with the
// repository's otel-collector/config.yaml on free local ports. The Collector's debug exporter
// (verbosity detailed) prints what it received: the exemplars must be there with our trace and
// span ids. Remote write goes to a stub that answers 204 (the Prometheus leg is tested elsewhere).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { context, trace, type Span } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { StackContextManager, TracerProvider } from '@opentelemetry/sdk-trace';
import { createExemplarHistogram, createExemplarMetricExporter, ExemplarStore } from '../services/shared/src/exemplars/index.ts';
import { HTTP_REQUEST_DURATION, HTTP_REQUEST_DURATION_OPTIONS } from '../services/shared/src/request-metrics.ts';
import { repoRoot, requireTool } from '../native/tools.ts';
import { eventually } from '../native/eventually.ts';
import { freePort } from './support/free-port.ts';

class ManualReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

/** eventually(), with the Collector's output in the failure message. */
function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, log: () => string): Promise<T> {
  // A probe's own assertion (the Collector exited) ends the wait at once.
  return eventually(async () => probe(), what, timeoutMs, 100, { giveUpOn: (error) => error instanceof assert.AssertionError }).catch((error: unknown) =>
    assert.fail(`${error instanceof Error ? error.message : String(error)}\n--- collector output ---\n${log()}`),
  );
}

interface LoggedExemplar {
  traceId: string;
  spanId: string;
  value: number;
}

/** The exemplars of `metric` in the debug exporter's detailed output, per data point route. */
function loggedExemplars(output: string, metric: string): Map<string, LoggedExemplar[]> {
  const byRoute = new Map<string, LoggedExemplar[]>();
  // One "Metric #n" section per metric; each histogram data point lists its attributes then its exemplars.
  for (const section of output.split(/Metric #\d+/)) {
    if (!new RegExp(`-> Name: ${metric.replaceAll('.', '\\.')}\\s`).test(section)) continue;
    for (const point of section.split(/HistogramDataPoints #\d+/).slice(1)) {
      const route = /-> http\.route: Str\(([^)]*)\)/.exec(point)?.[1] ?? '';
      const list = byRoute.get(route) ?? [];
      for (const m of point.matchAll(
        /Exemplar #\d+\s+-> Trace ID: ([0-9a-f]*)\s+-> Span ID: ([0-9a-f]*)\s+-> Timestamp: [^\n]*\n[^\n]*-> Value: ([0-9.eE+-]+)/g,
      )) {
        list.push({ traceId: m[1]!, spanId: m[2]!, value: Number(m[3]) });
      }
      byRoute.set(route, list);
    }
  }
  return byRoute;
}

describe('exemplars through the real OpenTelemetry Collector', () => {
  let collector: ChildProcess | undefined;
  let remoteWrite: Server | undefined;
  let output = '';
  let remoteWrites = 0;
  let grpcPort = 0;
  const contextManager = new StackContextManager();

  before(async () => {
    const otelcol = requireTool('otelcol'); // fails with "run `npm run tools`" when missing
    context.setGlobalContextManager(contextManager.enable());

    remoteWrite = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        remoteWrites++;
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => remoteWrite!.listen(0, '127.0.0.1', resolve));
    const remoteWritePort = (remoteWrite.address() as AddressInfo).port;

    grpcPort = await freePort();
    const [httpPort, healthPort, metricsPort, tempoPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    collector = spawn(otelcol, ['--config', path.join(repoRoot, 'otel-collector', 'config.yaml')], {
      cwd: repoRoot,
      env: {
        ...process.env,
        OTELCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpcPort}`,
        OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${httpPort}`,
        OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${healthPort}`,
        OTELCOL_METRICS_HOST: '127.0.0.1',
        OTELCOL_METRICS_PORT: String(metricsPort),
        OTELCOL_DEBUG_VERBOSITY: 'detailed',
        TEMPO_OTLP_ENDPOINT: `127.0.0.1:${tempoPort}`, // nothing listens: no traces are sent in this test
        PROMETHEUS_REMOTE_WRITE_URL: `http://127.0.0.1:${remoteWritePort}/api/v1/write`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    collector.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    collector.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => collector!.once('exit', resolve));

    await waitFor(
      "the Collector's health check",
      async () => {
        if (collector!.exitCode !== null) assert.fail(`the Collector exited with ${await exited}\n${output}`);
        const ok = await fetch(`http://127.0.0.1:${healthPort}/`).then(
          (r) => r.ok,
          () => false,
        );
        return ok ? true : undefined;
      },
      30_000,
      () => output,
    );
  });

  after(async () => {
    context.disable();
    if (collector && collector.exitCode === null) {
      const exited = new Promise((resolve) => collector!.once('exit', resolve));
      collector.kill('SIGTERM');
      const timer = setTimeout(() => collector!.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (remoteWrite) await new Promise((resolve) => remoteWrite!.close(resolve));
  });

  test('the Collector receives the histogram with our exemplars: trace ids, span ids, values in seconds', async () => {
    const tracerProvider = new TracerProvider();
    const tracer = tracerProvider.getTracer('exemplars-collector-test');
    const reader = new ManualReader();
    const meterProvider = new MeterProvider({
      readers: [reader],
      resource: resourceFromAttributes({ 'service.name': 'exemplars-collector-test' }),
    });
    const store = new ExemplarStore({ filter: 'always_on' });
    const histogram = createExemplarHistogram(meterProvider.getMeter('exemplars-collector-test'), HTTP_REQUEST_DURATION, HTTP_REQUEST_DURATION_OPTIONS, store);
    const exporter = createExemplarMetricExporter(store, { url: `http://127.0.0.1:${grpcPort}` });

    const inSpan = (name: string, fn: () => void): Span => {
      const span = tracer.startSpan(name);
      context.with(trace.setSpan(context.active(), span), fn);
      span.end();
      return span;
    };
    const attributes = (route: string, status: number) => ({ 'http.request.method': 'GET', 'http.route': route, 'http.response.status_code': status });
    const fast = inSpan('GET /orders/:id fast', () => histogram.record(0.042, attributes('/orders/:id', 200)));
    const slow = inSpan('GET /orders/:id slow', () => histogram.record(3.4, attributes('/orders/:id', 200)));
    const stock = inSpan('GET /stock/:id', () => histogram.record(0.12, attributes('/stock/:id', 200)));

    const { resourceMetrics } = await reader.collect();
    const result = await new Promise<ExportResult>((resolve) => exporter.export(resourceMetrics, resolve));
    assert.equal(result.code, ExportResultCode.SUCCESS, `export failed: ${result.error?.message}\n${output}`);

    const expected = new Map([
      ['/orders/:id', [fast, slow].map((s, i) => ({ traceId: s.spanContext().traceId, spanId: s.spanContext().spanId, value: [0.042, 3.4][i]! }))],
      ['/stock/:id', [{ traceId: stock.spanContext().traceId, spanId: stock.spanContext().spanId, value: 0.12 }]],
    ]);
    const logged = await waitFor(
      "the exemplars in the Collector's debug output",
      () => {
        const found = loggedExemplars(output, HTTP_REQUEST_DURATION);
        return [...expected.keys()].every((route) => (found.get(route)?.length ?? 0) >= expected.get(route)!.length) ? found : undefined;
      },
      20_000,
      () => output,
    );
    for (const [route, exemplars] of expected) {
      const got = logged.get(route)!;
      for (const want of exemplars) {
        assert.ok(
          got.some((e) => e.traceId === want.traceId && e.spanId === want.spanId && Math.abs(e.value - want.value) < 1e-6),
          `exemplar ${JSON.stringify(want)} for ${route} in ${JSON.stringify(got)}`,
        );
      }
    }
    assert.match(output, /-> Unit: s\s/, 'the unit is seconds');

    // A second export sends the cumulative histogram again, without the exemplars already sent.
    const before = output.length;
    const { resourceMetrics: secondMetrics } = await reader.collect();
    const again = await new Promise<ExportResult>((resolve) => exporter.export(secondMetrics, resolve));
    assert.equal(again.code, ExportResultCode.SUCCESS);
    const second = await waitFor(
      "the second export in the Collector's debug output",
      () => {
        const tail = output.slice(before);
        return /-> Name: http\.request\.duration\s/.test(tail) && /HistogramDataPoints #\d+/.test(tail) ? tail : undefined;
      },
      20_000,
      () => output,
    );
    assert.doesNotMatch(second, /Exemplar #\d+/, 'no exemplar is sent twice');

    // And the metrics pipeline reached the remote-write endpoint.
    await waitFor(
      'a remote-write request',
      () => (remoteWrites > 0 ? true : undefined),
      20_000,
      () => output,
    );

    await exporter.shutdown();
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
  });
});
