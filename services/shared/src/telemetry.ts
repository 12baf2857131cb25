// The one place where the services' OpenTelemetry SDK is set up: a tracer provider and a meter
// provider, the http instrumentation, the W3C propagators and the async-local-storage context,
// which is what NodeSDK (@opentelemetry/sdk-node) would set up here, without the exporters it
// loads and these services never use (otel-env.ts says why).
//
// Traces and metrics go over OTLP/gRPC (our default; the Node SDK's own default is http/protobuf)
// to OTEL_EXPORTER_OTLP_ENDPOINT, which the gRPC exporters default to http://localhost:4317.
// Every other standard OTEL_* variable keeps its meaning: OTEL_SDK_DISABLED, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER (the SDK default parentbased_always_on samples
// everything, which the exemplar → trace jump needs), OTEL_PROPAGATORS, OTEL_BSP_*, the span
// limits, OTEL_LOG_LEVEL, OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout, compression),
// OTEL_METRIC_EXPORT_INTERVAL (5 s here instead of the spec's 60 s so a demo shows data quickly)
// and OTEL_METRICS_EXEMPLAR_FILTER (see ./exemplars/).
import { context, createNoopMeter, DiagConsoleLogger, diag, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { diagLogLevelFromString, getBooleanFromEnv, getStringFromEnv } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
} from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import { createExemplarMetricExporter, ExemplarStore, meterProviderWithExemplars } from './exemplars/index.ts';
import { freshChannelMetricExporter, freshChannelSpanExporter } from './fresh-channel.ts';
import { batchSpanProcessorOptionsFromEnv, metricExportIntervalFromEnv, propagatorFromEnv, samplerFromEnv, spanLimitsFromEnv } from './otel-env.ts';
import { onShutdown } from './shutdown.ts';

export interface TelemetryOptions {
  /** Default for service.name; OTEL_SERVICE_NAME overrides it. */
  serviceName: string;
  serviceVersion?: string;
  /** Tests pass an in-memory processor here; by default spans go to the OTLP/gRPC exporter. */
  spanProcessors?: SpanProcessor[];
  /** Tests pass their own reader here; by default metrics go to the exemplar-aware OTLP/gRPC exporter. */
  metricReaders?: IMetricReader[];
}

const DEFAULT_METRIC_EXPORT_INTERVAL_MS = 5000;
/**
 * Longest string an attribute of a span or span event may hold (OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT
 * or OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT override it): a hostile URL, header or error message is cut
 * here, before it is exported. The OpenTelemetry default is no limit.
 */
export const ATTRIBUTE_VALUE_LENGTH_LIMIT = 1024;
// Health probes run every few seconds: tracing them would bury the requests worth looking at.
const UNTRACED_PATHS = new Set(['/healthz']);

let started = false;
let providers: { tracerProvider: TracerProvider; meterProvider: MeterProvider } | undefined;

/**
 * Starts the SDK and registers it with the API, and the final flush with serve()'s shutdown. Returns
 * the exemplar store its metric exporter reads (tests serialize with it). With OTEL_SDK_DISABLED=true
 * nothing is started: no provider, no instrumentation patches.
 */
export function startTelemetry(options: TelemetryOptions): { exemplars: ExemplarStore } {
  if (started) throw new Error('telemetry is already started in this process');
  started = true;
  const exemplars = new ExemplarStore();
  if (getBooleanFromEnv('OTEL_SDK_DISABLED')) return { exemplars };

  const logLevel = getStringFromEnv('OTEL_LOG_LEVEL');
  if (logLevel !== undefined) diag.setLogger(new DiagConsoleLogger(), { logLevel: diagLogLevelFromString(logLevel) });
  const resource = defaultResource()
    .merge(
      resourceFromAttributes({
        'service.name': options.serviceName,
        'service.version': options.serviceVersion ?? '0.1.0',
        'deployment.environment': 'local',
      }),
    )
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (envDetector) take precedence over the above.
    // No process detector: its ten attributes (pid, runtime, command line, arguments, executable,
    // owner) tell a reader of the demo nothing, and Tempo holds a service's resource once in every
    // trace: without them Tempo needs about 200 MiB less at 500 req/s, and 15 % less CPU.
    .merge(detectResources({ detectors: [serviceInstanceIdDetector, hostDetector, osDetector, envDetector] }));

  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const propagator = propagatorFromEnv();
  if (propagator) propagation.setGlobalPropagator(propagator);

  const spanLimits = spanLimitsFromEnv();
  const tracerProvider = new TracerProvider({
    resource,
    sampler: samplerFromEnv(),
    spanLimits: { ...spanLimits, attributeValueLengthLimit: spanLimits.attributeValueLengthLimit ?? ATTRIBUTE_VALUE_LENGTH_LIMIT },
    spanProcessors: options.spanProcessors ?? [
      new BatchSpanProcessor({ exporter: freshChannelSpanExporter(() => new OTLPTraceExporter()), ...batchSpanProcessorOptionsFromEnv() }),
    ],
  });
  trace.setGlobalTracerProvider(tracerProvider);

  const meterProvider = new MeterProvider({
    resource,
    readers: options.metricReaders ?? [
      new PeriodicExportingMetricReader({
        exporter: freshChannelMetricExporter(() => createExemplarMetricExporter(exemplars)),
        exportIntervalMillis: metricExportIntervalFromEnv(DEFAULT_METRIC_EXPORT_INTERVAL_MS),
      }),
    ],
  });
  // Exemplars (./exemplars/): the global MeterProvider hands out histograms that keep them, for the
  // exporter above. Once OpenTelemetry JS records exemplars itself, the wrapper goes, the stock
  // exporter replaces createExemplarMetricExporter, and the code that records stays as it is.
  metrics.setGlobalMeterProvider(meterProviderWithExemplars(meterProvider, exemplars));

  registerInstrumentations({
    // The spans a reader of a trace needs and no others: the HTTP server span (named after its
    // route by request-metrics.ts), the client spans of calls to other services (http-client.ts),
    // and the services' own spans. No express instrumentation: its middleware, router and handler
    // spans (two thirds of all spans) say nothing about a request.
    instrumentations: [new HttpInstrumentation({ ignoreIncomingRequestHook: (request: IncomingMessage) => UNTRACED_PATHS.has(request.url ?? '') })],
    tracerProvider,
    // The http instrumentation times every request as well (http.server.request.duration,
    // http.client.request.duration): the services' own http.request.duration, with exemplars, is
    // the one the dashboards read, so the instrumentation gets a meter that records nothing rather
    // than measuring each request twice.
    meterProvider: { getMeter: () => createNoopMeter() },
  });

  providers = { tracerProvider, meterProvider };
  onShutdown(shutdownTelemetry);
  return { exemplars };
}

/** Flushes and stops telemetry (serve() calls it on SIGTERM, through onShutdown). */
async function shutdownTelemetry(): Promise<void> {
  const running = providers;
  providers = undefined;
  // Shutting down exports what is left: the batch span processor's queue, and one last collection of
  // the metrics (the periodic reader exports before it stops).
  await Promise.all([running?.tracerProvider.shutdown(), running?.meterProvider.shutdown()]);
}

/**
 * The service's name and version from the package.json nearest to its entry point:
 * services/order/src/main.ts belongs to @spike-to-trace/order, so service.name is "order".
 */
export function serviceIdentityOf(entryPoint: string | undefined): { serviceName: string; serviceVersion?: string } {
  for (let dir = dirname(entryPoint ?? '.'); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name) return { serviceName: pkg.name.replace(/^@[^/]+\//, ''), serviceVersion: pkg.version };
    } catch {
      // no package.json here: keep walking up
    }
    if (dirname(dir) === dir) return { serviceName: 'unknown_service:node' };
  }
}
