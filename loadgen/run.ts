// Runs loadgen/main.js with the natively built k6 against the native stack (or any ORDER_URL).
//
//   npm run load -- <scenario> [--no-remote-write] [extra k6 run flags...]
//   npm run load -- steady
//   RATE=50 DURATION=2m npm run load -- steady
//   npm run load -- smoke --out json=smoke.json
//
// - SCENARIO is the first argument (smoke, steady, spike, soak, background); anything else exits 2.
// - ORDER_URL defaults to the native order service, http://127.0.0.1:8080. RATE, DURATION, VUS,
//   SPIKE_RATE, ERROR_SHARE, TRACEPARENT, LOG_TRACE_IDS pass through the environment (see
//   loadgen/main.js).
// - When Prometheus answers /-/ready (PROMETHEUS_URL, default http://127.0.0.1:9090), k6's metrics
//   go there too: -o experimental-prometheus-rw, with p(50)/p(95)/p(99)/max of every trend.
//   --no-remote-write turns that off.
// - When the native Collector is up (or OTEL_EXPORTER_OTLP_ENDPOINT is set), k6 sends its own span
//   for each request there, the root of the request's trace (loadgen/lib/client-spans.js).
// - RATE, DURATION and the other settings are checked before k6 starts: a bad value exits 2 with
//   one line naming it.
// - Exits with k6's exit code (99: thresholds failed, 108: aborted by the script).
// - k6 comes from K6_BIN, else the tool cache that `npm run tools` fills.
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { join } from 'node:path';
import { urls } from '../native/stack.ts';
import { findTool, isExecutableFile, repoRoot, toolPath } from '../native/tools.ts';
import { tracesEndpointFromEnv } from './lib/client-spans.js';
import { errorEveryFromEnv, traceparentModeFromEnv } from './lib/orders.js';
import { capacityWarning, measuredCapacity } from './capacity.ts';
import { startStopControl } from './stop-control.ts';
import { SCENARIOS, SCENARIO_NAMES, isScenarioName, scenarioFor, setupWaitFromEnv, unknownScenarioMessage } from './lib/scenarios.js';

export const SCRIPT = join(repoRoot, 'loadgen', 'main.js');
export const DEFAULT_TREND_STATS = 'p(50),p(95),p(99),max';

/** Exit codes of this runner itself (k6's own codes pass through unchanged). */
export const EXIT_USAGE = 2;
export const EXIT_NO_K6 = 1;

export { SCENARIO_NAMES };

/** The k6 binary: K6_BIN, else the tool cache; undefined when it is not there. */
export function k6Binary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!env.K6_BIN) return findTool('k6');
  return isExecutableFile(env.K6_BIN) ? env.K6_BIN : undefined;
}

export function missingK6Message(env: NodeJS.ProcessEnv = process.env): string {
  const where = env.K6_BIN ? `K6_BIN=${env.K6_BIN}` : toolPath('k6');
  return `k6 is not available (${where} is missing): run \`npm run tools\` first to build it, or set K6_BIN to a k6 v2 binary.`;
}

/** Does the URL answer 2xx? */
async function answers(url: string, timeoutMs = 1500): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })).ok;
  } catch {
    return false;
  }
}

/** Is Prometheus up and ready? (GET /-/ready answers 200.) */
export async function prometheusReady(prometheusUrl: string, timeoutMs = 1500): Promise<boolean> {
  return answers(`${prometheusUrl.replace(/\/+$/, '')}/-/ready`, timeoutMs);
}

export interface LoadOptions {
  scenario: string;
  /** The order service; default ORDER_URL from the environment, else the native one. */
  orderUrl?: string;
  /** Extra environment for k6: RATE, DURATION, ... (on top of process.env). */
  env?: Record<string, string>;
  /** Extra `k6 run` flags, placed before the script. */
  k6Args?: string[];
  /** 'auto' (default): remote write when Prometheus is ready; 'off': never. */
  remoteWrite?: 'auto' | 'off';
  /** Where Prometheus is; default PROMETHEUS_URL, else the native one. */
  prometheusUrl?: string;
  /**
   * A run that may be stopped mid-way (a CLI run, the demo's load): stop() then lets the requests in
   * flight finish and every VU send its spans before k6 ends (lib/graceful-stop.js). Runs that end
   * by themselves (the tests' timed runs) need no such stop.
   */
  gracefulStop?: boolean;
  log?: (line: string) => void;
}

export interface K6Invocation {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** The remote write URL in use, when metrics go to Prometheus. */
  remoteWriteUrl?: string;
  /** Where k6 sends its client spans (OTEL_EXPORTER_OTLP_ENDPOINT), when it does. */
  spansUrl?: string;
}

/** How k6 will be run for these options; throws with a clear message for a bad scenario or no k6. */
export async function k6Invocation(options: LoadOptions): Promise<K6Invocation> {
  if (!isScenarioName(options.scenario)) throw new UsageError(unknownScenarioMessage(options.scenario));
  const file = k6Binary();
  if (!file) throw new MissingK6Error(missingK6Message());

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...options.env,
    SCENARIO: options.scenario,
    ORDER_URL: options.orderUrl ?? options.env?.ORDER_URL ?? process.env.ORDER_URL ?? urls.order,
    // A room without internet: no usage report attempt at the end of every run.
    K6_NO_USAGE_REPORT: process.env.K6_NO_USAGE_REPORT ?? 'true',
  };
  // main.js reads the same settings with the same rules at start-up; checked here first, a bad value
  // is one line instead of a stack trace in a k6 log line and k6's exit code 107.
  try {
    scenarioFor(options.scenario, env);
    setupWaitFromEnv(env, options.scenario);
    errorEveryFromEnv(env);
    traceparentModeFromEnv(env);
  } catch (error) {
    throw new SettingError(error instanceof Error ? error.message : String(error));
  }
  if (options.k6Args?.length) refuseFlagsK6Refuses(file, options.k6Args);
  const args = ['run'];
  let remoteWriteUrl: string | undefined;
  if ((options.remoteWrite ?? 'auto') === 'auto') {
    const prometheusUrl = options.prometheusUrl ?? process.env.PROMETHEUS_URL ?? urls.prometheus;
    if (env.K6_PROMETHEUS_RW_SERVER_URL) {
      remoteWriteUrl = env.K6_PROMETHEUS_RW_SERVER_URL;
    } else if (await prometheusReady(prometheusUrl)) {
      remoteWriteUrl = `${prometheusUrl.replace(/\/+$/, '')}/api/v1/write`;
    }
    if (remoteWriteUrl) {
      args.push('-o', 'experimental-prometheus-rw');
      env.K6_PROMETHEUS_RW_SERVER_URL = remoteWriteUrl;
      env.K6_PROMETHEUS_RW_TREND_STATS ??= DEFAULT_TREND_STATS;
      // End the k6_* series when the run ends, so a finished run does not look like a flat line.
      env.K6_PROMETHEUS_RW_STALE_MARKERS ??= 'true';
    }
  }
  // k6's client spans: to the endpoint given, else to the native Collector when it is up.
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT && (await answers(`${urls.collectorHealth}/`))) {
    env.OTEL_EXPORTER_OTLP_ENDPOINT = urls.collectorOtlpHttp;
  }
  const spansUrl = tracesEndpointFromEnv(env);
  args.push(...(options.k6Args ?? []), SCRIPT);
  return { file, args, env, remoteWriteUrl, spansUrl };
}

/**
 * Extra `k6 run` flags are checked by k6's own parser before the run (with --help, which stops it
 * there): a typo is a usage error, exit 2, instead of k6's raw error and exit 255 once it starts.
 */
function refuseFlagsK6Refuses(k6: string, flags: readonly string[]): void {
  const checked = spawnSync(k6, ['run', ...flags, '--help'], { encoding: 'utf8', timeout: 10_000 });
  if (checked.status === 0) return;
  const said = /msg="((?:[^"\\]|\\.)*)"/.exec(checked.stderr ?? '')?.[1]?.replaceAll('\\"', '"') ?? (checked.stderr || String(checked.error)).trim();
  throw new UsageError(`k6 refuses the flags ${flags.join(' ')}: ${said} (see k6 run --help)`);
}

export class UsageError extends Error {}
/** A bad value in the environment (RATE=-5): its message names the variable and what it accepts. */
export class SettingError extends Error {}
export class MissingK6Error extends Error {}

export interface RunningLoad {
  child: ChildProcess;
  invocation: K6Invocation;
  /** Resolves with k6's exit code (128 + signal number when a signal ended it). */
  exited: Promise<number>;
  /**
   * Stops k6: with gracefulStop, first no new orders until every VU has sent its spans (at most
   * graceMs); then SIGINT (k6 ends, prints its summary), and SIGKILL if it is still there 10 s later.
   */
  stop: (graceMs?: number) => Promise<number>;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/**
 * Starts k6 in its own process group, so that a terminal's Ctrl-C reaches it exactly once, through
 * whoever started it (a second SIGINT would make k6 abort without its summary).
 */
export async function startLoad(options: LoadOptions & { stdio?: StdioOptions }): Promise<RunningLoad> {
  const invocation = await k6Invocation(options);
  const control = options.gracefulStop ? await startStopControl() : undefined;
  if (control) invocation.env.STOP_URL = control.url;
  const child = spawn(invocation.file, invocation.args, {
    cwd: repoRoot,
    env: invocation.env,
    stdio: options.stdio ?? 'inherit',
    detached: true,
  });
  const exited = new Promise<number>((resolve) => {
    child.once('error', (error) => {
      (options.log ?? console.error)(`k6 could not start: ${error.message}`);
      resolve(EXIT_NO_K6);
    });
    child.once('exit', (code, signal) => resolve(code ?? 128 + (SIGNAL_NUMBERS[signal ?? ''] ?? 0)));
  });
  // Never leave k6 behind when this process exits for any reason.
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  void exited.then(() => {
    process.removeListener('exit', killOnExit);
    control?.close();
  });

  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async (graceMs = 15_000): Promise<number> => {
    if (control && running()) {
      const { flushed, vus } = await control.requestStop(graceMs);
      if (flushed < vus || vus === 0)
        (options.log ?? console.error)(`load: ${flushed} of ${vus} k6 VUs had sent their spans after ${graceMs / 1000} s; stopping k6 anyway`);
    }
    if (running()) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    }
    return exited;
  };
  return { child, invocation, exited, stop };
}

/**
 * The warning to print before a run of `scenario`, if its rate is above what this machine held. A
 * bad scenario or setting says nothing here: startLoad reports it, with its usage line.
 */
function capacityWarningFor(scenario: string): string | undefined {
  if (!isScenarioName(scenario)) return undefined;
  let rate: number;
  try {
    rate = peakRate(scenarioFor(scenario, process.env));
  } catch {
    return undefined;
  }
  return capacityWarning(rate, measuredCapacity());
}

/** The highest arrival rate of a scenario, orders per second (0 for the VU-based smoke). */
function peakRate(scenario: { rate?: number; timeUnit?: string; stages?: Array<{ target: number }> }): number {
  const perSecond = (rate: number) => (scenario.timeUnit === '10s' ? rate / 10 : rate);
  if (scenario.stages) return Math.max(...scenario.stages.map((stage) => perSecond(stage.target)));
  return scenario.rate === undefined ? 0 : perSecond(scenario.rate);
}

function usage(): string {
  const width = Math.max(...SCENARIO_NAMES.map((name) => name.length));
  return [
    'usage: npm run load -- <scenario> [--no-remote-write] [extra k6 run flags...]',
    '',
    'scenarios:',
    ...SCENARIO_NAMES.map((name) => `  ${name.padEnd(width)}  ${SCENARIOS[name]}`),
    '',
    'environment: ORDER_URL (default http://127.0.0.1:8080), RATE, DURATION, VUS, SPIKE_RATE, ERROR_SHARE,',
    '             TRACEPARENT=sampled|unsampled|off, LOG_TRACE_IDS=1, PROMETHEUS_URL (remote write when it',
    "             is ready), OTEL_EXPORTER_OTLP_ENDPOINT (k6's own spans; default: the native Collector when",
    '             it is up), K6_BIN',
  ].join('\n');
}

/** The CLI: parses argv (without node and the script), runs k6, resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    (argv.length === 0 ? console.error : console.log)(usage());
    return argv.length === 0 ? EXIT_USAGE : 0;
  }
  const [scenario, ...rest] = argv as [string, ...string[]];
  const remoteWrite = rest.includes('--no-remote-write') ? 'off' : 'auto';
  const k6Args = rest.filter((arg) => arg !== '--no-remote-write');

  let load: RunningLoad;
  try {
    const warning = capacityWarningFor(scenario);
    if (warning) console.error(warning);
    load = await startLoad({ scenario, k6Args, remoteWrite, gracefulStop: true });
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${usage()}`);
      return EXIT_USAGE;
    }
    if (error instanceof SettingError) {
      console.error(`load: ${error.message}`);
      return EXIT_USAGE;
    }
    if (error instanceof MissingK6Error) {
      console.error(error.message);
      return EXIT_NO_K6;
    }
    throw error;
  }
  const { invocation } = load;
  console.error(
    `load: k6 ${scenario} -> ${invocation.env.ORDER_URL}; metrics ` +
      (invocation.remoteWriteUrl
        ? `also to ${invocation.remoteWriteUrl}`
        : remoteWrite === 'off'
          ? 'not remote-written (--no-remote-write)'
          : 'not remote-written (Prometheus is not ready)') +
      `; k6's own spans ${invocation.spansUrl ? `to ${invocation.spansUrl}` : 'not sent (no Collector answers, or OTEL_SDK_DISABLED; see OTEL_EXPORTER_OTLP_ENDPOINT)'}`,
  );
  // Ctrl-C / SIGTERM reach this process; k6 runs in its own process group. The first stops the run
  // gracefully (no new orders; the requests in flight and k6's spans finish), a second at once.
  let signals = 0;
  const forward = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      console.error('load: stopping: no new orders; waiting for the requests in flight and their spans (Ctrl-C again to stop at once)');
      void load.stop();
    } else {
      load.child.kill(signals === 2 ? signal : 'SIGKILL');
    }
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const code = await load.exited;
  process.removeListener('SIGINT', forward);
  process.removeListener('SIGTERM', forward);
  return code;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
