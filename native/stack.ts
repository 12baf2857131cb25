// The whole stack natively, with the very config files docker compose uses (what runs and how:
// native/stack-components.ts): Prometheus, Tempo, the Collector and the three services, started in
// the background from the binaries that `npm run tools` built, and optionally k6's background load.
//
//   node native/stack.ts up [--sampling] [--gateways N] [--traffic] | down | status
//
//   --sampling   the sampling profile: otel-collector/sampling.yaml over config.yaml (tail sampling
//                that keeps every trace an exemplar points at), Tempo's metrics-generator off
//   --gateways N the scale-out profile, over the sampling profile: the Collector as the agent tier
//                (agent.yaml), routing spans by trace id to N gateways (gateway.yaml)
//   --traffic    k6's background scenario, the light traffic docker compose sends from the start
//
// State lives in .stack/ (STACK_DIR moves it): logs/<component>.log, pids/<component>.pid,
// data/<component>/, and the services' compile cache in compile-cache/. Every port moves with its
// variable (native/stack-components.ts, listed in the README), so a second stack can run beside the
// first with its own STACK_DIR and ports; a port that is taken is refused before anything starts.
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { eventually } from './eventually.ts';
import {
  COMPILE_CACHE_PRIMER_ENV,
  components,
  dataDir,
  ports,
  preparePrometheusConfig,
  stateDir,
  tempoAvailable,
  urls,
  type Component,
  type ComponentOptions,
} from './stack-components.ts';
import { answersItself, refuseTakenPorts } from './stack-ports.ts';
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
  await refuseTakenPorts(list);
  if (!tempoAvailable()) {
    log('tempo: not built (see the tempo line of `npm run tools`: TEMPO_SRC or TEMPO_BIN); traces stop at the Collector');
  }
  for (const component of list) {
    writeFileSync(join(logDir, `${component.name}.log`), ''); // a fresh log per start of the stack
    try {
      await primeCompileCache(component);
      await startComponent(component);
    } catch (error) {
      await stackDown({ log });
      throw error;
    }
    log(`${component.name.padEnd(15)} ready   ${component.readyUrl}`);
  }
}

/** Fills a service's compile cache: the service starts as it will, and stops once it listens. */
export async function primeCompileCache(component: Component): Promise<void> {
  if (component.primerArgs === undefined) return;
  await promisify(execFile)(component.command, component.primerArgs, {
    cwd: repoRoot,
    env: { ...process.env, ...component.env, ...COMPILE_CACHE_PRIMER_ENV },
    timeout: 60_000,
  }).catch((error: { stdout?: string; message: string }) => {
    // The message holds the command line and stderr; the service logs to stdout.
    throw new Error(`${component.name}: filling its compile cache failed: ${error.message}\n${error.stdout ?? ''}`);
  });
}

/** Starts one component in the background, its pid in .stack/pids, and waits until it is ready. */
async function startComponent(component: Component): Promise<void> {
  const logFile = join(logDir, `${component.name}.log`);
  const out = openSync(logFile, 'a');
  const child = spawn(component.command, component.args, {
    cwd: repoRoot,
    env: { ...process.env, ...component.env },
    stdio: ['ignore', out, out],
    detached: true,
  });
  child.unref();
  closeSync(out); // the child has its own copy
  writeFileSync(join(pidDir, `${component.name}.pid`), String(child.pid));
  await waitUntilReady(component, logFile);
}

/**
 * Stops one component with `signal` (SIGKILL: a crash; SIGTERM: a stop) and waits for it to exit;
 * a process still alive after `graceMs` is killed, as docker compose stop does after its grace
 * period (10 s by default). Its pid file stays, so that restartComponent can bring it back.
 */
export async function killComponent(name: string, signal: NodeJS.Signals = 'SIGKILL', graceMs = 10_000): Promise<StopOutcome> {
  const pid = componentPids()[name];
  if (pid === undefined) throw new Error(`${name} is not running`);
  return stopProcess(name, pid, signal, graceMs);
}

export interface StopOutcome {
  /** Seconds from the signal to the exit. */
  seconds: number;
  /** Whether it had to be killed after the grace period. */
  killed: boolean;
}

async function stopProcess(name: string, pid: number, signal: NodeJS.Signals, graceMs: number): Promise<StopOutcome> {
  const sentAt = Date.now();
  process.kill(pid, signal);
  const exited = () => eventually(async () => !isAlive(pid), `${name} to exit`, graceMs, 50);
  const killed = await exited().then(
    () => false,
    async () => {
      if (signal === 'SIGKILL') throw new Error(`${name} (pid ${pid}) is still alive ${graceMs / 1000} s after SIGKILL`);
      process.kill(pid, 'SIGKILL');
      await exited();
      return true;
    },
  );
  return { seconds: (Date.now() - sentAt) / 1000, killed };
}

/** Starts one component again, as stackUp started it with these options (the same ones). */
export async function restartComponent(name: string, options: ComponentOptions = {}): Promise<void> {
  const component = components(options).find((candidate) => candidate.name === name);
  if (component === undefined) throw new Error(`the native stack has no component ${name}`);
  await startComponent(component);
}

class ExitedDuringStartup extends Error {}

async function waitUntilReady(component: Component, logFile: string, timeoutMs = 60_000): Promise<void> {
  const pid = Number(readFileSync(join(pidDir, `${component.name}.pid`), 'utf8'));
  const exited = () => new ExitedDuringStartup(`${component.name} exited during start-up; last lines of ${logFile}:\n${tail(logFile)}`);
  await eventually(
    async () => {
      if (!isAlive(pid)) throw exited();
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
  // Ready means this stack's own process answered: alive, and listening where the answer came from.
  if (!isAlive(pid)) throw exited();
  if (!answersItself(component, pid)) {
    throw new Error(
      `${component.name}: ${component.readyUrl} answered, but not from this stack's ${component.name} (pid ${pid}); last lines of ${logFile}:\n${tail(logFile)}`,
    );
  }
}

/** Stops exactly the processes whose pid files stackUp wrote, newest first. */
export async function stackDown(options: { log?: (line: string) => void } = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  if (!existsSync(pidDir)) return;
  // Who sends before who receives: the agent before its gateways, so that it can flush to them.
  const order = ['k6', 'order', 'inventory', 'pricing', 'otel-collector', 'otel-gateway', 'tempo', 'prometheus'];
  const rank = (file: string) => order.indexOf(file.replace(/\.pid$/, '').replace(/^otel-gateway-\d+$/, 'otel-gateway'));
  const files = readdirSync(pidDir).sort((a, b) => rank(a) - rank(b));
  for (const file of files) {
    const name = file.replace(/\.pid$/, '');
    const pid = Number(readFileSync(join(pidDir, file), 'utf8'));
    if (isAlive(pid)) {
      const { killed } = await stopProcess(name, pid, 'SIGTERM', 15_000);
      log(`${name.padEnd(15)} ${killed ? 'killed: still running 15 s after SIGTERM' : 'stopped'}`);
    } else {
      log(`${name.padEnd(15)} had already exited (see ${relative(process.cwd(), join(logDir, `${name}.log`))})`);
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

export function isAlive(pid: number): boolean {
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

const USAGE = 'usage: node native/stack.ts up [--sampling] [--gateways N] [--traffic] | down | status';
/** The most gateways the scale-out profile starts natively (each takes some 60-100 MiB). */
const MAX_GATEWAYS = 8;

/** `up`'s flags; a UsageError for anything else. */
function upOptions(flags: string[]): { sampling: boolean; traffic: boolean; gateways: number } {
  const options = { sampling: false, traffic: false, gateways: 0 };
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i];
    if (flag === '--sampling') options.sampling = true;
    else if (flag === '--traffic') options.traffic = true;
    else if (flag === '--gateways') {
      const value = Number(flags[++i]);
      if (!Number.isInteger(value) || value < 1 || value > MAX_GATEWAYS)
        throw new UsageError(`--gateways needs a number from 1 to ${MAX_GATEWAYS}, got ${flags[i] ?? 'nothing'}`);
      options.gateways = value;
    } else throw new UsageError(`unknown option ${flag}`);
  }
  return options;
}

class UsageError extends Error {}

if (import.meta.main) {
  const [command, ...flags] = process.argv.slice(2);
  try {
    if (command === 'up') {
      const { sampling, traffic, gateways } = upOptions(flags);
      await stackUp({ fresh: false, sampling, traffic, gateways });
      const profile = gateways > 0 ? ` with the scale-out profile (${gateways} gateways)` : sampling ? ' with the sampling profile' : '';
      console.log(`
The native stack is up${profile} (logs in ${relative(process.cwd(), logDir) || '.'}/):
  order        ${urls.order}/orders/42
  inventory    ${urls.inventory}/admin/slow-path
  pricing      ${urls.pricing}/price/42
  Prometheus   ${urls.prometheus} (web UI and API)
  Tempo        ${tempoAvailable() ? `${urls.tempo}/api/search (the latest traces; API only: Grafana is the UI, in docker compose)` : '(not available natively)'}
  Collector    OTLP gRPC 127.0.0.1:${ports.collectorGrpc}, HTTP 127.0.0.1:${ports.collectorHttp}${gateways > 0 ? ` (the agent, routing by trace id to ${gateways} gateways)` : ''}
  Traffic      ${traffic ? 'k6 background scenario (5 req/s)' : 'none: npm run load -- steady, or stack:up -- --traffic'}
Stop it with: npm run stack:down`);
    } else if (command === 'down' && flags.length === 0) {
      await stackDown();
    } else if (command === 'status' && flags.length === 0) {
      const running = runningComponents();
      console.log(running.length ? `running: ${running.join(', ')}` : 'the native stack is not running');
    } else {
      throw new UsageError('');
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message ? `${error.message}\n` : ''}${USAGE}`);
      process.exitCode = 2;
    } else {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    }
  }
}
