// Overload, on the real services: past their capacity they answer what they can and refuse the rest
// at once with 503 and Retry-After (services/shared/src/load-shedding.ts), never a cascade of
// deadline timeouts, and order passes a downstream refusal on as its own 503. The capacity is made
// small and exact here (a cap of a few requests in flight, the slow path on every stock lookup), so
// that the test drives the services past it on any machine; `npm run bench:load` drives the whole
// stack past this machine's CPU (docs/PERFORMANCE.md).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startService, type RunningService } from './support/services.ts';

const SLOW_MS = 400;
const CAP = 4;
const BURST = 60;

interface Answer {
  status: number;
  ms: number;
  retryAfter: string | null;
  error: string;
}

/** `count` orders at once; each one's status, time and error. */
async function burst(order: RunningService, count: number): Promise<Answer[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const started = performance.now();
      const response = await fetch(`${order.url}/orders/${1 + i}`, { signal: AbortSignal.timeout(20_000) });
      const body = (await response.json()) as { error?: string };
      return { status: response.status, ms: performance.now() - started, retryAfter: response.headers.get('retry-after'), error: body.error ?? '' };
    }),
  );
}

const started: RunningService[] = [];
async function trio(inventoryEnv: Record<string, string>, orderEnv: Record<string, string>) {
  const [inventory, pricing] = await Promise.all([
    startService('inventory', { SLOW_PATH_RATE: '1', SLOW_PATH_DELAY_MS: String(SLOW_MS), ...inventoryEnv }),
    startService('pricing'),
  ]);
  const order = await startService('order', { INVENTORY_URL: inventory.url, PRICING_URL: pricing.url, ...orderEnv });
  started.push(inventory, pricing, order);
  return { order, inventory };
}

after(async () => {
  await Promise.all(started.map((service) => service.stop()));
});

describe('past its capacity', () => {
  test('inventory refuses the excess at once with 503; order passes it on as 503; the rest are answered at their normal latency; no 502 or 504', async () => {
    const { order, inventory } = await trio({ MAX_IN_FLIGHT_REQUESTS: String(CAP) }, {});
    // Warm: compiled code and open connections, and the latency of an order with nobody queued.
    const alone = Math.max(...(await Promise.all([0, 1].map(() => burst(order, 1)))).flat().map((answer) => answer.ms));
    const answers = await burst(order, BURST);
    const byStatus = Map.groupBy(answers, (answer) => answer.status);
    const ok = byStatus.get(200) ?? [];
    const refused = byStatus.get(503) ?? [];
    console.log(
      `${BURST} orders at once, inventory capped at ${CAP} in flight: ${ok.length} answered (slowest ${Math.max(...ok.map((a) => a.ms)).toFixed(0)} ms), ${refused.length} refused (slowest ${Math.max(...refused.map((a) => a.ms)).toFixed(0)} ms)`,
    );
    assert.deepEqual([...byStatus.keys()].sort(), [200, 503], 'only answers and refusals, no gateway errors or timeouts');
    assert.ok(ok.length >= CAP && ok.length < BURST / 2, `${ok.length} answered`);
    // Refused at once: well under the slow path a served request takes.
    for (const answer of refused) {
      assert.ok(answer.ms < SLOW_MS, `a refusal took ${answer.ms} ms`);
      assert.equal(answer.retryAfter, '1');
      assert.match(answer.error, /^inventory answered 503: inventory is overloaded: \d+ requests in flight, at most 4; retry later$/);
    }
    // The ones served waited for no one: none took as long as a second order in a queue would add.
    for (const answer of ok) assert.ok(answer.ms < alone + SLOW_MS, `an answered order took ${answer.ms} ms, one alone ${alone} ms`);
    assert.equal((await fetch(`${inventory.url}/healthz`)).status, 200, 'health probes are answered while overloaded');
  });

  test("order's own cap refuses with its own 503, and health probes are still answered", async () => {
    const { order } = await trio({}, { MAX_IN_FLIGHT_REQUESTS: String(CAP) });
    const pending = burst(order, BURST);
    const health = await fetch(`${order.url}/healthz`);
    const answers = await pending;
    assert.equal(health.status, 200);
    const refused = answers.filter((answer) => answer.status === 503);
    assert.ok(refused.length >= BURST - 2 * CAP, `${refused.length} refused`);
    assert.match(refused[0]!.error, /^order is overloaded: 4 requests in flight, at most 4; retry later$/);
    assert.deepEqual(new Set(answers.map((answer) => answer.status)), new Set([200, 503]));
  });
});

test('MAX_IN_FLIGHT_REQUESTS must be a whole number: a service refuses to start with a bad one', async () => {
  await assert.rejects(
    startService('pricing', { MAX_IN_FLIGHT_REQUESTS: 'lots' }),
    /MAX_IN_FLIGHT_REQUESTS must be an integer between 1 and 1000000, got "lots"/,
  );
});
