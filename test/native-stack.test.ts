// The native stack's own promises, on the real binaries: a second stack runs beside the first with
// its own STACK_DIR and ports, a port that is taken is refused before anything starts (with the port,
// its variable and what holds it), "ready" means the component's own process answered, and
// stack:down says which components had already exited. Run through `node native/stack.ts`, as
// `npm run stack:up` runs it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { newTraceparent } from '../loadgen/lib/traceparent.js';
import { eventually } from '../native/eventually.ts';
import { tempoTrace } from '../native/stack-apis.ts';
import { isAlive } from '../native/stack.ts';
import type { Component } from '../native/stack-components.ts';
import { answersItself, PORT_VARIABLES } from '../native/stack-ports.ts';
import { repoRoot, run, tempoSkipReason, type RunResult } from '../native/tools.ts';

/** A stack's environment: its own state directory and every port moved by `offset`. */
function stackEnv(name: string, offset: number): Record<string, string> {
  const env: Record<string, string> = { STACK_DIR: mkdtempSync(join(tmpdir(), `native-stack-${name}-`)) };
  for (const { variable, fallback } of PORT_VARIABLES) env[variable] = String(fallback + offset);
  return env;
}

const A = stackEnv('a', 20_000);
const B = stackEnv('b', 21_000);
const stack = (env: Record<string, string>, args: string[]): Promise<RunResult> =>
  run(process.execPath, ['native/stack.ts', ...args], { cwd: repoRoot, env: { ...process.env, ...env }, timeoutMs: 180_000 });
const url = (env: Record<string, string>, variable: string, path = '') => `http://127.0.0.1:${env[variable]}${path}`;

describe('two native stacks side by side, and a taken port refused', { skip: tempoSkipReason(), timeout: 10 * 60_000 }, () => {
  after(async () => {
    for (const env of [A, B]) {
      await stack(env, ['down']).catch(() => undefined);
      rmSync(env.STACK_DIR!, { recursive: true, force: true });
    }
  });

  test('a second stack with its own STACK_DIR and ports comes up beside the first; each keeps its own traces', async () => {
    for (const env of [A, B]) {
      const up = await stack(env, ['up']);
      assert.equal(up.code, 0, `stack:up failed:\n${up.stdout}\n${up.stderr}`);
      assert.match(up.stdout, /The native stack is up/);
    }
    // A request to each stack's order is a trace in that stack's Tempo, and only there.
    for (const [own, other] of [
      [A, B],
      [B, A],
    ] as const) {
      const { traceId, header } = newTraceparent();
      const response = await fetch(url(own, 'ORDER_PORT', '/orders/42'), { headers: { traceparent: header } });
      assert.equal(response.status, 200);
      await response.arrayBuffer();
      await eventually(() => tempoTrace(url(own, 'TEMPO_HTTP_PORT'), traceId), `trace ${traceId} in its own stack's Tempo`, 30_000, 1000);
      assert.equal(await tempoTrace(url(other, 'TEMPO_HTTP_PORT'), traceId), undefined, 'the trace reached the other stack');
    }
  });

  test("a stack on the first stack's ports is refused before anything starts, naming each port, its variable and its holder", async () => {
    const C: Record<string, string> = { ...stackEnv('c', 22_000), ORDER_PORT: A.ORDER_PORT!, PROMETHEUS_PORT: A.PROMETHEUS_PORT! };
    try {
      const up = await stack(C, ['up']);
      assert.equal(up.code, 1, `stack:up should refuse:\n${up.stdout}\n${up.stderr}`);
      assert.match(
        up.stderr,
        new RegExp(
          `port ${A.ORDER_PORT} \\(ORDER_PORT, for order\\) is taken by pid \\d+ \\(.*node.*\\): stop it, or move the port with ORDER_PORT=<free port>`,
        ),
      );
      assert.match(up.stderr, new RegExp(`port ${A.PROMETHEUS_PORT} \\(PROMETHEUS_PORT, for prometheus\\) is taken by pid \\d+ \\(.*prometheus`));
      assert.doesNotMatch(up.stdout, /ready/, 'nothing may be reported ready');
      const status = await stack(C, ['status']);
      assert.match(status.stdout, /the native stack is not running/);
    } finally {
      rmSync(C.STACK_DIR!, { recursive: true, force: true });
    }
  });

  test('stack:down says which components had already exited', async () => {
    const pid = Number(readFileSync(join(A.STACK_DIR!, 'pids', 'prometheus.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    await eventually(async () => !isAlive(pid), 'prometheus to die', 5000, 100);
    const down = await stack(A, ['down']);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /prometheus\s+had already exited \(see .*logs\/prometheus\.log\)/);
    assert.match(down.stdout, /order\s+stopped/);
  });
});

test("a component is ready only when its own process answers: another listener's answer does not count", async () => {
  const other = createServer((_req, res) => res.end('ok'));
  other.listen(0, '127.0.0.1');
  await once(other, 'listening');
  const sleeper = spawn('sleep', ['30']);
  try {
    const component: Component = { name: 'x', command: 'sleep', args: [], readyUrl: `http://127.0.0.1:${(other.address() as AddressInfo).port}/`, ports: [] };
    assert.equal(answersItself(component, sleeper.pid!), false, 'a process that does not listen there');
    assert.equal(answersItself(component, process.pid), true, 'the process that listens there');
  } finally {
    sleeper.kill();
    other.close();
  }
});

test('the README lists every port variable of the native stack with its default', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const missing = PORT_VARIABLES.filter(({ variable, fallback }) => !readme.includes(`\`${variable}\` ${fallback}`));
  assert.deepEqual(
    missing.map(({ variable, fallback }) => `${variable} ${fallback}`),
    [],
    'port variables the README does not list',
  );
  assert.match(readme, /`STACK_DIR` \(default `\.stack`\)/);
});
