// What the native stack runs, and how: the port plan, the components with their command lines and
// environment, and the Prometheus configuration they need. The very config files docker compose
// uses; only ports and hostnames differ, and only through the environment variables those files
// read. native/stack.ts starts and stops them.
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { findTool, repoRoot, toolPath } from './tools.ts';

/** Where the stack keeps its logs, data and pid files: STACK_DIR, so that two stacks can run side by side. */
export const stateDir = process.env.STACK_DIR ? resolve(process.env.STACK_DIR) : join(repoRoot, '.stack');
export const dataDir = join(stateDir, 'data');

/**
 * The native port plan: compose's ports, except Tempo's OTLP ports, which the Collector owns here.
 * Each moves with its environment variable (a second stack beside the first, a port taken by
 * something else); the README lists them.
 */
const PORT_PLAN = {
  order: ['ORDER_PORT', 8080],
  inventory: ['INVENTORY_PORT', 8081],
  pricing: ['PRICING_PORT', 8082],
  collectorGrpc: ['OTELCOL_OTLP_GRPC_PORT', 4317],
  collectorHttp: ['OTELCOL_OTLP_HTTP_PORT', 4318],
  collectorHealth: ['OTELCOL_HEALTH_PORT', 13133],
  collectorMetrics: ['OTELCOL_METRICS_PORT', 8888],
  tempoHttp: ['TEMPO_HTTP_PORT', 3200],
  tempoGrpc: ['TEMPO_GRPC_PORT', 9095],
  tempoOtlpGrpc: ['TEMPO_OTLP_GRPC_PORT', 4417],
  tempoOtlpHttp: ['TEMPO_OTLP_HTTP_PORT', 4418],
  prometheus: ['PROMETHEUS_PORT', 9090],
  k6Api: ['K6_API_PORT', 6565],
} as const satisfies Record<string, readonly [string, number]>;

export type PortName = keyof typeof PORT_PLAN;

function portFromEnv(variable: string, fallback: number): number {
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${variable} must be a port number from 1 to 65535, got ${JSON.stringify(raw)}`);
  return port;
}

export const ports = Object.fromEntries(Object.entries(PORT_PLAN).map(([name, [variable, fallback]]) => [name, portFromEnv(variable, fallback)])) as Record<
  PortName,
  number
>;

/** The environment variable that moves a port. */
export const portVariable = (name: PortName): string => PORT_PLAN[name][0];

/** Every port variable with its default, for the README's list and the tests. */
export const PORT_VARIABLES: ReadonlyArray<{ variable: string; fallback: number }> = Object.values(PORT_PLAN).map(([variable, fallback]) => ({
  variable,
  fallback,
}));

export const urls = {
  order: `http://127.0.0.1:${ports.order}`,
  inventory: `http://127.0.0.1:${ports.inventory}`,
  pricing: `http://127.0.0.1:${ports.pricing}`,
  prometheus: `http://127.0.0.1:${ports.prometheus}`,
  tempo: `http://127.0.0.1:${ports.tempoHttp}`,
  collectorHealth: `http://127.0.0.1:${ports.collectorHealth}`,
  collectorMetrics: `http://127.0.0.1:${ports.collectorMetrics}/metrics`,
  collectorOtlpHttp: `http://127.0.0.1:${ports.collectorHttp}`,
};

/**
 * V8 heap settings of the services, chosen by measurement (npm run bench:overhead and the scans in
 * the README): by default V8 sizes the young generation for the machine's memory, and a service
 * under load kept 170 MB of it (order: 351 MiB RSS at 500 req/s); 8 MB semi-spaces and an old space
 * capped at 96 MB, more than twice the live heap, bring order to about 170 MiB for some 10 % more
 * CPU. The Dockerfile starts the services with the same flags (a test keeps them equal).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--max-old-space-size=96'];

/**
 * Node's compile cache for the services (NODE_COMPILE_CACHE): filled before they start, so that
 * they run without Node's type stripper in memory (services/shared/src/prime-compile-cache.ts).
 */
const compileCacheDir = join(stateDir, 'compile-cache');

/** The service as it starts, stopped once it listens: this fills the compile cache. */
export const COMPILE_CACHE_PRIMER_ENV: Readonly<Record<string, string>> = { PORT: '0', OTEL_SDK_DISABLED: 'true' };

export interface Component {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** A URL that answers 2xx once the component is ready. */
  readyUrl: string;
  /** The ports it listens on (all must be free before the stack starts). */
  ports: PortName[];
  /** A service's: the arguments that fill its compile cache (with COMPILE_CACHE_PRIMER_ENV), run before it starts. */
  primerArgs?: string[];
}

export interface ComponentOptions {
  /** Extra environment for the three services, e.g. SLOW_PATH_RATE for a quick test. */
  serviceEnv?: Record<string, string>;
  /** The sampling profile: otel-collector/sampling.yaml over config.yaml, Tempo's generator off. */
  sampling?: boolean;
  /** k6's background scenario, the light traffic docker compose runs from the start. */
  traffic?: boolean;
  /** Extra environment for the Collector, e.g. a lower OTELCOL_MEMORY_LIMIT_MIB for an overload test. */
  collectorEnv?: Record<string, string>;
}

/** The Collector's memory limit natively: what compose's 512M container gives it (80 %). */
const NATIVE_COLLECTOR_MEMORY_LIMIT_MIB = 400;

/** Is native Tempo built? (`npm run tools` says why when it is not; see native/build-tools.sh.) */
export function tempoAvailable(): boolean {
  return findTool('tempo') !== undefined;
}

/** The components in start order: backends, Collector, services (callees first), then the load. */
export function components(options: ComponentOptions = {}): Component[] {
  const serviceEnv = {
    HOST: '127.0.0.1',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.collectorGrpc}`,
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=native',
    ...options.serviceEnv,
  };
  const service = (name: 'order' | 'inventory' | 'pricing', env: Record<string, string> = {}): Component => {
    const flags = [...SERVICE_NODE_FLAGS, '--import', '@spike-to-trace/shared/instrument.ts'];
    const main = `services/${name}/src/main.ts`;
    return {
      name,
      command: process.execPath,
      args: [...flags, main],
      env: { ...serviceEnv, NODE_COMPILE_CACHE: compileCacheDir, PORT: String(ports[name]), ...env },
      readyUrl: `${urls[name]}/healthz`,
      ports: [name],
      primerArgs: [...flags, '--import', '@spike-to-trace/shared/prime-compile-cache.ts', main],
    };
  };
  const collectorMemoryLimitMiB = options.collectorEnv?.OTELCOL_MEMORY_LIMIT_MIB ?? String(NATIVE_COLLECTOR_MEMORY_LIMIT_MIB);
  const collectorConfigs = ['otel-collector/config.yaml', ...(options.sampling ? ['otel-collector/sampling.yaml'] : [])];
  const list: Component[] = [
    {
      name: 'prometheus',
      command: toolPath('prometheus'),
      args: [
        `--config.file=${join(stateDir, 'prometheus', 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dataDir, 'prometheus')}`,
        `--web.listen-address=127.0.0.1:${ports.prometheus}`,
        '--enable-feature=exemplar-storage',
        '--web.enable-remote-write-receiver',
      ],
      readyUrl: `${urls.prometheus}/-/ready`,
      ports: ['prometheus'],
    },
  ];
  if (tempoAvailable()) {
    list.push({
      name: 'tempo',
      command: toolPath('tempo'),
      args: [`-config.file=${join(repoRoot, 'tempo/tempo.yaml')}`, '-config.expand-env=true'],
      env: {
        TEMPO_LISTEN_ADDRESS: '127.0.0.1',
        TEMPO_HTTP_PORT: String(ports.tempoHttp),
        TEMPO_GRPC_PORT: String(ports.tempoGrpc),
        TEMPO_OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.tempoOtlpGrpc}`,
        TEMPO_OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports.tempoOtlpHttp}`,
        TEMPO_DATA_DIR: join(dataDir, 'tempo'),
        PROMETHEUS_REMOTE_WRITE_URL: `${urls.prometheus}/api/v1/write`,
        ...(options.sampling ? { TEMPO_METRICS_GENERATOR_PROCESSORS: '[]' } : {}),
      },
      readyUrl: `${urls.tempo}/ready`,
      ports: ['tempoHttp', 'tempoGrpc', 'tempoOtlpGrpc', 'tempoOtlpHttp'],
    });
  }
  list.push(
    {
      name: 'otel-collector',
      command: toolPath('otelcol'),
      args: collectorConfigs.map((file) => `--config=${join(repoRoot, file)}`),
      env: {
        OTELCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.collectorGrpc}`,
        OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports.collectorHttp}`,
        OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${ports.collectorHealth}`,
        OTELCOL_METRICS_HOST: '127.0.0.1',
        OTELCOL_METRICS_PORT: String(ports.collectorMetrics),
        TEMPO_OTLP_ENDPOINT: `127.0.0.1:${ports.tempoOtlpGrpc}`,
        PROMETHEUS_REMOTE_WRITE_URL: `${urls.prometheus}/api/v1/write`,
        OTELCOL_MEMORY_LIMIT_MIB: String(collectorMemoryLimitMiB),
        // As in compose: Go's garbage collector works harder as the heap nears the limit.
        GOMEMLIMIT: `${collectorMemoryLimitMiB}MiB`,
        ...options.collectorEnv,
      },
      readyUrl: `${urls.collectorHealth}/`,
      ports: ['collectorGrpc', 'collectorHttp', 'collectorHealth', 'collectorMetrics'],
    },
    service('pricing'),
    service('inventory'),
    service('order', { INVENTORY_URL: urls.inventory, PRICING_URL: urls.pricing }),
  );
  if (options.traffic) {
    // As the compose k6 service runs it: the background scenario, its REST API as the readiness probe.
    list.push({
      name: 'k6',
      command: toolPath('k6'),
      args: ['run', '--address', `127.0.0.1:${ports.k6Api}`, '-o', 'experimental-prometheus-rw', 'loadgen/main.js'],
      env: {
        SCENARIO: 'background',
        ORDER_URL: urls.order,
        K6_PROMETHEUS_RW_SERVER_URL: `${urls.prometheus}/api/v1/write`,
        K6_PROMETHEUS_RW_TREND_STATS: 'p(50),p(95),p(99),max',
        K6_NO_USAGE_REPORT: 'true',
        // k6's own span per request, the root of each trace (loadgen/lib/client-spans.js).
        OTEL_EXPORTER_OTLP_ENDPOINT: urls.collectorOtlpHttp,
      },
      readyUrl: `http://127.0.0.1:${ports.k6Api}/v1/status`,
      ports: ['k6Api'],
    });
  }
  return list;
}

/**
 * Prometheus has no environment expansion, so its scrape targets are file_sd files: compose uses
 * the committed ones (container hostnames); natively we copy the folder unchanged and write the
 * localhost targets next to it.
 */
export function preparePrometheusConfig(): void {
  const target = join(stateDir, 'prometheus');
  rmSync(target, { recursive: true, force: true });
  cpSync(join(repoRoot, 'prometheus'), target, { recursive: true });
  mkdirSync(join(target, 'targets'), { recursive: true });
  writeFileSync(join(target, 'targets/otel-collector.yml'), `- targets: ['127.0.0.1:${ports.collectorMetrics}']\n`);
  writeFileSync(join(target, 'targets/tempo.yml'), `- targets: ['127.0.0.1:${ports.tempoHttp}']\n`);
}
