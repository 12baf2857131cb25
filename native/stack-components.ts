// What the native stack runs, and how: the port plan, the components with their command lines and
// environment, and the Prometheus configuration they need. The very config files docker compose
// uses; only ports and hostnames differ, and only through the environment variables those files
// read. native/stack.ts starts and stops them.
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gatewayPorts, ports, portUses, type PortUse } from './stack-ports.ts';
import { findTool, repoRoot, toolPath } from './tools.ts';

export { ports };

/** Where the stack keeps its logs, data and pid files: STACK_DIR, so that two stacks can run side by side. */
export const stateDir = process.env.STACK_DIR ? resolve(process.env.STACK_DIR) : join(repoRoot, '.stack');
export const dataDir = join(stateDir, 'data');

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
  ports: PortUse[];
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
  /**
   * The scale-out profile, over the sampling profile: the Collector becomes the agent tier
   * (otel-collector/agent.yaml), routing spans by trace id to this many gateways (gateway.yaml).
   */
  gateways?: number;
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
      ports: portUses(name),
      primerArgs: [...flags, '--import', '@spike-to-trace/shared/prime-compile-cache.ts', main],
    };
  };
  const collectorMemoryLimitMiB = options.collectorEnv?.OTELCOL_MEMORY_LIMIT_MIB ?? String(NATIVE_COLLECTOR_MEMORY_LIMIT_MIB);
  const gateways = options.gateways ?? 0;
  const sampling = options.sampling || gateways > 0;
  const collectorConfigs = ['otel-collector/config.yaml', ...(gateways > 0 ? ['otel-collector/agent.yaml'] : sampling ? ['otel-collector/sampling.yaml'] : [])];
  /** A Collector's environment: its own addresses, the backends', and its memory limit. */
  const collectorEnv = (listen: { grpc: number; http: number; health: number; metrics: number }) => ({
    OTELCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${listen.grpc}`,
    OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${listen.http}`,
    OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${listen.health}`,
    OTELCOL_METRICS_HOST: '127.0.0.1',
    OTELCOL_METRICS_PORT: String(listen.metrics),
    TEMPO_OTLP_ENDPOINT: `127.0.0.1:${ports.tempoOtlpGrpc}`,
    PROMETHEUS_REMOTE_WRITE_URL: `${urls.prometheus}/api/v1/write`,
    OTELCOL_MEMORY_LIMIT_MIB: String(collectorMemoryLimitMiB),
    // As in compose: Go's garbage collector works harder as the heap nears the limit.
    GOMEMLIMIT: `${collectorMemoryLimitMiB}MiB`,
  });
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
      ports: portUses('prometheus'),
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
        ...(sampling ? { TEMPO_METRICS_GENERATOR_PROCESSORS: '[]' } : {}),
      },
      readyUrl: `${urls.tempo}/ready`,
      ports: portUses('tempoHttp', 'tempoGrpc', 'tempoOtlpGrpc', 'tempoOtlpHttp'),
    });
  }
  for (let i = 1; i <= gateways; i++) {
    const gateway = gatewayPorts(i);
    list.push({
      name: `otel-gateway-${i}`,
      command: toolPath('otelcol'),
      args: ['config.yaml', 'sampling.yaml', 'gateway.yaml'].map((file) => `--config=${join(repoRoot, 'otel-collector', file)}`),
      // HOSTNAME names the replica on the series it writes (gateway.yaml), as a container's does.
      env: { ...collectorEnv(gateway), HOSTNAME: `otel-gateway-${i}` },
      readyUrl: `http://127.0.0.1:${gateway.health}/`,
      ports: Object.values(gateway).map((port) => ({ port, variable: 'OTELCOL_GATEWAY_PORT_BASE' })),
    });
  }
  const gatewayHosts = Array.from({ length: gateways }, (_, i) => `127.0.0.1:${gatewayPorts(i + 1).grpc}`);
  list.push(
    {
      name: 'otel-collector',
      command: toolPath('otelcol'),
      args: collectorConfigs.map((file) => `--config=${join(repoRoot, file)}`),
      env: {
        ...collectorEnv({ grpc: ports.collectorGrpc, http: ports.collectorHttp, health: ports.collectorHealth, metrics: ports.collectorMetrics }),
        ...(gateways > 0 ? { OTELCOL_GATEWAY_RESOLVER: `{static: {hostnames: [${gatewayHosts.join(', ')}]}}` } : {}),
        ...options.collectorEnv,
      },
      readyUrl: `${urls.collectorHealth}/`,
      ports: portUses('collectorGrpc', 'collectorHttp', 'collectorHealth', 'collectorMetrics'),
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
      ports: portUses('k6Api'),
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
