// The whole stack natively, with the very config files docker compose uses (what runs and how:
// native/stack-components.ts): Prometheus, Tempo, the Collector and the three services, started in
// the background from the binaries that `npm run tools` built, and optionally k6's background load.
//
//   node native/stack.ts up [--sampling] [--traffic] | down | status
//
//   --sampling   the sampling profile: otel-collector/sampling.yaml over config.yaml (tail sampling
//                that keeps every trace an exemplar points at), Tempo's metrics-generator off
//   --traffic    k6's background scenario, the light traffic docker compose sends from the start
//
// State lives in .stack/: logs/<component>.log, pids/<component>.pid, data/<component>/.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from './eventually.ts';
import { components, dataDir, ports, preparePrometheusConfig, stateDir, tempoAvailable, urls, type Component, type ComponentOptions } from './stack-components.ts';
import { repoRoot } from './tools.ts';

export { ports, tempoAvailable, urls };

const logDir = join(stateDir, 'logs');
const pidDir = join(stateDir, 'pids');

export interface StackOptions extends ComponentOptions {
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

  const list = components(options);
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

class ExitedDuringStartup extends Error {}

async function waitUntilReady(component: Component, logFile: string, timeoutMs = 60_000): Promise<void> {
  const pid = Number(readFileSync(join(pidDir, `${component.name}.pid`), 'utf8'));
  await eventually(
    async () => {
      if (!isAlive(pid)) throw new ExitedDuringStartup(`${component.name} exited during start-up; last lines of ${logFile}:\n${tail(logFile)}`);
      return (await fetch(component.readyUrl, { signal: AbortSignal.timeout(1000) })).ok;
    },
    `${component.name} to answer ${component.readyUrl}`,
    timeoutMs,
    250,
    { giveUpOn: (error) => error instanceof ExitedDuringStartup },
  ).catch((error: unknown) => {
    if (error instanceof ExitedDuringStartup) throw error;
    throw new Error(`${error instanceof Error ? error.message : String(error)}; last lines of ${logFile}:\n${tail(logFile)}`);
  });
}

/** Stops exactly the processes whose pid files stackUp wrote, newest first. */
export async function stackDown(options: { log?: (line: string) => void } = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  if (!existsSync(pidDir)) return;
  const order = ['k6', 'order', 'inventory', 'pricing', 'otel-collector', 'tempo', 'prometheus'];
  const files = readdirSync(pidDir).sort((a, b) => order.indexOf(a.replace('.pid', '')) - order.indexOf(b.replace('.pid', '')));
  for (const file of files) {
    const name = file.replace(/\.pid$/, '');
    const pid = Number(readFileSync(join(pidDir, file), 'utf8'));
    if (isAlive(pid)) {
      process.kill(pid, 'SIGTERM');
      await eventually(async () => !isAlive(pid), `${name} to stop`, 15_000, 100).catch(() => process.kill(pid, 'SIGKILL'));
      log(`${name.padEnd(15)} stopped`);
    }
    rmSync(join(pidDir, file));
  }
}

/** The running components and their process ids. */
export function componentPids(): Record<string, number> {
  if (!existsSync(pidDir)) return {};
  const pids: Record<string, number> = {};
  for (const file of readdirSync(pidDir)) {
    const pid = Number(readFileSync(join(pidDir, file), 'utf8'));
    if (isAlive(pid)) pids[file.replace(/\.pid$/, '')] = pid;
  }
  return pids;
}

export function runningComponents(): string[] {
  return Object.keys(componentPids());
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
  const [command, ...flags] = process.argv.slice(2);
  const unknown = flags.filter((flag) => flag !== '--sampling' && flag !== '--traffic');
  try {
    if (command === 'up' && unknown.length === 0) {
      const sampling = flags.includes('--sampling');
      const traffic = flags.includes('--traffic');
      await stackUp({ fresh: false, sampling, traffic });
      console.log(`
The native stack is up${sampling ? ' with the sampling profile' : ''} (logs in .stack/logs/):
  order        ${urls.order}/orders/42
  inventory    ${urls.inventory}/admin/slow-path
  pricing      ${urls.pricing}/price/42
  Prometheus   ${urls.prometheus} (web UI and API)
  Tempo        ${tempoAvailable() ? `${urls.tempo} (API only: Grafana is the UI, in docker compose)` : '(not available natively)'}
  Collector    OTLP gRPC 127.0.0.1:${ports.collectorGrpc}, HTTP 127.0.0.1:${ports.collectorHttp}
  Traffic      ${traffic ? 'k6 background scenario (5 req/s)' : 'none: npm run load -- steady, or stack:up -- --traffic'}
Stop it with: npm run stack:down`);
    } else if (command === 'down' && flags.length === 0) {
      await stackDown();
    } else if (command === 'status' && flags.length === 0) {
      const running = runningComponents();
      console.log(running.length ? `running: ${running.join(', ')}` : 'the native stack is not running');
    } else {
      console.error('usage: node native/stack.ts up [--sampling] [--traffic] | down | status');
      process.exitCode = 2;
    }
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
