// The demo's background load: k6 `steady` (loadgen/main.js through loadgen/run.ts) when k6 is
// there, else a built-in fetch loop that sends the same requests (the rules of loadgen/lib/orders.js).
import { mkdirSync, openSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorEveryFromEnv, orderRequest } from '../loadgen/lib/orders.js';
import { MissingK6Error, startLoad } from '../loadgen/run.ts';
import { stateDir } from '../native/stack-components.ts';
import { repoRoot } from '../native/tools.ts';
import type { DemoConfig } from './config.ts';
import { messageOf, say, StepError, warn, type Log } from './output.ts';

export interface LoadHandle {
  kind: 'k6' | 'built-in';
  description: string;
  /** Resolves if the load ends by itself before stop() (exit code for k6). */
  ended: Promise<string>;
  stop: () => Promise<void>;
}

/** Starts steady background load: k6 `steady` when k6 is there, else the built-in fetch loop. */
export async function startBackgroundLoad(config: DemoConfig, log: Log = say): Promise<LoadHandle> {
  if (!config.builtinLoad) {
    try {
      return await startK6Load(config);
    } catch (error) {
      if (!(error instanceof MissingK6Error)) throw error;
      log(`  ${warn('!')} ${error.message}`);
      log('    falling back to the built-in load loop (same requests, same traceparent, no k6 metrics)');
    }
  }
  return startBuiltinLoad(config);
}

async function startK6Load(config: DemoConfig): Promise<LoadHandle> {
  const logDir = join(stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, 'demo-load.log');
  const out = openSync(logFile, 'w');
  const load = await startLoad({
    scenario: 'steady',
    orderUrl: config.urls.order,
    prometheusUrl: config.urls.prometheus,
    env: { RATE: String(config.loadRate), DURATION: '60m', SETUP_WAIT: '30' },
    stdio: ['ignore', out, out],
    // The demo stops its load mid-way: without the graceful stop the last traces would lose k6's root.
    gracefulStop: true,
  });
  return {
    kind: 'k6',
    description: `k6 steady at ${config.loadRate} req/s (output in ${relative(repoRoot, logFile)}${load.invocation.remoteWriteUrl ? '; k6_* metrics in Prometheus' : ''})`,
    ended: load.exited.then((code) => `k6 exited with ${code}; see ${relative(repoRoot, logFile)}`),
    stop: async () => {
      await load.stop();
    },
  };
}

/** The fallback: loadgen/main.js's requests (lib/orders.js), at a fixed rate, from this process. */
function startBuiltinLoad(config: DemoConfig): LoadHandle {
  let every: number;
  try {
    every = errorEveryFromEnv(process.env); // ERROR_SHARE, as k6 reads it
  } catch (error) {
    throw new StepError(messageOf(error));
  }
  let sent = 0;
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  let endedResolve: (why: string) => void = () => {};
  const ended = new Promise<string>((resolve) => (endedResolve = resolve));
  const timer = setInterval(() => {
    if (inFlight.size >= 200) return; // the services are drowning: do not pile on
    const order = orderRequest(sent++, { errorEvery: every });
    const request = fetch(`${config.urls.order}${order.path}`, { headers: order.headers, signal: AbortSignal.timeout(10_000) })
      .then(async (response) => {
        await response.arrayBuffer();
        if (response.status !== order.expectedStatus) failed++;
      })
      .catch(() => {
        failed++;
      })
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
  }, 1000 / config.loadRate);
  return {
    kind: 'built-in',
    description: `built-in load loop at ${config.loadRate} req/s (k6 not used)`,
    ended,
    stop: async () => {
      clearInterval(timer);
      await Promise.race([Promise.allSettled([...inFlight]), sleep(5000)]);
      endedResolve(`built-in load stopped after ${sent} requests, ${failed} unexpected answers`);
    },
  };
}
