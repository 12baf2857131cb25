// The conference demo, beat by beat: from a p99 spike to the trace that caused it.
//
//   npm run demo                              attended: waits for Enter before each beat
//   npm run demo -- --rehearse                every beat unattended, non-zero exit on any failure
//   npm run demo -- --rehearse --allow-missing-tempo   where no Tempo runs (loud warning)
//
// Beats: check the stack -> slow path off, start steady load, wait for a calm p99 -> turn the bug
// on -> wait for the p99 spike -> find the slowest exemplar -> fetch its trace from Tempo and see
// the N+1 -> print the Grafana links and the TraceQL query -> turn the bug off -> wait for the p99
// to recover -> stop. Ctrl-C or SIGTERM at any point stops the load and turns the slow path OFF.
//
// Options:
//   --rehearse                run unattended (also when stdin is not a terminal)
//   --allow-missing-tempo     go on without Tempo, with a warning instead of a failed step
//   --slow-rate <0..1>        share of stock lookups on the slow path while the bug is on (0.2)
//   --load-rate <req/s>       background load while the demo runs (10)
//   --builtin-load            use the built-in load loop even when k6 is available
//   --step-timeout <s>        longest wait for a metric to move (180)
//
// URLs (defaults: the native stack, which publishes the same ports as compose):
//   ORDER_URL, INVENTORY_URL, PRICING_URL, COLLECTOR_HEALTH_URL, PROMETHEUS_URL, TEMPO_URL,
//   GRAFANA_URL (default http://localhost:3000; optional for the native stack, required otherwise)
//
// Every beat is an exported function, so that a test can run them one by one.
import { mkdirSync, openSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createInterface, type Interface } from 'node:readline/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { styleText } from 'node:util';
import { newTraceparent } from '../loadgen/lib/traceparent.js';
import { MissingK6Error, startLoad, type RunningLoad } from '../loadgen/run.ts';
import { runningComponents, tempoAvailable, urls as nativeUrls } from '../native/stack.ts';
import { repoRoot } from '../native/tools.ts';
import { promExemplars, promQuery, tempoTrace, type TempoSpan } from '../native/stack-apis.ts';

// ------------------------------------------------------------------------------------------------
// Configuration
// ------------------------------------------------------------------------------------------------

export interface DemoUrls {
  order: string;
  inventory: string;
  pricing: string;
  collectorHealth: string;
  prometheus: string;
  tempo: string;
  grafana: string;
}

export interface DemoConfig {
  urls: DemoUrls;
  rehearse: boolean;
  allowMissingTempo: boolean;
  /** Is the native stack running here (Grafana optional, native hints)? */
  native: boolean;
  /** Share of stock lookups on the slow path while the bug is on. */
  slowRate: number;
  /** Requests per second of the background load. */
  loadRate: number;
  builtinLoad: boolean;
  /** Longest wait for a metric to move, in ms. */
  stepTimeoutMs: number;
  /** How often Prometheus and Tempo are polled, in ms. */
  pollMs: number;
  /** The p99 above which we call it a spike (seconds). */
  spikeSeconds: number;
  /** An N+1 shows at least this many query-stock-db spans in inventory. */
  minDbSpans: number;
}

export const DASHBOARD_UID = 'spike-to-trace';
export const TEMPO_DATASOURCE_UID = 'tempo';
export const PROMETHEUS_DATASOURCE_UID = 'prometheus';
export const TRACEQL_SLOW_INVENTORY = '{ resource.service.name = "inventory" && duration > 1s }';

const trimSlash = (url: string) => url.replace(/\/+$/, '');

export function configFromArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const flag = (name: string) => argv.includes(name);
  const value = (name: string): string | undefined => {
    const index = argv.indexOf(name);
    if (index === -1) return undefined;
    const next = argv[index + 1];
    if (next === undefined || next.startsWith('--')) throw new UsageError(`${name} needs a value`);
    return next;
  };
  const known = new Set(['--rehearse', '--allow-missing-tempo', '--builtin-load', '--slow-rate', '--load-rate', '--step-timeout', '--help', '-h']);
  for (const [index, arg] of argv.entries()) {
    const previous = argv[index - 1];
    const isValue = previous !== undefined && ['--slow-rate', '--load-rate', '--step-timeout'].includes(previous);
    if (!isValue && !known.has(arg)) throw new UsageError(`unknown option ${arg}`);
  }
  const number = (name: string, raw: string | undefined, fallback: number, min: number, max: number): number => {
    if (raw === undefined || raw === '') return fallback;
    const parsed = Number(raw);
    if (!Number.isFinite(parsed) || parsed < min || parsed > max) throw new UsageError(`${name} must be a number from ${min} to ${max}, got ${raw}`);
    return parsed;
  };
  return {
    urls: {
      order: trimSlash(env.ORDER_URL || nativeUrls.order),
      inventory: trimSlash(env.INVENTORY_URL || nativeUrls.inventory),
      pricing: trimSlash(env.PRICING_URL || nativeUrls.pricing),
      collectorHealth: trimSlash(env.COLLECTOR_HEALTH_URL || nativeUrls.collectorHealth),
      prometheus: trimSlash(env.PROMETHEUS_URL || nativeUrls.prometheus),
      tempo: trimSlash(env.TEMPO_URL || nativeUrls.tempo),
      grafana: trimSlash(env.GRAFANA_URL || 'http://localhost:3000'),
    },
    rehearse: flag('--rehearse') || !process.stdin.isTTY,
    allowMissingTempo: flag('--allow-missing-tempo'),
    native: runningComponents().length > 0,
    slowRate: number('--slow-rate', value('--slow-rate') ?? env.DEMO_SLOW_RATE, 0.2, 0.01, 1),
    loadRate: number('--load-rate', value('--load-rate') ?? env.DEMO_LOAD_RATE, 10, 1, 200),
    builtinLoad: flag('--builtin-load'),
    stepTimeoutMs: number('--step-timeout', value('--step-timeout') ?? env.DEMO_STEP_TIMEOUT, 180, 10, 3600) * 1000,
    pollMs: 5000,
    spikeSeconds: 1,
    minDbSpans: 10,
  };
}

export class UsageError extends Error {}
/** A beat failed: the message says what is wrong and what to do. */
export class StepError extends Error {}

// ------------------------------------------------------------------------------------------------
// Output
// ------------------------------------------------------------------------------------------------

type Log = (line: string) => void;
const say: Log = (line) => console.log(line);
const ok = (text: string) => styleText('green', text);
const bad = (text: string) => styleText('red', text);
const warn = (text: string) => styleText(['yellow', 'bold'], text);
const bold = (text: string) => styleText('bold', text);
const seconds = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)} s` : 'no data');

// ------------------------------------------------------------------------------------------------
// Beat 1: is the stack healthy?
// ------------------------------------------------------------------------------------------------

export interface HealthResult {
  name: string;
  url: string;
  healthy: boolean;
  required: boolean;
  detail: string;
  hint?: string;
}

/** GET a URL; says precisely what went wrong (refused, timeout, status) instead of throwing. */
async function probe(url: string, timeoutMs = 3000): Promise<{ healthy: boolean; detail: string; status?: number; body?: string }> {
  const started = performance.now();
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await response.text();
    const ms = Math.round(performance.now() - started);
    return { healthy: response.ok, status: response.status, body, detail: response.ok ? `${response.status} in ${ms} ms` : `answered ${response.status}: ${body.trim().slice(0, 120)}` };
  } catch (error) {
    return { healthy: false, detail: describeFetchError(error, timeoutMs) };
  }
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const code = err.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused (nothing listens there)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host not found (${code})`;
  if (code === 'ECONNRESET') return 'connection reset';
  return err.cause?.message ?? err.message ?? String(error);
}

function hintFor(config: DemoConfig, component: string): string {
  if (config.native) return `see .stack/logs/${component}.log; restart with npm run stack:down && npm run stack:up`;
  return `docker compose ps ${component}; docker compose logs --tail=50 ${component}`;
}

/** Checks every component; fails when a required one is not healthy, listing exactly which. */
export async function checkStack(config: DemoConfig, log: Log = say): Promise<HealthResult[]> {
  const { urls } = config;
  const service = async (name: 'order' | 'inventory' | 'pricing'): Promise<HealthResult> => {
    const url = `${urls[name]}/healthz`;
    const result = await probe(url);
    return { name, url, required: true, healthy: result.healthy, detail: result.detail, hint: hintFor(config, name) };
  };
  const results = await Promise.all([
    service('order'),
    service('inventory'),
    service('pricing'),
    checkCollector(config),
    (async (): Promise<HealthResult> => {
      const url = `${urls.prometheus}/-/ready`;
      const result = await probe(url);
      return { name: 'prometheus', url, required: true, ...result, hint: hintFor(config, 'prometheus') };
    })(),
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
  const url = `${config.urls.collectorHealth}/`;
  const direct = await probe(url);
  if (direct.healthy) return { name: 'otel-collector', url, required: true, healthy: true, detail: direct.detail };
  try {
    const { result } = await promQuery(config.urls.prometheus, 'up{job="otel-collector"}');
    const up = result.find((sample) => sample.value[1] === '1');
    if (up) return { name: 'otel-collector', url: `${config.urls.prometheus} up{job="otel-collector"}`, required: true, healthy: true, detail: 'up (scraped by Prometheus)' };
    const detail = result.length === 0 ? 'Prometheus has no scrape of it' : 'Prometheus scrapes it as down';
    return { name: 'otel-collector', url, required: true, healthy: false, detail: `${direct.detail}; ${detail}`, hint: hintFor(config, 'otel-collector') };
  } catch {
    return { name: 'otel-collector', url, required: true, healthy: false, detail: direct.detail, hint: hintFor(config, 'otel-collector') };
  }
}

async function checkTempo(config: DemoConfig): Promise<HealthResult> {
  const url = `${config.urls.tempo}/ready`;
  const result = await probe(url);
  const missingNatively = config.native && !tempoAvailable();
  const hint = missingNatively
    ? 'native Tempo is not built (set TEMPO_SRC or TEMPO_BIN and run npm run tools, see the README); --allow-missing-tempo rehearses the rest'
    : `${hintFor(config, 'tempo')} (Tempo needs ~15 s after start before /ready answers 200)`;
  return { name: 'tempo', url, required: !config.allowMissingTempo, healthy: result.healthy, detail: result.detail, hint };
}

/** Grafana, its dashboard and its two datasources; required for compose, optional natively. */
async function checkGrafana(config: DemoConfig): Promise<HealthResult> {
  const base = config.urls.grafana;
  const health = await probe(`${base}/api/health`);
  const required = !config.native;
  const name = 'grafana';
  if (!health.healthy) {
    const hint = config.native ? 'the native stack has no Grafana: the links below open only where one runs (GRAFANA_URL)' : hintFor(config, 'grafana');
    return { name, url: `${base}/api/health`, required, healthy: false, detail: health.detail, hint };
  }
  const missing: string[] = [];
  for (const [what, path] of [
    [`dashboard ${DASHBOARD_UID}`, `/api/dashboards/uid/${DASHBOARD_UID}`],
    [`datasource ${PROMETHEUS_DATASOURCE_UID}`, `/api/datasources/uid/${PROMETHEUS_DATASOURCE_UID}`],
    [`datasource ${TEMPO_DATASOURCE_UID}`, `/api/datasources/uid/${TEMPO_DATASOURCE_UID}`],
  ] as const) {
    const result = await probe(`${base}${path}`);
    if (!result.healthy) missing.push(`${what} (${result.detail})`);
  }
  if (missing.length > 0) {
    return { name, url: base, required, healthy: false, detail: `up, but missing: ${missing.join(', ')}`, hint: 'check grafana/provisioning and docker compose logs grafana' };
  }
  return { name, url: `${base}/api/health`, required, healthy: true, detail: `${health.detail}; dashboard and datasources provisioned` };
}

// ------------------------------------------------------------------------------------------------
// The slow path switch
// ------------------------------------------------------------------------------------------------

export interface SlowPathSettings {
  rate: number;
  delayMs: number;
}

/** PUT /admin/slow-path {"rate": rate} on inventory; returns what inventory now runs with. */
export async function setSlowPath(config: DemoConfig, rate: number): Promise<SlowPathSettings> {
  const url = `${config.urls.inventory}/admin/slow-path`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rate }),
      signal: AbortSignal.timeout(5000),
    });
  } catch (error) {
    throw new StepError(`could not reach ${url}: ${describeFetchError(error, 5000)}`);
  }
  const text = await response.text();
  if (!response.ok) throw new StepError(`PUT ${url} answered ${response.status}: ${text.slice(0, 200)}`);
  const settings = JSON.parse(text) as SlowPathSettings;
  if (settings.rate !== rate) throw new StepError(`PUT ${url} answered rate ${settings.rate}, expected ${rate}`);
  return settings;
}

// ------------------------------------------------------------------------------------------------
// Load
// ------------------------------------------------------------------------------------------------

export interface LoadHandle {
  kind: 'k6' | 'built-in';
  description: string;
  /** Resolves if the load ends by itself before stop() (exit code for k6). */
  ended: Promise<string>;
  stop: () => Promise<void>;
}

/** Starts steady background load: k6 `steady` when k6 is there, else a built-in fetch loop. */
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
  const logDir = join(repoRoot, '.stack', 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, 'demo-load.log');
  const out = openSync(logFile, 'w');
  const load: RunningLoad = await startLoad({
    scenario: 'steady',
    orderUrl: config.urls.order,
    prometheusUrl: config.urls.prometheus,
    env: { RATE: String(config.loadRate), DURATION: '60m', SETUP_WAIT: '30' },
    stdio: ['ignore', out, out],
  });
  return {
    kind: 'k6',
    description: `k6 steady at ${config.loadRate} req/s (output in ${relative(repoRoot, logFile)}${load.invocation.remoteWriteUrl ? '; k6_* metrics in Prometheus' : ''})`,
    ended: load.exited.then((code) => `k6 exited with ${code}; see ${relative(repoRoot, logFile)}`),
    stop: async () => {
      await load.stop(10_000);
    },
  };
}

/** The fallback: the same GET /orders/:id with a traceparent, at a fixed rate, from this process. */
function startBuiltinLoad(config: DemoConfig): LoadHandle {
  let sent = 0;
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  let endedResolve: (why: string) => void = () => {};
  const ended = new Promise<string>((resolve) => (endedResolve = resolve));
  const timer = setInterval(() => {
    if (inFlight.size >= 200) return; // the services are drowning: do not pile on
    sent++;
    const errorPath = sent % 50 === 0;
    const id = errorPath ? 10_000 + Math.floor(Math.random() * 90_000) : 1 + Math.floor(Math.random() * 9999);
    const request = fetch(`${config.urls.order}/orders/${id}`, {
      headers: { traceparent: newTraceparent().header, 'x-user-id': `user-${1 + Math.floor(Math.random() * 50)}` },
      signal: AbortSignal.timeout(10_000),
    })
      .then(async (response) => {
        await response.arrayBuffer();
        if (response.status !== (errorPath ? 502 : 200)) failed++;
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

// ------------------------------------------------------------------------------------------------
// Prometheus: traffic, p99, exemplars
// ------------------------------------------------------------------------------------------------

const HISTOGRAM = 'http_request_duration_seconds';
const p99Query = (job: string) =>
  `histogram_quantile(0.99, sum by (le) (rate(${HISTOGRAM}_bucket{job="${job}", http_route!="/healthz"}[1m])))`;

/** One instant value; NaN when there is no data yet. */
async function promValue(config: DemoConfig, query: string): Promise<number> {
  let data: Awaited<ReturnType<typeof promQuery>>;
  try {
    data = await promQuery(config.urls.prometheus, query);
  } catch (error) {
    throw new StepError(`Prometheus query failed (${query}): ${error instanceof Error ? error.message : String(error)}`);
  }
  const sample = data.result[0];
  return sample ? Number(sample.value[1]) : NaN;
}

export async function p99(config: DemoConfig, job: 'order' | 'inventory' | 'pricing'): Promise<number> {
  return promValue(config, p99Query(job));
}

/** Polls until check(value) holds; prints progress; throws a StepError with `failure` on timeout. */
async function waitFor(config: DemoConfig, log: Log, read: () => Promise<{ value: number; text: string }>, check: (value: number) => boolean, failure: (last: string) => string): Promise<number> {
  const started = Date.now();
  let last = 'no data yet';
  for (;;) {
    const { value, text } = await read();
    last = text;
    const elapsed = Math.round((Date.now() - started) / 1000);
    log(`    ${String(elapsed).padStart(4)} s  ${text}`);
    if (check(value)) return value;
    if (Date.now() - started + config.pollMs > config.stepTimeoutMs) throw new StepError(failure(last));
    await sleep(config.pollMs);
  }
}

/** The load is visible in Prometheus and inventory's p99 is calm (below the spike line). */
export async function waitForCalmBaseline(config: DemoConfig, log: Log = say): Promise<{ requestsPerSecond: number; inventoryP99: number }> {
  let requestsPerSecond = 0;
  const inventoryP99 = await waitFor(
    config,
    log,
    async () => {
      requestsPerSecond = await promValue(config, `sum(rate(${HISTOGRAM}_count{job="order", http_route!="/healthz"}[1m]))`);
      const inventory = await p99(config, 'inventory');
      const order = await p99(config, 'order');
      return { value: requestsPerSecond > 0 ? inventory : NaN, text: `order ${Number.isFinite(requestsPerSecond) ? requestsPerSecond.toFixed(1) : 0} req/s, p99 order ${seconds(order)}, inventory ${seconds(inventory)} (waiting for traffic and p99 < ${config.spikeSeconds} s)` };
    },
    (value) => Number.isFinite(value) && value < config.spikeSeconds,
    (last) =>
      requestsPerSecond > 0
        ? `inventory p99 did not settle below ${config.spikeSeconds} s within ${config.stepTimeoutMs / 1000} s (${last}); is the slow path really off?`
        : `no order requests reached Prometheus within ${config.stepTimeoutMs / 1000} s: check the load, then the Collector (metrics pipeline to ${config.urls.prometheus})`,
  );
  return { requestsPerSecond, inventoryP99 };
}

/** Inventory's p99 as the value to wait on, with order's beside it in the progress line. */
async function readInventoryP99(config: DemoConfig, waiting: string): Promise<{ value: number; text: string }> {
  const inventory = await p99(config, 'inventory');
  const order = await p99(config, 'order');
  return { value: inventory, text: `p99 inventory ${seconds(inventory)}, order ${seconds(order)} (${waiting})` };
}

/** Inventory's p99 (histogram_quantile over the buckets) climbs above the spike line. */
export async function waitForSpike(config: DemoConfig, log: Log = say): Promise<number> {
  return waitFor(
    config,
    log,
    () => readInventoryP99(config, `waiting for inventory > ${config.spikeSeconds} s`),
    (value) => Number.isFinite(value) && value > config.spikeSeconds,
    (last) => `no spike within ${config.stepTimeoutMs / 1000} s (${last}): is the load running and the slow path on?`,
  );
}

/** Inventory's p99 is back below the spike line. */
export async function waitForRecovery(config: DemoConfig, log: Log = say): Promise<number> {
  return waitFor(
    config,
    log,
    () => readInventoryP99(config, `waiting for inventory < ${config.spikeSeconds} s; the 1m rate window needs about a minute`),
    (value) => Number.isFinite(value) && value < config.spikeSeconds,
    (last) => `p99 did not recover within ${config.stepTimeoutMs / 1000} s (${last})`,
  );
}

export interface Exemplar {
  traceId: string;
  /** The measured duration, seconds. */
  value: number;
  /** Unix seconds. */
  timestamp: number;
  job: string;
}

/** Exemplars of the request-duration histogram between start and end (Unix s), slowest first. */
export async function findSlowestExemplars(config: DemoConfig, start: number, end: number, job = 'inventory'): Promise<Exemplar[]> {
  const query = `${HISTOGRAM}_bucket{job="${job}"}`;
  let series: Awaited<ReturnType<typeof promExemplars>>;
  try {
    series = await promExemplars(config.urls.prometheus, query, start, end);
  } catch (error) {
    throw new StepError(`query_exemplars failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  const exemplars = (series ?? []).flatMap((entry) =>
    entry.exemplars
      .map((exemplar) => ({
        traceId: exemplar.labels.trace_id ?? exemplar.labels.traceID ?? exemplar.labels.traceId ?? '',
        value: Number(exemplar.value),
        timestamp: exemplar.timestamp,
        job: entry.seriesLabels.job ?? job,
      }))
      .filter((exemplar) => exemplar.traceId !== ''),
  );
  if (exemplars.length === 0) {
    throw new StepError(
      `Prometheus has no exemplars for ${query} in the last ${Math.round(end - start)} s: is Prometheus running with --enable-feature=exemplar-storage, and do the services export exemplars (OTEL_METRICS_EXEMPLAR_FILTER)?`,
    );
  }
  return exemplars.sort((a, b) => b.value - a.value);
}

// ------------------------------------------------------------------------------------------------
// Tempo: the trace behind the exemplar
// ------------------------------------------------------------------------------------------------

export interface TraceEvidence {
  traceId: string;
  spans: number;
  services: string[];
  dbSpansInInventory: number;
}

/** Summarises a trace: the services in it and the N+1 (query-stock-db spans in inventory). */
export function traceEvidence(traceId: string, spans: TempoSpan[]): TraceEvidence {
  return {
    traceId,
    spans: spans.length,
    services: [...new Set(spans.map((span) => span.service))].sort(),
    dbSpansInInventory: spans.filter((span) => span.service === 'inventory' && span.name === 'query-stock-db').length,
  };
}

/**
 * Fetches the trace from Tempo until it is complete enough to show the N+1 (Tempo needs a few
 * seconds to ingest; the spans of the slow lookup arrive after it finished).
 */
export async function verifyTrace(config: DemoConfig, traceId: string, log: Log = say, timeoutMs = 45_000): Promise<TraceEvidence> {
  const started = Date.now();
  let last = 'Tempo does not know it yet (404)';
  for (;;) {
    try {
      const spans = await tempoTrace(config.urls.tempo, traceId);
      if (spans) {
        const evidence = traceEvidence(traceId, spans);
        last = `${evidence.spans} spans from ${evidence.services.join(', ')}; ${evidence.dbSpansInInventory} query-stock-db spans in inventory`;
        if (evidence.dbSpansInInventory >= config.minDbSpans) return evidence;
      }
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    const elapsed = Date.now() - started;
    log(`    ${String(Math.round(elapsed / 1000)).padStart(4)} s  ${last}`);
    if (elapsed + 3000 > timeoutMs) {
      throw new StepError(`trace ${traceId} from ${config.urls.tempo}/api/traces/${traceId}: ${last} (want >= ${config.minDbSpans} query-stock-db spans in inventory)`);
    }
    await sleep(3000);
  }
}

// ------------------------------------------------------------------------------------------------
// Grafana links
// ------------------------------------------------------------------------------------------------

export interface GrafanaLinks {
  dashboard: string;
  exploreTrace: string;
  exploreTraceQL: string;
  traceql: string;
}

/** Explore in the current URL format: ?schemaVersion=1&panes={"<pane id>": {datasource, queries, range}}. */
export function exploreUrl(grafana: string, pane: { datasource: string; queries: Array<Record<string, unknown>>; from: number; to: number | 'now' }): string {
  const panes = {
    demo: {
      datasource: pane.datasource,
      queries: pane.queries,
      range: { from: String(pane.from), to: String(pane.to) },
    },
  };
  return `${grafana}/explore?schemaVersion=1&orgId=1&panes=${encodeURIComponent(JSON.stringify(panes))}`;
}

/** The dashboard over the demo's time range, Explore on the trace, Explore on the TraceQL search. */
export function grafanaLinks(config: DemoConfig, range: { fromMs: number; toMs: number | 'now' }, traceId: string): GrafanaLinks {
  const grafana = config.urls.grafana;
  const tempo = { type: 'tempo', uid: TEMPO_DATASOURCE_UID };
  return {
    dashboard: `${grafana}/d/${DASHBOARD_UID}?orgId=1&from=${range.fromMs}&to=${range.toMs}`,
    exploreTrace: exploreUrl(grafana, {
      datasource: TEMPO_DATASOURCE_UID,
      queries: [{ refId: 'A', datasource: tempo, queryType: 'traceql', query: traceId }],
      from: range.fromMs,
      to: range.toMs,
    }),
    exploreTraceQL: exploreUrl(grafana, {
      datasource: TEMPO_DATASOURCE_UID,
      queries: [{ refId: 'A', datasource: tempo, queryType: 'traceql', query: TRACEQL_SLOW_INVENTORY, limit: 20, tableType: 'traces' }],
      from: range.fromMs,
      to: range.toMs,
    }),
    traceql: TRACEQL_SLOW_INVENTORY,
  };
}

// ------------------------------------------------------------------------------------------------
// The run
// ------------------------------------------------------------------------------------------------

interface StepRecord {
  title: string;
  status: 'ok' | 'failed' | 'warned';
  ms: number;
  note?: string;
}

export class Demo {
  readonly config: DemoConfig;
  readonly log: Log;
  readonly records: StepRecord[] = [];
  load: LoadHandle | undefined;
  slowPathTouched = false;
  stopping = false;
  #prompt: Interface | undefined;
  #cleaned: Promise<void> | undefined;
  #beat = 0;
  readonly #beats: number;

  constructor(config: DemoConfig, log: Log = say, beats = 11) {
    this.config = config;
    this.log = log;
    this.#beats = beats;
  }

  /** In attended mode, waits for Enter before a beat; in rehearsal, goes straight on. */
  async cue(text: string): Promise<void> {
    if (this.config.rehearse) return;
    if (!this.#prompt) {
      this.#prompt = createInterface({ input: process.stdin, output: process.stdout });
      // readline swallows Ctrl-C while it waits: hand it to the process's clean-stop handler.
      this.#prompt.on('SIGINT', () => process.kill(process.pid, 'SIGINT'));
    }
    await this.#prompt.question(styleText('cyan', `\n  ⏎  ${text}  [Enter] `));
  }

  /** Runs one beat with a header and a verdict; a failure is recorded and rethrown. */
  async step<T>(title: string, run: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
    this.#beat++;
    this.log(`\n${bold(`── ${this.#beat}/${this.#beats}  ${title}`)}`);
    const started = performance.now();
    try {
      const result = await run();
      const ms = performance.now() - started;
      const note = describe?.(result);
      this.records.push({ title, status: 'ok', ms, note });
      this.log(`  ${ok('✔')} ${note ?? 'done'} ${styleText('dim', `(${(ms / 1000).toFixed(1)} s)`)}`);
      return result;
    } catch (error) {
      const ms = performance.now() - started;
      const message = error instanceof Error ? error.message : String(error);
      this.records.push({ title, status: 'failed', ms, note: message });
      this.log(`  ${bad('✘')} ${message}`);
      throw error;
    }
  }

  warnStep(title: string, message: string): void {
    this.#beat++;
    this.log(`\n${bold(`── ${this.#beat}/${this.#beats}  ${title}`)}`);
    this.records.push({ title, status: 'warned', ms: 0, note: message });
    this.log(warn(`  !!! SKIPPED: ${message}`));
  }

  /** Stops the load and turns the slow path OFF; safe to call more than once. */
  cleanup(): Promise<void> {
    this.#cleaned ??= (async () => {
      this.stopping = true;
      this.#prompt?.close();
      this.log(`\n${bold('── clean stop')}`);
      if (this.load) {
        await this.load.stop().catch(() => undefined);
        this.log(`  ${ok('✔')} load stopped (${this.load.kind})`);
      }
      if (this.slowPathTouched) {
        try {
          await setSlowPath(this.config, 0);
          this.log(`  ${ok('✔')} slow path OFF (rate 0) on ${this.config.urls.inventory}`);
        } catch (error) {
          this.log(`  ${bad('✘')} could not turn the slow path off: ${error instanceof Error ? error.message : String(error)}`);
          this.log(`    do it by hand: curl -X PUT -H 'content-type: application/json' -d '{"rate":0}' ${this.config.urls.inventory}/admin/slow-path`);
          process.exitCode = 1;
        }
      }
    })();
    return this.#cleaned;
  }

  summary(): void {
    this.log(`\n${bold('── summary')}`);
    for (const record of this.records) {
      const mark = record.status === 'ok' ? ok('✔') : record.status === 'warned' ? warn('!') : bad('✘');
      this.log(`  ${mark} ${record.title.padEnd(44)} ${(record.ms / 1000).toFixed(1).padStart(6)} s`);
    }
    if (this.records.some((record) => record.status === 'warned')) {
      this.log(warn('  !!! Incomplete rehearsal: some beats were skipped (see above). Rehearse them where they can run.'));
    }
  }
}

/** The whole demo; resolves with the exit code. */
export async function runDemo(config: DemoConfig, log: Log = say): Promise<number> {
  const demo = new Demo(config, log);
  const onSignal = (signal: NodeJS.Signals) => {
    log(`\n${warn(`${signal}: stopping cleanly (again to force)`)}`);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.once('SIGINT', () => process.exit(130));
    process.once('SIGTERM', () => process.exit(143));
    void demo.cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  log(bold(`spike-to-trace demo (${config.rehearse ? 'rehearsal, unattended' : 'live: Enter moves to the next beat'}; ${config.native ? 'native stack' : 'compose or remote stack'})`));
  if (config.allowMissingTempo) log(warn('!!! --allow-missing-tempo: the trace beat will be SKIPPED if Tempo is not there. Never present like this.'));

  let code = 0;
  try {
    await beats(demo);
  } catch (error) {
    if (!(error instanceof StepError)) log(bad(`unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`));
    code = 1;
  } finally {
    await demo.cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  demo.summary();
  const skipped = demo.records.some((record) => record.status === 'warned');
  if (code !== 0) log(bad('\nThe demo is NOT ready: fix the failed beat above.'));
  else if (skipped) log(warn('\nEvery beat that ran passed, but some were SKIPPED: not a full rehearsal.'));
  else log(ok('\nAll beats passed.'));
  return code;
}

/** The beats in order; each is one small function call. */
async function beats(demo: Demo): Promise<void> {
  const { config, log } = demo;

  const health = await demo.step('Check the stack', () => checkStack(config, log), (results) => `${results.filter((r) => r.healthy).length}/${results.length} healthy`);
  const tempoUp = health.find((result) => result.name === 'tempo')?.healthy ?? false;
  const grafanaUp = health.find((result) => result.name === 'grafana')?.healthy ?? false;

  await demo.step('Slow path off: a calm start', async () => {
    demo.slowPathTouched = true;
    return setSlowPath(config, 0);
  }, (settings) => `inventory slow path rate ${settings.rate} (delay ${settings.delayMs} ms)`);

  demo.load = await demo.step('Start steady load', () => startBackgroundLoad(config, log), (load) => load.description);
  void demo.load.ended.then((why) => {
    if (!demo.stopping) log(warn(`  !!! the load ended by itself: ${why}`));
  });

  await demo.step('Steady traffic, calm p99', () => waitForCalmBaseline(config, log), (baseline) => `${baseline.requestsPerSecond.toFixed(1)} req/s, inventory p99 ${seconds(baseline.inventoryP99)}`);

  await demo.cue(`Turn the bug on (slow path ${Math.round(config.slowRate * 100)} %)`);
  const bugOnAt = Date.now();
  await demo.step('Turn the bug on', () => setSlowPath(config, config.slowRate), (settings) => `${Math.round(settings.rate * 100)} % of stock lookups now take the N+1 slow path (~${settings.delayMs} ms)`);

  await demo.step('p99 spikes', () => waitForSpike(config, log), (value) => `inventory p99 ${seconds(value)}`);

  await demo.cue('Find the slowest exemplar');
  const exemplars = await demo.step(
    'Find the slowest exemplar',
    () => findSlowestExemplars(config, Math.floor(bugOnAt / 1000) - 5, Math.ceil(Date.now() / 1000)),
    (found) => `${found.length} exemplars; slowest ${seconds(found[0]!.value)} at ${new Date(found[0]!.timestamp * 1000).toISOString()} -> trace ${found[0]!.traceId}`,
  );

  let traceId = exemplars[0]!.traceId;
  if (tempoUp || !config.allowMissingTempo) {
    const evidence = await demo.step('Tempo has the trace, with the N+1', () => verifyWithFallback(demo, exemplars), (found) => `trace ${found.traceId}: ${found.spans} spans (${found.services.join(', ')}), ${found.dbSpansInInventory} query-stock-db spans in inventory: the N+1`);
    traceId = evidence.traceId;
  } else {
    demo.warnStep('Tempo has the trace, with the N+1', `Tempo is not reachable at ${config.urls.tempo}: trace ${traceId} was NOT checked (--allow-missing-tempo)`);
  }

  await demo.step('Grafana links', async () => {
    const links = grafanaLinks(config, { fromMs: bugOnAt - 5 * 60_000, toMs: 'now' }, traceId);
    log(`  dashboard (spike in range):  ${links.dashboard}`);
    log(`  Explore on the trace:        ${links.exploreTrace}`);
    log(`  Explore, TraceQL search:     ${links.exploreTraceQL}`);
    log(`  TraceQL to paste:            ${links.traceql}`);
    if (!grafanaUp) log(warn(`  (Grafana is not reachable at ${config.urls.grafana}: these links work where it runs)`));
    return links;
  }, () => (grafanaUp ? 'open them in the browser' : 'printed (no Grafana here to open them in)'));

  await demo.cue('Turn the bug off');
  await demo.step('Turn the bug off', () => setSlowPath(config, 0), () => 'slow path rate 0');

  await demo.step('p99 recovers', () => waitForRecovery(config, log), (value) => `inventory p99 ${seconds(value)}`);

  await demo.cue('Stop the load and finish');
}

/** The slowest exemplar's trace; when Tempo cannot show it, the next two slowest. */
async function verifyWithFallback(demo: Demo, exemplars: Exemplar[]): Promise<TraceEvidence> {
  const candidates = exemplars.filter((exemplar) => exemplar.value > demo.config.spikeSeconds).slice(0, 3);
  if (candidates.length === 0) throw new StepError(`no exemplar above ${demo.config.spikeSeconds} s (slowest ${seconds(exemplars[0]!.value)})`);
  const failures: string[] = [];
  for (const candidate of candidates) {
    demo.log(`    trace ${candidate.traceId} (${seconds(candidate.value)})`);
    try {
      return await verifyTrace(demo.config, candidate.traceId, demo.log);
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    }
  }
  throw new StepError(failures.join('\n    '));
}

function usage(): string {
  return 'usage: npm run demo -- [--rehearse] [--allow-missing-tempo] [--slow-rate 0.2] [--load-rate 10] [--builtin-load] [--step-timeout 180]';
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage());
  } else {
    try {
      const config = configFromArgs(argv);
      process.exitCode = await runDemo(config);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      console.error(`${error.message}\n${usage()}`);
      process.exitCode = 2;
    }
  }
}
