// The three services for real, on free ports, each exporting spans to an in-memory exporter:
// trace propagation, the manual spans, the slow path and its toggle, input validation and the
// error paths.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { SlowPath, slowPathSettingsFromEnv } from '../services/inventory/src/slow-path.ts';
import { StockRepository } from '../services/inventory/src/stock-repository.ts';
import { eventually } from '../native/eventually.ts';
import { exemplarsOf, goDecode } from './support/otlp-decode.ts';
import { startService, type RecordedSpan, type RunningService } from './support/services.ts';
import { completeShapes, type OrderKind, type SpanCounts } from './support/trace-shapes.ts';

let inventory: RunningService;
let pricing: RunningService;
let order: RunningService;

before(async () => {
  [inventory, pricing] = await Promise.all([startService('inventory', { SLOW_PATH_RATE: '0' }), startService('pricing')]);
  order = await startService('order', { INVENTORY_URL: inventory.url, PRICING_URL: pricing.url });
});

after(async () => {
  await Promise.all([order, inventory, pricing].filter(Boolean).map((service) => service.stop()));
});

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

/** All spans of one trace from all three services, once `done` says the trace is complete. */
async function traceSpans(traceId: string, done: (spans: RecordedSpan[]) => boolean): Promise<RecordedSpan[]> {
  return eventually(async () => {
    const all = (await Promise.all([order, inventory, pricing].map((service) => service.spans()))).flat();
    const spans = all.filter((span) => span.traceId === traceId);
    return done(spans) && spans;
  }, `the spans of trace ${traceId}`);
}

const orderRouteSpan = (spans: RecordedSpan[], orderId: number) =>
  spans.find((span) => span.name === 'fetch-order-details' && span.attributes['order.id'] === orderId);

/** A trace is complete once each service's SERVER span has ended: each service ends it last. */
const hasEveryServerSpan = (spans: RecordedSpan[]) =>
  ['order', 'inventory', 'pricing'].every((service) => spans.some((span) => span.service === service && span.kind === SpanKind.SERVER));

/** Spans per service, as test/support/trace-shapes.ts counts them. */
function spanCounts(spans: RecordedSpan[]): SpanCounts {
  const counts: SpanCounts = {};
  for (const span of spans) counts[span.service] = (counts[span.service] ?? 0) + 1;
  return counts;
}

/** The shapes of trace-shapes.ts for traces the test starts itself, without k6's client span. */
const shapesOf = (kind: OrderKind) => completeShapes(kind, { fromK6: false });

describe('a request to order', () => {
  test('is one trace across order, inventory and pricing, with the manual spans and attributes', async () => {
    const response = await fetch(`${order.url}/orders/42`, { headers: { 'x-user-id': 'user-7' } });
    assert.equal(response.status, 200);
    const body = await json(response);
    assert.equal(body.orderId, 42);
    assert.equal(typeof body.total, 'number');
    assert.equal(body.currency, 'EUR');

    const orderSpans = await eventually(async () => orderRouteSpan(await order.spans(), 42), 'order span');
    const spans = await traceSpans(orderSpans.traceId, hasEveryServerSpan);
    // The reference the end-to-end tests judge Tempo's traces by.
    assert.deepEqual([spanCounts(spans)], shapesOf('normal'), 'spans per service of a normal order, against trace-shapes.ts');

    assert.deepEqual(new Set(spans.map((span) => span.service)), new Set(['order', 'inventory', 'pricing']));

    // Manual spans, named verb-noun, with the business attributes.
    const details = spans.find((span) => span.name === 'fetch-order-details');
    assert.ok(details);
    assert.equal(details.attributes['order.id'], 42);
    assert.equal(details.attributes['user.id'], 'user-7');
    assert.equal(details.attributes['order.total'], body.total);
    for (const name of ['check-inventory', 'calculate-price']) {
      const span = spans.find((candidate) => candidate.name === name);
      assert.ok(span, `missing manual span ${name}`);
      assert.equal(span.parentSpanId, details.spanId, `${name} should be a child of fetch-order-details`);
    }

    // The HTTP server span is named after its route template, which the services' own middleware
    // hands to the http instrumentation (request-metrics.ts); without it the span is just "GET".
    for (const [service, route] of [
      ['order', '/orders/:id'],
      ['inventory', '/stock/:id'],
      ['pricing', '/price/:id'],
    ] as const) {
      const server = spans.find((span) => span.service === service && span.kind === SpanKind.SERVER);
      assert.equal(server?.attributes['http.route'], route, `${service}'s server span has no route`);
      assert.equal(server?.name, `GET ${route}`);
    }
    // The spans a reader needs, and no others (no express middleware, router or handler spans).
    assert.deepEqual(spans.map((span) => `${span.service} ${span.name}`).sort(), [
      'inventory GET /stock/:id',
      'inventory get-stock',
      'inventory query-stock-db',
      'order GET',
      'order GET',
      'order GET /orders/:id',
      'order calculate-price',
      'order check-inventory',
      'order fetch-order-details',
      'pricing GET /price/:id',
      'pricing lookup-price',
    ]);

    // traceparent propagation: each downstream server span's parent is one of order's client spans.
    const orderClientSpans = spans.filter((span) => span.service === 'order' && span.kind === SpanKind.CLIENT);
    for (const [service, manualParent] of [
      ['inventory', 'check-inventory'],
      ['pricing', 'calculate-price'],
    ] as const) {
      const server = spans.find((span) => span.service === service && span.kind === SpanKind.SERVER);
      assert.ok(server, `no server span from ${service}`);
      const client = orderClientSpans.find((span) => span.spanId === server.parentSpanId);
      assert.ok(client, `${service}'s server span is not a child of an order client span`);
      const manual = spans.find((span) => span.name === manualParent);
      assert.equal(client.parentSpanId, manual?.spanId, `the call to ${service} should sit under ${manualParent}`);
    }
  });

  test("carries a resource that names its service and instance, without the process detector's attributes", async () => {
    const response = await fetch(`${order.url}/orders/43`);
    assert.equal(response.status, 200);
    const details = await eventually(async () => orderRouteSpan(await order.spans(), 43), 'order span');
    const spans = await traceSpans(details.traceId, (s) => ['inventory', 'pricing'].every((service) => s.some((span) => span.service === service)));
    for (const span of spans) {
      for (const key of ['service.name', 'service.version', 'service.instance.id', 'host.name']) {
        assert.ok(span.resourceKeys.includes(key), `${span.service}'s resource lacks ${key}`);
      }
      // Tempo stores a service's resource once in every trace: process.command_args and the like
      // would cost it memory at every request (telemetry.ts says how much).
      assert.deepEqual(
        span.resourceKeys.filter((key) => key.startsWith('process.')),
        [],
        `${span.service}'s resource`,
      );
    }
  });

  test('rejects bad ids with 400 and unknown routes with 404, as JSON', async () => {
    // Digits, however many, are a number out of range; anything else is no integer at all.
    const ids: Array<[string, RegExp]> = [
      ['abc', /^order id must be a positive integer, got "abc"$/],
      ['-1', /^order id must be a positive integer/],
      ['1.5', /^order id must be a positive integer/],
      ['0', /^order id must be between 1 and 1000000000, got 0$/],
      ['99999999999', /^order id must be between 1 and 1000000000, got 99999999999$/],
      ['99999999999999999999', /^order id must be between 1 and 1000000000, got 99999999999999999999$/],
    ];
    for (const [id, message] of ids) {
      const response = await fetch(`${order.url}/orders/${id}`);
      assert.equal(response.status, 400, `id ${id}`);
      assert.match(String((await json(response)).error), message);
    }
    for (const [url, path] of [
      [inventory.url, '/stock/x'],
      [pricing.url, '/price/-3'],
    ]) {
      assert.equal((await fetch(url + path)).status, 400);
    }
    const missing = await fetch(`${order.url}/nope`);
    assert.equal(missing.status, 404);
    assert.match(String((await json(missing)).error), /no route/);
  });

  test('turns a pricing failure into 502 with error spans, and keeps serving', async () => {
    const response = await fetch(`${order.url}/orders/10042`);
    assert.equal(response.status, 502);
    assert.match(String((await json(response)).error), /pricing answered 500: no price list entry for item 10042/);

    const details = await eventually(async () => orderRouteSpan(await order.spans(), 10042), 'order span');
    // Inventory's lookup goes on after order has answered: wait for its server span too.
    const spans = await traceSpans(details.traceId, hasEveryServerSpan);
    // At rate 0 inventory takes its normal path: one of the error path's complete shapes, exactly.
    const errorShapes = shapesOf('error path');
    assert.ok(
      errorShapes.some((shape) => isDeepStrictEqual(shape, spanCounts(spans))),
      `spans per service of an error-path order: ${JSON.stringify(spanCounts(spans))}, trace-shapes.ts has ${JSON.stringify(errorShapes)}`,
    );
    const lookup = spans.find((span) => span.name === 'lookup-price');
    assert.equal(lookup?.status.code, SpanStatusCode.ERROR);
    assert.ok(lookup?.events.includes('exception'), 'the pricing exception is recorded on its span');
    const pricingServer = spans.find((span) => span.service === 'pricing' && span.kind === SpanKind.SERVER);
    assert.equal(pricingServer?.attributes['http.response.status_code'], 500);
    assert.equal(pricingServer?.status.code, SpanStatusCode.ERROR);
    // Where the workshop sends the reader: the span { span.http.response.status_code = 500 } finds.
    assert.ok(pricingServer?.events.includes('exception'), 'the exception is on the server span too');
    assert.equal(spans.find((span) => span.name === 'calculate-price')?.status.code, SpanStatusCode.ERROR);
    assert.equal(details.status.code, SpanStatusCode.ERROR);

    assert.equal((await fetch(`${order.url}/healthz`)).status, 200);
  });
});

describe('the slow path', () => {
  test('GET /admin/slow-path shows the settings; PUT changes them', async () => {
    assert.deepEqual(await json(await fetch(`${inventory.url}/admin/slow-path`)), { rate: 0, delayMs: 3000 });
    const put = await fetch(`${inventory.url}/admin/slow-path`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rate: 0.25, delayMs: 1200 }),
    });
    assert.equal(put.status, 200);
    assert.deepEqual(await json(put), { rate: 0.25, delayMs: 1200 });
    assert.deepEqual(await json(await fetch(`${inventory.url}/admin/slow-path`)), { rate: 0.25, delayMs: 1200 });
    // Either field alone changes that field only.
    const change = (body: object) =>
      fetch(`${inventory.url}/admin/slow-path`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.deepEqual(await json(await change({ delayMs: 500 })), { rate: 0.25, delayMs: 500 });
    assert.deepEqual(await json(await change({ rate: 0.5 })), { rate: 0.5, delayMs: 500 });
    await setSlowPath({ rate: 0, delayMs: 3000 });
  });

  test('rejects invalid settings with 400 and a message, keeping the old ones', async () => {
    const cases: Array<[string, RegExp]> = [
      [JSON.stringify({ rate: 2 }), /rate must be a number from 0 to 1/],
      [JSON.stringify({ rate: 'often' }), /rate must be a number from 0 to 1/],
      [JSON.stringify({}), /give rate \(0 to 1\), delayMs \(milliseconds\) or both/],
      [JSON.stringify({ rate: 0.5, delayMs: -1 }), /delayMs must be an integer/],
      [JSON.stringify({ rate: 0.5, ratee: 1 }), /unknown field\(s\): ratee/],
      [JSON.stringify([0.5]), /^body must be a JSON object like \{"rate": 0.5, "delayMs": 3000\}, got an array$/],
      // Valid JSON that is no object is not "invalid JSON" (express.json()'s strict mode says it is).
      ['null', /^body must be a JSON object, got null$/],
      ['42', /^body must be a JSON object, got 42$/],
      ['"rate"', /^body must be a JSON object, got "rate"$/],
      ['{"rate": 0.5', /^request body is not valid JSON$/],
    ];
    for (const [body, message] of cases) {
      const response = await fetch(`${inventory.url}/admin/slow-path`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
      assert.equal(response.status, 400, body);
      assert.match(String((await json(response)).error), message);
    }
    const oversized = await fetch(`${inventory.url}/admin/slow-path`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rate: 0.5, padding: 'x'.repeat(64 * 1024) }),
    });
    assert.equal(oversized.status, 413);
    assert.match(String((await json(oversized)).error), /larger than/);
    assert.deepEqual(await json(await fetch(`${inventory.url}/admin/slow-path`)), { rate: 0, delayMs: 3000 });
  });

  test('a change without content-type: application/json is 415, naming the header, not blaming the body', async () => {
    const settings = JSON.stringify({ rate: 0.5 });
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{}, /^the content-type header is missing: send content-type: application\/json$/],
      [{ 'content-type': 'text/plain' }, /^content-type must be application\/json, got "text\/plain"$/],
      [{ 'content-type': 'application/x-www-form-urlencoded' }, /^content-type must be application\/json, got "application\/x-www-form-urlencoded"$/],
    ];
    for (const [headers, message] of cases) {
      // A byte body: fetch adds no content-type of its own to it (to a string it adds text/plain).
      const response = await fetch(`${inventory.url}/admin/slow-path`, { method: 'PUT', headers, body: new TextEncoder().encode(settings) });
      assert.equal(response.status, 415, JSON.stringify(headers));
      assert.match(String((await json(response)).error), message);
    }
    assert.deepEqual(await json(await fetch(`${inventory.url}/admin/slow-path`)), { rate: 0, delayMs: 3000 }, 'nothing refused changed anything');
  });

  test('with ADMIN_TOKEN set, a change needs the token as a bearer (401 JSON without it); reading does not', async () => {
    const token = randomBytes(12).toString('base64url');
    const guarded = await startService('inventory', { SLOW_PATH_RATE: '0', ADMIN_TOKEN: token });
    try {
      const put = (headers: Record<string, string>) =>
        fetch(`${guarded.url}/admin/slow-path`, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body: '{"rate": 1}' });
      for (const authorization of [undefined, 'Bearer wrong', `Bearer ${token.slice(1)}`, `Bearer ${token}2`, token, `Basic ${token}`]) {
        const refused = await put(authorization ? { authorization } : {});
        assert.equal(refused.status, 401, String(authorization));
        assert.match(String((await json(refused)).error), /Authorization: Bearer <ADMIN_TOKEN>/);
      }
      assert.deepEqual(await json(await fetch(`${guarded.url}/admin/slow-path`)), { rate: 0, delayMs: 3000 }, 'nothing refused changed anything');
      const allowed = await put({ authorization: `Bearer ${token}` });
      assert.equal(allowed.status, 200);
      assert.deepEqual(await json(allowed), { rate: 1, delayMs: 3000 });
    } finally {
      await guarded.stop();
    }
  });

  test('at rate 1 every request runs the N+1 loop and takes at least the configured delay', async () => {
    await setSlowPath({ rate: 1, delayMs: 900 });
    try {
      const started = performance.now();
      const response = await fetch(`${order.url}/orders/7`);
      const elapsedMs = performance.now() - started;
      assert.equal(response.status, 200);
      assert.ok(elapsedMs >= 900, `took ${elapsedMs} ms`);

      const details = await eventually(async () => orderRouteSpan(await order.spans(), 7), 'order span');
      const spans = await traceSpans(details.traceId, hasEveryServerSpan);
      assert.deepEqual([spanCounts(spans)], shapesOf('slow path'), 'spans per service of a slow-path order, against trace-shapes.ts');
      const getStock = spans.find((span) => span.name === 'get-stock');
      assert.equal(getStock?.attributes['inventory.slow_path'], true);
      const queries = spans.filter((span) => span.name === 'query-stock-db' && span.parentSpanId === getStock?.spanId);
      // One query for the warehouse list, then one per warehouse: the N+1.
      assert.equal(queries.length, 31);
      assert.ok(getStock && getStock.durationMs >= 900, `get-stock took ${getStock?.durationMs} ms`);
    } finally {
      await setSlowPath({ rate: 0, delayMs: 3000 });
    }
  });

  test('at the default delay the N+1 loop costs at least 3 s by the monotonic clock', async () => {
    // In process, without HTTP around it: 31 plain timers of 3000/31 ms add up to about 2.99 s,
    // and an exemplar under 3 s would not be the spike the demo promises.
    const { delayMs } = slowPathSettingsFromEnv({});
    const stock = new StockRepository(new SlowPath({ rate: 1, delayMs }));
    const started = performance.now();
    await stock.getStock(7);
    const elapsedMs = performance.now() - started;
    assert.ok(elapsedMs >= delayMs, `took ${elapsedMs} ms, configured ${delayMs} ms`);
  });

  test('at rate 0 a request reads stock in one query of about 50–150 ms', async () => {
    const response = await fetch(`${inventory.url}/stock/5`);
    assert.equal(response.status, 200);
    const spans = await eventually(async () => {
      const all = await inventory.spans();
      const getStock = all.findLast((span) => span.name === 'get-stock' && span.attributes['item.id'] === 5);
      return getStock && all.filter((span) => span.parentSpanId === getStock.spanId);
    }, 'inventory spans');
    assert.equal(spans.length, 1);
    assert.ok(spans[0].durationMs >= 40 && spans[0].durationMs < 400, `query took ${spans[0].durationMs} ms`);
  });
});

describe('a dead downstream', () => {
  test('gives 502 and an error span without crashing order', async () => {
    const deadPricing = await startService('pricing');
    const deadUrl = deadPricing.url;
    await deadPricing.stop();
    const lonelyOrder = await startService('order', { INVENTORY_URL: inventory.url, PRICING_URL: deadUrl, DOWNSTREAM_TIMEOUT_MS: '2000' });
    try {
      const response = await fetch(`${lonelyOrder.url}/orders/3`);
      assert.equal(response.status, 502);
      assert.match(String((await json(response)).error), /pricing is unreachable/);
      const span = await eventually(async () => (await lonelyOrder.spans()).find((s) => s.name === 'calculate-price'), 'calculate-price span');
      assert.equal(span.status.code, SpanStatusCode.ERROR);
      assert.ok(span.events.includes('exception'));
      assert.equal((await fetch(`${lonelyOrder.url}/healthz`)).status, 200);
      assert.equal(lonelyOrder.process.exitCode, null);
    } finally {
      await lonelyOrder.stop();
    }
  });

  test('that hangs gives 504 after the timeout', async () => {
    const { createServer } = await import('node:http');
    const hanging = createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise((resolve) => hanging.once('listening', resolve));
    const { port } = hanging.address() as { port: number };
    const slowOrder = await startService('order', {
      INVENTORY_URL: `http://127.0.0.1:${port}`,
      PRICING_URL: pricing.url,
      DOWNSTREAM_TIMEOUT_MS: '300',
    });
    try {
      const response = await fetch(`${slowOrder.url}/orders/3`);
      assert.equal(response.status, 504);
      assert.match(String((await json(response)).error), /inventory did not answer within 300 ms/);
    } finally {
      await slowOrder.stop();
      hanging.closeAllConnections();
      hanging.close();
    }
  });
});

async function setSlowPath(settings: { rate: number; delayMs?: number }): Promise<void> {
  const response = await fetch(`${inventory.url}/admin/slow-path`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(settings),
  });
  assert.equal(response.status, 200, await response.text());
}

describe('the exemplar mark', () => {
  const MARK = 'http.request.duration.exemplar';

  test('exactly the server spans whose durations are exported as exemplars carry http.request.duration.exemplar', async () => {
    const services = [order, inventory, pricing];
    const exported = new Map(services.map((service) => [service.name, new Set<string>()]));
    const exportAll = async () => {
      for (const service of services) {
        for (const exemplar of exemplarsOf(goDecode(await service.metrics()), 'http.request.duration')) {
          assert.ok(exemplar.spanId, `${service.name} exported an exemplar without a span: ${JSON.stringify(exemplar)}`);
          exported.get(service.name)!.add(exemplar.spanId);
        }
      }
    };
    await exportAll(); // what the earlier tests measured
    // Two more export intervals of traffic over several buckets, routes and status codes.
    await setSlowPath({ rate: 0.5, delayMs: 300 });
    try {
      for (let interval = 0; interval < 2; interval++) {
        await Promise.all(
          Array.from({ length: 30 }, async (_, i) => {
            const response = await fetch(`${order.url}/orders/${i % 6 === 0 ? 20_000 + i : 1 + i}`);
            await response.arrayBuffer();
          }),
        );
        await exportAll();
      }
    } finally {
      await setSlowPath({ rate: 0, delayMs: 3000 });
    }
    // An error-path order is answered as soon as pricing fails, while inventory's lookup goes on:
    // export once more after every lookup has finished.
    await sleep(600);
    await exportAll();
    // The server spans end on the response's 'close', a moment after the exemplar was taken.
    const marked = await eventually(
      async () => {
        const spans = (await Promise.all(services.map((service) => service.spans()))).flat();
        const byService = new Map(
          services.map((service) => [
            service.name,
            new Set(spans.filter((span) => span.service === service.name && span.attributes[MARK] === true).map((span) => span.spanId)),
          ]),
        );
        return services.every((service) => [...exported.get(service.name)!].every((id) => byService.get(service.name)!.has(id)))
          ? { byService, spans }
          : undefined;
      },
      'a marked span for every exported exemplar',
      10_000,
      200,
    ).catch(async () => {
      const spans = (await Promise.all(services.map((service) => service.spans()))).flat();
      return {
        byService: new Map(
          services.map((service) => [
            service.name,
            new Set(spans.filter((span) => span.service === service.name && span.attributes[MARK] === true).map((span) => span.spanId)),
          ]),
        ),
        spans,
      };
    });
    for (const service of services) {
      const ids = [...exported.get(service.name)!].sort();
      assert.ok(ids.length >= 4, `${service.name} exported only ${ids.length} exemplars`);
      assert.deepEqual([...marked.byService.get(service.name)!].sort(), ids, `${service.name}: marked spans against exported exemplars`);
      for (const span of marked.spans.filter((s) => s.attributes[MARK] === true)) assert.equal(span.kind, SpanKind.SERVER, `${span.name} is marked`);
    }
  });
});

describe('SIGTERM', () => {
  test('lets an in-flight request finish, then exits 0', async () => {
    const slowInventory = await startService('inventory', { SLOW_PATH_RATE: '1', SLOW_PATH_DELAY_MS: '800' });
    const exited = new Promise<number | null>((resolve) => slowInventory.process.once('exit', (code) => resolve(code)));
    const inFlight = fetch(`${slowInventory.url}/stock/9`);
    await sleep(200);
    slowInventory.process.kill('SIGTERM');
    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.equal((await json(response)).itemId, 9);
    assert.equal(await exited, 0);
    assert.match(slowInventory.output(), /inventory received SIGTERM, shutting down/);
  });
});
