// The whole stack natively, with the very config files docker compose uses: Prometheus, Tempo,
// the Collector and the three services, started in the background from the binaries that
// `npm run tools` built. Only ports and hostnames differ from compose, and only through the
// environment variables those config files read.
//
//   node native/stack.ts up | down | status
//
// State lives in .stack/: logs/<component>.log, pids/<component>.pid, data/<component>/.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findTool, repoRoot, toolPath } from './tools.ts';

const stateDir = join(repoRoot, '.stack');
const logDir = join(stateDir, 'logs');
const pidDir = join(stateDir, 'pids');
const dataDir = join(stateDir, 'data');

const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

/** The native port plan: compose's ports, except Tempo's OTLP ports, which the Collector owns here. */
export const ports = {
  order: port('ORDER_PORT', 8080),
  inventory: port('INVENTORY_PORT', 8081),
  pricing: port('PRICING_PORT', 8082),
  collectorGrpc: port('OTELCOL_OTLP_GRPC_PORT', 4317),
  collectorHttp: port('OTELCOL_OTLP_HTTP_PORT', 4318),
  collectorHealth: port('OTELCOL_HEALTH_PORT', 13133),
  collectorMetrics: port('OTELCOL_METRICS_PORT', 8888),
  tempoHttp: port('TEMPO_HTTP_PORT', 3200),
  tempoGrpc: port('TEMPO_GRPC_PORT', 9095),
  tempoOtlpGrpc: port('TEMPO_OTLP_GRPC_PORT', 4417),
  tempoOtlpHttp: port('TEMPO_OTLP_HTTP_PORT', 4418),
  prometheus: port('PROMETHEUS_PORT', 9090),
};

export const urls = {
  order: `http://127.0.0.1:${ports.order}`,
  inventory: `http://127.0.0.1:${ports.inventory}`,
  pricing: `http://127.0.0.1:${ports.pricing}`,
  prometheus: `http://127.0.0.1:${ports.prometheus}`,
  tempo: `http://127.0.0.1:${ports.tempoHttp}`,
  collectorHealth: `http://127.0.0.1:${ports.collectorHealth}`,
  collectorMetrics: `http://127.0.0.1:${ports.collectorMetrics}/metrics`,
};

interface Component {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** A URL that answers 2xx once the component is ready. */
  readyUrl: string;
}

/** Is native Tempo built? (`npm run tools` says why when it is not; see native/build-tools.sh.) */
export function tempoAvailable(): boolean {
  return findTool('tempo') !== undefined;
}

function components(extraServiceEnv: Record<string, string>): Component[] {
  const prometheusConfigDir = join(stateDir, 'prometheus');
  const serviceEnv = {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.collectorGrpc}`,
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=native',
    ...extraServiceEnv,
  };
  const service = (name: 'order' | 'inventory' | 'pricing', env: Record<string, string>): Component => ({
    name,
    command: process.execPath,
    args: ['--import', '@spike-to-trace/shared/instrument.ts', `services/${name}/src/main.ts`],
    env: { ...serviceEnv, PORT: String(ports[name]), ...env },
    readyUrl: `${urls[name]}/healthz`,
  });
  const list: Component[] = [
    {
      name: 'prometheus',
      command: toolPath('prometheus'),
      args: [
        `--config.file=${join(prometheusConfigDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dataDir, 'prometheus')}`,
        `--web.listen-address=127.0.0.1:${ports.prometheus}`,
        '--enable-feature=exemplar-storage',
        '--web.enable-remote-write-receiver',
      ],
      readyUrl: `${urls.prometheus}/-/ready`,
    },
  ];
  if (tempoAvailable()) {
    list.push({
      name: 'tempo',
      command: toolPath('tempo'),
      args: [`-config.file=${join(repoRoot, 'tempo/tempo.yaml')}`, '-config.expand-env=true'],
      env: {
        TEMPO_HTTP_PORT: String(ports.tempoHttp),
        TEMPO_GRPC_PORT: String(ports.tempoGrpc),
        TEMPO_OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.tempoOtlpGrpc}`,
        TEMPO_OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports.tempoOtlpHttp}`,
        TEMPO_DATA_DIR: join(dataDir, 'tempo'),
        PROMETHEUS_REMOTE_WRITE_URL: `${urls.prometheus}/api/v1/write`,
      },
      readyUrl: `${urls.tempo}/ready`,
    });
  }
  list.push(
    {
      name: 'otel-collector',
      command: toolPath('otelcol'),
      args: [`--config=${join(repoRoot, 'otel-collector/config.yaml')}`],
      env: {
        OTELCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.collectorGrpc}`,
        OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports.collectorHttp}`,
        OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${ports.collectorHealth}`,
        OTELCOL_METRICS_HOST: '127.0.0.1',
        OTELCOL_METRICS_PORT: String(ports.collectorMetrics),
        TEMPO_OTLP_ENDPOINT: `127.0.0.1:${ports.tempoOtlpGrpc}`,
        PROMETHEUS_REMOTE_WRITE_URL: `${urls.prometheus}/api/v1/write`,
      },
      readyUrl: `${urls.collectorHealth}/`,
    },
    service('pricing', {}),
    service('inventory', {}),
    service('order', { INVENTORY_URL: urls.inventory, PRICING_URL: urls.pricing }),
  );
  return list;
}

/**
 * Prometheus has no environment expansion, so its scrape targets are file_sd files: compose uses
 * the committed ones (container hostnames); natively we copy the folder unchanged and write the
 * localhost targets next to it.
 */
function preparePrometheusConfig(): void {
  const target = join(stateDir, 'prometheus');
  rmSync(target, { recursive: true, force: true });
  cpSync(join(repoRoot, 'prometheus'), target, { recursive: true });
  mkdirSync(join(target, 'targets'), { recursive: true });
  writeFileSync(join(target, 'targets/otel-collector.yml'), `- targets: ['127.0.0.1:${ports.collectorMetrics}']\n`);
  writeFileSync(join(target, 'targets/tempo.yml'), `- targets: ['127.0.0.1:${ports.tempoHttp}']\n`);
}

export interface StackOptions {
  /** Extra environment for the three services, e.g. SLOW_PATH_RATE for a quick test. */
  serviceEnv?: Record<string, string>;
  /** Remove data from an earlier run first (default true): a test wants a clean Prometheus. */
  fresh?: boolean;
  log?: (line: string) => void;
}

export async function stackUp(options: StackOptions = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  const running = runningComponents();
  if (running.length > 0) throw new Error(`the native stack is already running (${running.join(', ')}): npm run stack:down first`);
  if (options.fresh ?? true) rmSync(dataDir, { recursive: true, force: true });
  for (const dir of [logDir, pidDir, dataDir]) mkdirSync(dir, { recursive: true });
  preparePrometheusConfig();

  const list = components(options.serviceEnv ?? {});
  for (const component of list) {
    if (!existsSync(component.command)) {
      await stackDown({ log });
      throw new Error(`${component.name}: ${component.command} is missing; run \`npm run tools\` first`);
    }
  }
  if (!tempoAvailable()) {
    log('tempo: not built (see the tempo line of `npm run tools`: TEMPO_SRC or TEMPO_BIN); traces stop at the Collector');
  }
  for (const component of list) {
    const logFile = join(logDir, `${component.name}.log`);
    const out = openSync(logFile, 'w');
    const child = spawn(component.command, component.args, {
      cwd: repoRoot,
      env: { ...process.env, ...component.env },
      stdio: ['ignore', out, out],
      detached: true,
    });
    child.unref();
    writeFileSync(join(pidDir, `${component.name}.pid`), String(child.pid));
    try {
      await waitUntilReady(component, logFile);
    } catch (error) {
      await stackDown({ log });
      throw error;
    }
    log(`${component.name.padEnd(15)} ready   ${component.readyUrl}`);
  }
}

async function waitUntilReady(component: Component, logFile: string, timeoutMs = 60_000): Promise<void> {
  const pid = Number(readFileSync(join(pidDir, `${component.name}.pid`), 'utf8'));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) {
      throw new Error(`${component.name} exited during start-up; last lines of ${logFile}:\n${tail(logFile)}`);
    }
    try {
      const response = await fetch(component.readyUrl, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${component.name} is not ready after ${timeoutMs / 1000} s (${component.readyUrl}); last lines of ${logFile}:\n${tail(logFile)}`);
}

/** Stops exactly the processes whose pid files stackUp wrote, newest first. */
export async function stackDown(options: { log?: (line: string) => void } = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  if (!existsSync(pidDir)) return;
  const order = ['order', 'inventory', 'pricing', 'otel-collector', 'tempo', 'prometheus'];
  const files = readdirSync(pidDir).sort((a, b) => order.indexOf(a.replace('.pid', '')) - order.indexOf(b.replace('.pid', '')));
  for (const file of files) {
    const name = file.replace(/\.pid$/, '');
    const pid = Number(readFileSync(join(pidDir, file), 'utf8'));
    if (isAlive(pid)) {
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 15_000;
      while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      log(`${name.padEnd(15)} stopped`);
    }
    rmSync(join(pidDir, file));
  }
}

export function runningComponents(): string[] {
  if (!existsSync(pidDir)) return [];
  return readdirSync(pidDir)
    .filter((file) => isAlive(Number(readFileSync(join(pidDir, file), 'utf8'))))
    .map((file) => file.replace(/\.pid$/, ''));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

if (import.meta.main) {
  const command = process.argv[2];
  try {
    if (command === 'up') {
      await stackUp({ fresh: false });
      console.log(`
The native stack is up (logs in .stack/logs/):
  order        ${urls.order}/orders/42
  inventory    ${urls.inventory}/admin/slow-path
  pricing      ${urls.pricing}/price/42
  Prometheus   ${urls.prometheus}
  Tempo        ${tempoAvailable() ? urls.tempo : '(not available natively)'}
  Collector    OTLP gRPC 127.0.0.1:${ports.collectorGrpc}, HTTP 127.0.0.1:${ports.collectorHttp}
Stop it with: npm run stack:down`);
    } else if (command === 'down') {
      await stackDown();
    } else if (command === 'status') {
      const running = runningComponents();
      console.log(running.length ? `running: ${running.join(', ')}` : 'the native stack is not running');
    } else {
      console.error('usage: node native/stack.ts up|down|status');
      process.exitCode = 2;
    }
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
