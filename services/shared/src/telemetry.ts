// The one place where the services' OpenTelemetry SDK is set up.
//
// Traces and metrics go over OTLP/gRPC (our default; the Node SDK's own default is http/protobuf)
// to OTEL_EXPORTER_OTLP_ENDPOINT, which the gRPC exporters default to http://localhost:4317.
// Every other standard OTEL_* variable keeps its meaning: OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER (the SDK default parentbased_always_on samples
// everything, which the exemplar → trace jump needs), OTEL_EXPORTER_OTLP_* (endpoint, headers,
// timeout, compression), OTEL_METRIC_EXPORT_INTERVAL (5 s here instead of the spec's 60 s so a
// demo shows data quickly) and OTEL_METRICS_EXEMPLAR_FILTER (see ./exemplars/).
import { metrics, type Histogram, type MetricOptions } from '@opentelemetry/api';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import { createExemplarHistogram, createExemplarMetricExporter, ExemplarStore } from './exemplars/index.ts';

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
// Health probes run every few seconds: tracing them would bury the requests worth looking at.
const UNTRACED_PATHS = new Set(['/healthz']);

const METER_NAME = '@spike-to-trace/shared';

let sdk: NodeSDK | undefined;
/** The exemplars of this process's histograms, for its metric exporter (see ./exemplars/). */
let exemplars: ExemplarStore | undefined;

export function startTelemetry(options: TelemetryOptions): { sdk: NodeSDK; exemplars: ExemplarStore } {
  if (sdk) throw new Error('telemetry is already started in this process');
  exemplars = new ExemplarStore();

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
    traceExporter: options.spanProcessors ? undefined : new OTLPTraceExporter(),
    metricReaders: options.metricReaders ?? [
      new PeriodicExportingMetricReader({
        exporter: createExemplarMetricExporter(exemplars),
        exportIntervalMillis: metricExportIntervalMs(),
      }),
    ],
    // The services log to stdout; an OTLP log pipeline is not part of this demo.
    logRecordProcessors: [],
    instrumentations: [
      getNodeAutoInstrumentations({
        // File system, DNS and socket spans add noise to every request without telling the story.
        '@opentelemetry/instrumentation-fs': { enabled: false },
        '@opentelemetry/instrumentation-dns': { enabled: false },
        '@opentelemetry/instrumentation-net': { enabled: false },
        '@opentelemetry/instrumentation-http': {
          ignoreIncomingRequestHook: (request: IncomingMessage) => UNTRACED_PATHS.has(request.url ?? ''),
        },
      }),
    ],
  });
  sdk.start();
  return { sdk, exemplars };
}

/**
 * A histogram on the services' meter, with exemplars: the API's Histogram, record(value,
 * attributes?, context?). Once OpenTelemetry JS exports exemplars itself, this is
 * metrics.getMeter(METER_NAME).createHistogram(name, options). Without startTelemetry (a bare run)
 * the meter is the API's no-op one and the exemplars go nowhere.
 */
export function createHistogram(name: string, options: MetricOptions): Histogram {
  exemplars ??= new ExemplarStore();
  return createExemplarHistogram(metrics.getMeter(METER_NAME), name, options, exemplars);
}

/** Flushes and stops telemetry; safe to call when it never started. */
export async function shutdownTelemetry(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  if (!running) return;
  // Force a final collection so the last few seconds of measurements are not lost on shutdown.
  const provider = metrics.getMeterProvider() as { forceFlush?: () => Promise<void> };
  await provider.forceFlush?.().catch(() => undefined);
  await running.shutdown();
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
