// The one place where the services' OpenTelemetry SDK is set up.
//
// Traces and metrics go over OTLP/gRPC (our default; the Node SDK's own default is http/protobuf)
// to OTEL_EXPORTER_OTLP_ENDPOINT, which the gRPC exporters default to http://localhost:4317.
// Every other standard OTEL_* variable keeps its meaning: OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER (the SDK default parentbased_always_on samples
// everything, which the exemplar → trace jump needs), OTEL_EXPORTER_OTLP_* (endpoint, headers,
// timeout, compression), OTEL_METRIC_EXPORT_INTERVAL (5 s here instead of the spec's 60 s so a
// demo shows data quickly) and OTEL_METRICS_EXEMPLAR_FILTER (see ./exemplars/).
import { createNoopMeter, metrics } from '@opentelemetry/api';
import { getBooleanFromEnv, getNumberFromEnv } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import { createExemplarMetricExporter, ExemplarStore, meterProviderWithExemplars } from './exemplars/index.ts';
import { freshChannelMetricExporter, freshChannelSpanExporter } from './fresh-channel.ts';
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

let sdk: NodeSDK | undefined;

/**
 * Starts the SDK and registers it with the API, and the final flush with serve()'s shutdown. Returns
 * the exemplar store its metric exporter reads (tests serialize with it).
 */
export function startTelemetry(options: TelemetryOptions): { sdk: NodeSDK; exemplars: ExemplarStore } {
  if (sdk) throw new Error('telemetry is already started in this process');
  const exemplars = new ExemplarStore();

  const httpInstrumentation = getBooleanFromEnv('OTEL_SDK_DISABLED')
    ? undefined
    : new HttpInstrumentation({ ignoreIncomingRequestHook: (request: IncomingMessage) => UNTRACED_PATHS.has(request.url ?? '') });

  sdk = new NodeSDK({
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are detected later and take precedence.
    resource: defaultResource().merge(
      resourceFromAttributes({
        'service.name': options.serviceName,
        'service.version': options.serviceVersion ?? '0.1.0',
        'deployment.environment': 'local',
      }),
    ),
    spanProcessors: options.spanProcessors,
    spanLimits: {
      attributeValueLengthLimit:
        getNumberFromEnv('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT') ?? getNumberFromEnv('OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT') ?? ATTRIBUTE_VALUE_LENGTH_LIMIT,
    },
    traceExporter: options.spanProcessors ? undefined : freshChannelSpanExporter(() => new OTLPTraceExporter()),
    metricReaders: options.metricReaders ?? [
      new PeriodicExportingMetricReader({
        exporter: freshChannelMetricExporter(() => createExemplarMetricExporter(exemplars)),
        exportIntervalMillis: metricExportIntervalMs(),
      }),
    ],
    // The services log to stdout; an OTLP log pipeline is not part of this demo.
    logRecordProcessors: [],
    // The spans a reader of a trace needs and no others: the HTTP server span (named after its
    // route by request-metrics.ts), the client spans of calls to other services (http-client.ts),
    // and the services' own spans. No express instrumentation: its middleware, router and handler
    // spans (two thirds of all spans) say nothing about a request.
    // OTEL_SDK_DISABLED=true: none at all (it patches http as soon as it is made, and would compute
    // every request's attributes for a tracer that records nothing).
    instrumentations: httpInstrumentation ? [httpInstrumentation] : [],
  });
  sdk.start();
  // The http instrumentation times every request as well (http.server.request.duration,
  // http.client.request.duration): the services' own http.request.duration, with exemplars, is the
  // one the dashboards read, so the instrumentation gets a meter that records nothing rather than
  // measuring each request twice (set after start(), which hands it the global MeterProvider).
  httpInstrumentation?.setMeterProvider({ getMeter: () => createNoopMeter() });
  // Exemplars (./exemplars/): the global MeterProvider hands out histograms that keep them, for the
  // exporter above. Once OpenTelemetry JS records exemplars itself, these lines go, the stock
  // exporter replaces createExemplarMetricExporter, and the code that records stays as it is.
  if (!getBooleanFromEnv('OTEL_SDK_DISABLED')) {
    const sdkMeterProvider = metrics.getMeterProvider();
    metrics.disable();
    metrics.setGlobalMeterProvider(meterProviderWithExemplars(sdkMeterProvider, exemplars));
  }
  onShutdown(shutdownTelemetry);
  return { sdk, exemplars };
}

/** Flushes and stops telemetry (serve() calls it on SIGTERM, through onShutdown). */
async function shutdownTelemetry(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  // Shutting down exports what is left: the batch span processor's queue, and one last collection of
  // the metrics (the periodic reader exports before it stops).
  await running?.shutdown();
}

function metricExportIntervalMs(): number {
  const raw = process.env.OTEL_METRIC_EXPORT_INTERVAL;
  const parsed = raw === undefined || raw === '' ? NaN : Number(raw);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : DEFAULT_METRIC_EXPORT_INTERVAL_MS;
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
