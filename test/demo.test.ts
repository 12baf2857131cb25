// The demo's parts that need no stack: its options, the stack it thinks it runs against, and its
// health check with every URL on a closed local port (a port bound, then closed). Starts nothing and
// never touches the stack's fixed ports; the real rehearsal is test/demo-rehearsal.test.ts.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BEATS } from '../demo/beats.ts';
import { checkStack, detectStack } from '../demo/checks.ts';
import { configFromArgs, type DemoConfig } from '../demo/config.ts';
import { grafanaLinks, grafanaUids } from '../demo/grafana-links.ts';
import { StepError } from '../demo/output.ts';
import { MAX_CATALOG_ID, MAX_ERROR_ID, USERS, orderRequest } from '../loadgen/lib/orders.js';
import { UsageError } from '../loadgen/run.ts';

const COMPONENTS = ['order', 'inventory', 'pricing', 'otel-collector', 'prometheus', 'tempo', 'grafana'];

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the demo without a stack', () => {
  let stateDir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'demo-test-'));
    const nowhere = `http://127.0.0.1:${await closedPort()}`;
    env = Object.fromEntries(
      ['ORDER_URL', 'INVENTORY_URL', 'PRICING_URL', 'COLLECTOR_HEALTH_URL', 'PROMETHEUS_URL', 'TEMPO_URL', 'GRAFANA_URL'].map((name) => [name, nowhere]),
    );
  });
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  /** checkStack's error and log lines for a config. */
  async function healthCheck(config: DemoConfig): Promise<{ error: StepError; lines: string[] }> {
    const lines: string[] = [];
    const error = await checkStack(config, (line) => lines.push(line)).then(
      () => assert.fail('the health check passed with nothing running'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof StepError, String(error));
    return { error, lines };
  }

  test('the stack: compose without native state, native once .stack/pids exists or a component runs, DEMO_STACK first', () => {
    assert.equal(detectStack({}, { running: [], stateDir }).kind, 'compose');
    assert.equal(detectStack({}, { running: ['order'], stateDir }).kind, 'native');
    mkdirSync(join(stateDir, 'pids'));
    assert.equal(detectStack({}, { running: [], stateDir }).kind, 'native');
    assert.equal(detectStack({ DEMO_STACK: 'compose' }, { running: ['order'], stateDir }).kind, 'compose');
    assert.throws(() => detectStack({ DEMO_STACK: 'kubernetes' }, { running: [], stateDir }), UsageError);
  });

  test('natively: every component named, native hints, Grafana optional', async () => {
    mkdirSync(join(stateDir, 'pids'), { recursive: true }); // stackUp ran here once, nothing runs now
    const config = configFromArgs(['--rehearse'], env, detectStack(env, { running: [], stateDir }));
    assert.equal(config.stack.kind, 'native');
    const { error, lines } = await healthCheck(config);
    const log = lines.join('\n');
    for (const name of COMPONENTS.filter((name) => name !== 'grafana')) assert.match(error.message, new RegExp(`\\b${name} \\(connection refused`));
    assert.doesNotMatch(error.message, /grafana/, 'Grafana counted as required natively');
    for (const name of COMPONENTS) assert.match(log, new RegExp(`^  \\S+ ${name} `, 'm'), `${name} not in the log`);
    assert.match(log, /see \.stack\/logs\/order\.log; restart with npm run stack:down && npm run stack:up/);
    assert.match(log, /\(optional\) the native stack has no Grafana/);
    assert.doesNotMatch(log, /docker compose/);
  });

  test('under compose: every component named, compose hints, Grafana required', async () => {
    const config = configFromArgs(['--rehearse'], env, { kind: 'compose', why: 'test' });
    const { error, lines } = await healthCheck(config);
    const log = lines.join('\n');
    for (const name of COMPONENTS) assert.match(error.message, new RegExp(`\\b${name} \\(connection refused`));
    for (const name of ['order', 'prometheus', 'grafana']) {
      assert.ok(log.includes(`docker compose ps ${name}; docker compose logs --tail=50 ${name}`), `no compose hint for ${name}`);
    }
    assert.doesNotMatch(log, /\.stack\/logs|stack:up|\(optional\)/);
  });

  test('configFromArgs: defaults, and a UsageError for an unknown option or a bad number', () => {
    const stack = { kind: 'compose', why: 'test' } as const;
    const config = configFromArgs(['--rehearse', '--slow-rate', '0.5'], { ...env, DEMO_LOAD_RATE: '20' }, stack);
    assert.deepEqual([config.slowRate, config.loadRate, config.stepTimeoutMs, config.rehearse, config.builtinLoad], [0.5, 20, 180_000, true, false]);
    for (const argv of [
      ['--bogus'],
      ['--rehearse', 'extra'],
      ['--slow-rate', 'fast'],
      ['--slow-rate', '2'],
      ['--load-rate', '0'],
      ['--step-timeout'],
      ['--step-timeout', '--rehearse'],
    ]) {
      assert.throws(() => configFromArgs(argv, env, stack), UsageError, argv.join(' '));
    }
  });

  test('the beats are an ordered list; the Grafana uids come from the provisioning files', () => {
    assert.equal(BEATS.length, 11);
    assert.equal(BEATS[0]!.title, 'Check the stack');
    assert.deepEqual(grafanaUids(), { dashboard: 'spike-to-trace', prometheus: 'prometheus', tempo: 'tempo' });
    const config = configFromArgs([], { GRAFANA_URL: 'http://grafana.test' }, { kind: 'compose', why: 'test' });
    assert.match(grafanaLinks(config, { fromMs: 1, toMs: 'now' }, 'abc').dashboard, /^http:\/\/grafana\.test\/d\/spike-to-trace\?orgId=1&from=1&to=now$/);
  });

  test('the built-in load follows loadgen/lib/orders.js: error path first and every 50th, ids, user', () => {
    const requests = Array.from({ length: 101 }, (_, iteration) => orderRequest(iteration, { errorEvery: 50 }));
    assert.deepEqual(
      requests.flatMap((request, i) => (request.errorPath ? [i] : [])),
      [0, 50, 100],
    );
    for (const request of requests) {
      const [low, high] = request.errorPath ? [MAX_CATALOG_ID + 1, MAX_ERROR_ID] : [1, MAX_CATALOG_ID];
      assert.ok(request.orderId >= low && request.orderId <= high, `${request.flow} id ${request.orderId}`);
      const user = Number(/^user-(\d+)$/.exec(request.headers['x-user-id']!)?.[1]);
      assert.ok(user >= 1 && user <= USERS, request.headers['x-user-id']);
      assert.equal(request.headers.traceparent, `00-${request.traceId}-${request.parentId}-01`);
    }
    assert.equal(orderRequest(1, { errorEvery: 50, traceparent: 'off' }).headers.traceparent, undefined);
  });
});
