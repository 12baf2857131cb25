// Beat 1: is the stack healthy? Every component is probed, and what is not healthy is named with a
// hint that fits the stack in use: the native stack (native/stack.ts) or docker compose.
//
// Which stack (detectStack), in this order:
//   1. DEMO_STACK=native or DEMO_STACK=compose, when set (for a laptop that runs both);
//   2. native when a component of the native stack runs (a live pid in .stack/pids);
//   3. native when the native stack was started in this clone and is down now: .stack/pids exists
//      (only `npm run stack:up` creates it; .stack/logs is no sign, the demo's own k6 log goes
//      there under compose too);
//   4. compose otherwise.
// Natively Grafana is optional (the native stack has none); under compose it is required.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../loadgen/run.ts';
import { stateDir } from '../native/stack-components.ts';
import { runningComponents, tempoAvailable } from '../native/stack.ts';
import { promQuery } from '../native/stack-apis.ts';
import type { DemoConfig } from './config.ts';
import { grafanaUids } from './grafana-links.ts';
import { bad, describeFetchError, ok, say, StepError, warn, type Log } from './output.ts';

export interface StackInfo {
  kind: 'native' | 'compose';
  /** Why we think so, in a few words (printed in the demo's first line). */
  why: string;
}

export const NATIVE_STATE_DIR = stateDir;

/** Native or compose, by the rules in this file's header. */
export function detectStack(
  env: NodeJS.ProcessEnv = process.env,
  native: { running: string[]; stateDir: string } = { running: runningComponents(), stateDir: NATIVE_STATE_DIR },
): StackInfo {
  const forced = env.DEMO_STACK;
  if (forced === 'native' || forced === 'compose') return { kind: forced, why: `DEMO_STACK=${forced}` };
  if (forced) throw new UsageError(`DEMO_STACK must be native or compose, got ${forced}`);
  if (native.running.length > 0) return { kind: 'native', why: `native stack running: ${native.running.join(', ')}` };
  if (existsSync(join(native.stateDir, 'pids'))) return { kind: 'native', why: 'native stack started in this clone (.stack/pids), not running now' };
  return { kind: 'compose', why: 'no native stack in this clone (.stack/pids is absent)' };
}

/** What to look at, and how to restart, when a component is not healthy. */
export function hintFor(config: DemoConfig, component: string): string {
  if (config.stack.kind === 'native') return `see .stack/logs/${component}.log; restart with npm run stack:down && npm run stack:up`;
  return `docker compose ps ${component}; docker compose logs --tail=50 ${component}`;
}

export interface HealthResult {
  name: string;
  url: string;
  healthy: boolean;
  required: boolean;
  detail: string;
  hint?: string;
}

/** GET a URL; says precisely what went wrong (refused, timeout, status) instead of throwing. */
async function probe(url: string, timeoutMs = 3000): Promise<{ healthy: boolean; detail: string }> {
  const started = performance.now();
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await response.text();
    const ms = Math.round(performance.now() - started);
    return { healthy: response.ok, detail: response.ok ? `${response.status} in ${ms} ms` : `answered ${response.status}: ${body.trim().slice(0, 120)}` };
  } catch (error) {
    return { healthy: false, detail: describeFetchError(error, timeoutMs) };
  }
}

/** Checks every component; fails when a required one is not healthy, listing exactly which. */
export async function checkStack(config: DemoConfig, log: Log = say): Promise<HealthResult[]> {
  const { urls } = config;
  const simple = async (name: string, url: string): Promise<HealthResult> => {
    const result = await probe(url);
    return { name, url, required: true, ...result, hint: hintFor(config, name) };
  };
  const results = await Promise.all([
    simple('order', `${urls.order}/healthz`),
    simple('inventory', `${urls.inventory}/healthz`),
    simple('pricing', `${urls.pricing}/healthz`),
    checkCollector(config),
    simple('prometheus', `${urls.prometheus}/-/ready`),
    checkTempo(config),
    checkGrafana(config),
  ]);
  for (const result of results) {
    const mark = result.healthy ? ok('✔') : result.required ? bad('✘') : warn('!');
    log(`  ${mark} ${result.name.padEnd(14)} ${result.url.padEnd(44)} ${result.detail}`);
    if (!result.healthy && result.hint) log(`    ${result.required ? '' : '(optional) '}${result.hint}`);
  }
  const broken = results.filter((result) => result.required && !result.healthy);
  if (broken.length > 0) {
    throw new StepError(`not healthy: ${broken.map((result) => `${result.name} (${result.detail})`).join('; ')}`);
  }
  return results;
}

/**
 * The Collector's health_check extension; compose does not publish its port, so when it cannot be
 * reached we ask Prometheus whether its scrape of the Collector is up instead.
 */
async function checkCollector(config: DemoConfig): Promise<HealthResult> {
  const name = 'otel-collector';
  const url = `${config.urls.collectorHealth}/`;
  const direct = await probe(url);
  if (direct.healthy) return { name, url, required: true, healthy: true, detail: direct.detail };
  const failed = (detail: string): HealthResult => ({ name, url, required: true, healthy: false, detail, hint: hintFor(config, name) });
  try {
    const { result } = await promQuery(config.urls.prometheus, 'up{job="otel-collector"}');
    if (result.some((sample) => sample.value[1] === '1')) {
      return { name, url: `${config.urls.prometheus} up{job="otel-collector"}`, required: true, healthy: true, detail: 'up (scraped by Prometheus)' };
    }
    return failed(`${direct.detail}; ${result.length === 0 ? 'Prometheus has no scrape of it' : 'Prometheus scrapes it as down'}`);
  } catch {
    return failed(direct.detail);
  }
}

async function checkTempo(config: DemoConfig): Promise<HealthResult> {
  const url = `${config.urls.tempo}/ready`;
  const result = await probe(url);
  const hint =
    config.stack.kind === 'native' && !tempoAvailable()
      ? 'native Tempo is not built (set TEMPO_SRC or TEMPO_BIN and run npm run tools, see the README); --allow-missing-tempo rehearses the rest'
      : `${hintFor(config, 'tempo')} (Tempo needs ~15 s after start before /ready answers 200)`;
  return { name: 'tempo', url, required: !config.allowMissingTempo, ...result, hint };
}

/** Grafana, its dashboard and its two data sources; required under compose, optional natively. */
async function checkGrafana(config: DemoConfig): Promise<HealthResult> {
  const name = 'grafana';
  const base = config.urls.grafana;
  const native = config.stack.kind === 'native';
  const required = !native;
  const health = await probe(`${base}/api/health`);
  if (!health.healthy) {
    const hint = native ? 'the native stack has no Grafana: the links below open only where one runs (GRAFANA_URL)' : hintFor(config, name);
    return { name, url: `${base}/api/health`, required, healthy: false, detail: health.detail, hint };
  }
  const uids = grafanaUids();
  const missing: string[] = [];
  for (const [what, path] of [
    [`dashboard ${uids.dashboard}`, `/api/dashboards/uid/${uids.dashboard}`],
    [`datasource ${uids.prometheus}`, `/api/datasources/uid/${uids.prometheus}`],
    [`datasource ${uids.tempo}`, `/api/datasources/uid/${uids.tempo}`],
  ] as const) {
    const result = await probe(`${base}${path}`);
    if (!result.healthy) missing.push(`${what} (${result.detail})`);
  }
  if (missing.length > 0) {
    const hint = `check grafana/provisioning; ${native ? `the Grafana at ${base} is not the compose one` : hintFor(config, name)}`;
    return { name, url: base, required, healthy: false, detail: `up, but missing: ${missing.join(', ')}`, hint };
  }
  return { name, url: `${base}/api/health`, required, healthy: true, detail: `${health.detail}; dashboard and datasources provisioned` };
}
