// Smoke test of the running docker compose stack, the way a user meets it: through Grafana.
//
//   docker compose up -d --build --wait
//   npm run smoke
//
// Every check goes through Grafana's HTTP API (anonymous access, as compose configures it):
//   1. Grafana is up;
//   2. its Prometheus and Tempo data sources pass their health checks;
//   3. the spike-to-trace dashboard is provisioned;
//   4. the dashboard's p99 query, run through Grafana, returns data and exemplars;
//   5. Tempo, asked through Grafana, returns the trace of one of those exemplars, holding the span
//      the exemplar names (native/exemplar-resolvability.ts).
// Each check is retried until it passes or the deadline runs out (traffic, exemplars and traces need
// a little time after startup); when nothing listens at GRAFANA_URL at all, it fails after 10 s
// with that reason. The exit code is 0 only when all checks pass.
//
// Environment:
//   GRAFANA_URL        default http://127.0.0.1:3000
//   SMOKE_TIMEOUT_S    overall deadline in seconds, default 300
//   GRAFANA_USER, GRAFANA_PASSWORD   basic auth, for a Grafana without anonymous access
//
// Node built-ins only (fetch), so it runs before or without npm install.

import { eventually as pollUntil } from '../../native/eventually.ts';
import { verdictOf, type Exemplar } from '../../native/exemplar-resolvability.ts';
import { tempoSpans } from '../../native/stack-apis.ts';

const grafanaUrl = (process.env.GRAFANA_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
const timeoutSeconds = Number(process.env.SMOKE_TIMEOUT_S ?? '300');
const deadline = Date.now() + (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 ? timeoutSeconds : 300) * 1000;
const RETRY_EVERY_MS = 5000;
const REQUEST_TIMEOUT_MS = 15_000;
const DASHBOARD_UID = 'spike-to-trace';
const PROMETHEUS = { type: 'prometheus', uid: 'prometheus' };
const TEMPO = { type: 'tempo', uid: 'tempo' };
// The exemplar labels that carry a trace id in this stack (Collector: trace_id, Tempo: traceID).
const TRACE_ID_LABELS = ['trace_id', 'traceID'];

const authHeader: Record<string, string> =
  process.env.GRAFANA_USER !== undefined
    ? { authorization: `Basic ${Buffer.from(`${process.env.GRAFANA_USER}:${process.env.GRAFANA_PASSWORD ?? ''}`).toString('base64')}` }
    : {};

interface Reply {
  status: number;
  text: string;
  json: unknown;
}

async function grafana(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Reply> {
  let response: Response;
  try {
    response = await fetch(`${grafanaUrl}${path}`, {
      method,
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...authHeader },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, timeout, ...) is in its cause.
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`${method} ${grafanaUrl}${path}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

function expectOk(reply: Reply, what: string): void {
  if (reply.status !== 200) throw new Error(`${what}: HTTP ${reply.status} ${reply.text.slice(0, 300)}`);
}

/** Nothing listening at all for this long: no stack is up, or GRAFANA_URL points elsewhere. */
const NOTHING_LISTENS_GIVE_UP_MS = 10_000;

/**
 * Runs `attempt` until it returns, or fails with its last error once the deadline has passed, or at
 * once when nothing has listened at Grafana's address for 10 s: a stack that is starting refuses
 * for a moment, one that is not there refuses for ever, and waiting the whole deadline would only
 * delay saying so.
 */
async function eventually<T>(name: string, attempt: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const refused = (error: unknown) => /ECONNREFUSED/.test(String(error));
  try {
    return await pollUntil(attempt, name, Math.max(0, deadline - Date.now()), RETRY_EVERY_MS, {
      giveUpOn: (error) => refused(error) && Date.now() - started >= NOTHING_LISTENS_GIVE_UP_MS,
      onRetry: (tries, last) => {
        if (tries === 1 || tries % 6 === 0) console.log(`  … ${name}: waiting (${last instanceof Error ? last.message : String(last)})`);
      },
    });
  } catch (error) {
    if (!refused(error)) throw error;
    throw new Error(`${(error as Error).message}: nothing listens there. Is the stack up (docker compose up -d --wait), or is GRAFANA_URL wrong?`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Grafana's data frame JSON (what /api/ds/query returns)
// ---------------------------------------------------------------------------------------------------

interface Frame {
  schema?: { name?: string; fields?: { name?: string; type?: string; labels?: Record<string, string> }[] };
  data?: { values?: unknown[][] };
}

interface QueryResults {
  results?: Record<string, { status?: number; error?: string; frames?: Frame[] }>;
}

function framesOf(reply: Reply, refId: string): Frame[] {
  const result = (reply.json as QueryResults | undefined)?.results?.[refId];
  if (!result) throw new Error(`no result for query ${refId}: ${reply.text.slice(0, 300)}`);
  if (result.error) throw new Error(`query ${refId} failed: ${result.error}`);
  return result.frames ?? [];
}

const rowsOf = (frame: Frame): number => frame.data?.values?.[0]?.length ?? 0;

/** The exemplars of the exemplar frames Grafana's Prometheus data source returns, newest first. */
function exemplarsIn(frames: Frame[]): Exemplar[] {
  const out: Exemplar[] = [];
  for (const frame of frames) {
    if (frame.schema?.name !== 'exemplar') continue;
    const fields = frame.schema.fields ?? [];
    const values = frame.data?.values ?? [];
    // One field per label, the series' (job) and the exemplar's (trace_id, span_id) alike.
    const column = (...names: string[]) => values[fields.findIndex((f) => f.name !== undefined && names.includes(f.name))] ?? [];
    const [times, values_, ids, spanIds, jobs] = [column('Time'), column('Value'), column(...TRACE_ID_LABELS), column('span_id'), column('job')];
    ids.forEach((id, row) => {
      if (typeof id !== 'string' || !/^[0-9a-f]{16,32}$/i.test(id)) return;
      out.push({
        traceId: id,
        spanId: String(spanIds[row] ?? ''),
        service: String(jobs[row] ?? ''),
        spanKind: 'SPAN_KIND_SERVER',
        value: Number(values_[row]),
        timestamp: Number(times[row] ?? 0) / 1000,
      });
    });
  }
  return out.sort((a, b) => b.timestamp - a.timestamp);
}

// ---------------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------------

interface DashboardTarget {
  expr?: string;
  exemplar?: boolean;
  range?: boolean;
}

async function grafanaIsUp(): Promise<string> {
  const reply = await grafana('GET', '/api/health');
  expectOk(reply, 'GET /api/health');
  const health = reply.json as { database?: string; version?: string };
  if (health.database !== 'ok') throw new Error(`database is ${health.database}`);
  return `Grafana ${health.version ?? '?'}`;
}

async function datasourceIsHealthy(uid: string): Promise<string> {
  const reply = await grafana('GET', `/api/datasources/uid/${uid}/health`);
  expectOk(reply, `GET /api/datasources/uid/${uid}/health`);
  const health = reply.json as { status?: string; message?: string };
  if (health.status !== 'OK') throw new Error(`status ${health.status}: ${health.message}`);
  return health.message ?? 'OK';
}

async function dashboardIsProvisioned(): Promise<string> {
  const reply = await grafana('GET', `/api/dashboards/uid/${DASHBOARD_UID}`);
  expectOk(reply, `GET /api/dashboards/uid/${DASHBOARD_UID}`);
  const dashboard = (reply.json as { dashboard?: { uid?: string; panels?: { targets?: DashboardTarget[]; panels?: unknown[] }[] } }).dashboard;
  if (dashboard?.uid !== DASHBOARD_UID) throw new Error('the reply holds no dashboard');
  const targets = (dashboard.panels ?? []).flatMap((p) => p.targets ?? []);
  const p99 = targets.find(
    (t) => t.exemplar === true && /histogram_quantile\(\s*0\.99/.test(t.expr ?? '') && (t.expr ?? '').includes('http_request_duration_seconds_bucket'),
  );
  if (!p99?.expr) throw new Error('the dashboard has no p99 query with exemplars');
  return p99.expr;
}

/** Runs the dashboard's p99 query through Grafana, as the panel does; returns its exemplars. */
async function p99HasExemplars(expr: string): Promise<Exemplar[]> {
  const runnable = expr.replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '15s');
  const reply = await grafana('POST', '/api/ds/query', {
    from: 'now-15m',
    to: 'now',
    queries: [{ refId: 'A', datasource: PROMETHEUS, expr: runnable, range: true, instant: false, exemplar: true, intervalMs: 15_000, maxDataPoints: 300 }],
  });
  expectOk(reply, 'POST /api/ds/query (Prometheus)');
  const frames = framesOf(reply, 'A');
  const series = frames.filter((f) => f.schema?.name !== 'exemplar' && rowsOf(f) > 0);
  if (series.length === 0) throw new Error('the p99 query returns no data yet: are the services getting traffic (k6)?');
  const exemplars = exemplarsIn(frames);
  if (exemplars.length === 0) {
    throw new Error(
      `the p99 query returns ${series.length} series but no exemplar with a ${TRACE_ID_LABELS.join('/')} label (Prometheus needs --enable-feature=exemplar-storage)`,
    );
  }
  return exemplars;
}

/** Asks Tempo, through Grafana, for the trace of a recent exemplar. */
async function exemplarTraceIsInTempo(expr: string): Promise<string> {
  const exemplars = await p99HasExemplars(expr);
  // The newest traces may still be in flight (the Collector batches, Tempo's live-store cuts them
  // after a few idle seconds): try the newest few that are at least 10 s old, then any.
  const settled = exemplars.filter((e) => e.timestamp * 1000 < Date.now() - 10_000);
  const candidates = [...new Map([...settled, ...exemplars].map((e) => [e.traceId, e])).values()].slice(0, 5);
  const failures: string[] = [];
  for (const exemplar of candidates) {
    const { traceId } = exemplar;
    // The query Grafana runs when an exemplar's "Query with Tempo" link is followed.
    const reply = await grafana('POST', '/api/ds/query', {
      from: 'now-1h',
      to: 'now',
      queries: [{ refId: 'T', datasource: TEMPO, queryType: 'traceId', query: traceId }],
    });
    if (reply.status === 200) {
      try {
        const spans = framesOf(reply, 'T').reduce((sum, frame) => sum + rowsOf(frame), 0);
        if (spans > 0) return `trace ${traceId}: ${spans} spans (through /api/ds/query)`;
        failures.push(`${traceId}: empty trace`);
      } catch (error) {
        failures.push(`${traceId}: ${(error as Error).message}`);
      }
    } else {
      failures.push(`${traceId}: /api/ds/query HTTP ${reply.status} ${reply.text.slice(0, 200)}`);
    }
    // Tempo's own trace API through Grafana's data source proxy: the exemplar's own span must be in it.
    const proxied = await grafana('GET', `/api/datasources/proxy/uid/${TEMPO.uid}/api/traces/${traceId}`);
    const verdict = verdictOf(exemplar, proxied.status === 200 ? tempoSpans(proxied.json) : undefined);
    if (verdict === 'span found') return `trace ${traceId}: ${exemplar.service}'s span ${exemplar.spanId} found (through the data source proxy)`;
    failures.push(`${traceId}: proxy HTTP ${proxied.status}, ${verdict}`);
  }
  throw new Error(`Tempo has none of the exemplar traces yet: ${failures.join('; ')}`);
}

// ---------------------------------------------------------------------------------------------------

interface Outcome {
  name: string;
  ok: boolean;
  detail: string;
}

const outcomes: Outcome[] = [];

async function check<T>(name: string, attempt: () => Promise<T>, describe: (value: T) => string): Promise<T | undefined> {
  const started = Date.now();
  try {
    const value = await eventually(name, attempt);
    const detail = `${describe(value)} [${((Date.now() - started) / 1000).toFixed(1)} s]`;
    outcomes.push({ name, ok: true, detail });
    console.log(`✔ ${name}: ${detail}`);
    return value;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    outcomes.push({ name, ok: false, detail });
    console.log(`✖ ${name}: ${detail}`);
    return undefined;
  }
}

function skip(name: string, because: string): void {
  outcomes.push({ name, ok: false, detail: `not run: ${because}` });
  console.log(`✖ ${name}: not run: ${because}`);
}

async function main(): Promise<number> {
  console.log(`Smoke test of the compose stack through Grafana at ${grafanaUrl} (deadline ${Math.round((deadline - Date.now()) / 1000)} s)`);

  const up = await check('Grafana is up', grafanaIsUp, (v) => v);
  if (up === undefined) {
    skip('data sources, dashboard, exemplars, traces', 'Grafana is not reachable');
  } else {
    await check(
      'Prometheus data source is healthy',
      () => datasourceIsHealthy(PROMETHEUS.uid),
      (v) => v,
    );
    await check(
      'Tempo data source is healthy',
      () => datasourceIsHealthy(TEMPO.uid),
      (v) => v,
    );
    const expr = await check(`dashboard ${DASHBOARD_UID} is provisioned`, dashboardIsProvisioned, (v) => `p99 query: ${v}`);
    if (expr === undefined) {
      skip('p99 query returns exemplars', 'no dashboard');
      skip('Tempo returns an exemplar trace', 'no dashboard');
    } else {
      const exemplars = await check(
        'p99 query returns exemplars',
        () => p99HasExemplars(expr),
        (v) => `${v.length} exemplars, newest trace ${v[0]!.traceId}`,
      );
      if (exemplars === undefined) skip('Tempo returns an exemplar trace', 'no exemplars');
      else
        await check(
          'Tempo returns an exemplar trace',
          () => exemplarTraceIsInTempo(expr),
          (v) => v,
        );
    }
  }

  const failed = outcomes.filter((o) => !o.ok);
  console.log(`\n${outcomes.length - failed.length} passed, ${failed.length} failed`);
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main();
