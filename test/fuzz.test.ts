// Bad input, generated: 1,000 seeded cases per service (paths, ids, queries, methods, malformed and
// oversized headers, hostile traceparent/tracestate, bodies on PUT /admin/slow-path and elsewhere),
// sent over raw sockets to the three real services. Required: every case answered with a status its
// classes allow (each case knows what it is wrong in: test/support/http-fuzz-expectations.ts),
// every class seen often enough to count, no 5xx but the documented error path, no crash, every 4xx
// a JSON {"error": …}, a malformed traceparent never continues its trace, and no span attribute
// longer than the documented limit. FUZZ_SEED=<n> explores other cases; a failure names its seed and case.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ATTRIBUTE_VALUE_LENGTH_LIMIT } from '../services/shared/src/telemetry.ts';
import { describeCase, generateCases, sendRaw, type FuzzCase, type RawResponse } from './support/http-fuzz.ts';
import { possibleClasses, type CaseClass, type ServiceShape } from './support/http-fuzz-expectations.ts';
import { startService, type RunningService } from './support/services.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261121);
const CASES_PER_SERVICE = Number(process.env.FUZZ_CASES ?? 1000);
const CONCURRENCY = 16;
/** Cases per class and service that a class must decide in a run of 1,000, so that none is vacuous. */
const MIN_DECIDED_PER_CLASS = 10;

const shapes: Record<'order' | 'inventory' | 'pricing', ServiceShape> = {
  order: { idRoute: '/orders/', errorPathStatus: 502 },
  inventory: { idRoute: '/stock/', adminRoute: '/admin/slow-path' },
  pricing: { idRoute: '/price/', errorPathStatus: 500 },
};

type ServiceName = keyof typeof shapes;
const names = Object.keys(shapes) as ServiceName[];
/** Each service its own stream of cases from the one seed. */
const casesFor = (name: ServiceName) => generateCases(SEED + names.indexOf(name), CASES_PER_SERVICE, shapes[name]);

let services: Record<ServiceName, RunningService>;

before(async () => {
  const [inventory, pricing] = await Promise.all([startService('inventory', { SLOW_PATH_RATE: '0' }), startService('pricing')]);
  const order = await startService('order', { INVENTORY_URL: inventory.url, PRICING_URL: pricing.url });
  services = { order, inventory, pricing };
});

after(async () => {
  await Promise.all(Object.values(services ?? {}).map((service) => service.stop()));
});

/**
 * The documented 5xx: an item above pricing's catalog (9999) is pricing's 500 and, through it,
 * order's 502. Anything else at 5xx is a bug.
 */
function documented5xx(service: string, response: RawResponse): boolean {
  const item = Number(/item (\d+)/.exec(response.body)?.[1]);
  if (!(item > 9999)) return false;
  if (service === 'pricing') return response.status === 500 && /no price list entry/.test(response.body);
  return service === 'order' && response.status === 502 && /pricing answered 500/.test(response.body);
}

const port = (service: RunningService) => Number(new URL(service.url).port);

async function runAll(service: RunningService, cases: FuzzCase[], concurrency: number) {
  const results: Array<{ fuzzCase: FuzzCase; response: Awaited<ReturnType<typeof sendRaw>> }> = [];
  const queue = [...cases];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const response = await sendRaw(port(service), next);
        results.push({ fuzzCase: next, response });
        // A PUT that was accepted changed the slow path: put it back before the next case.
        if (next.changesSettings && 'status' in response && response.status === 200) {
          await fetch(`${service.url}/admin/slow-path`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"rate":0,"delayMs":3000}' });
        }
      }
    }),
  );
  return results;
}

/** How one class fared: its cases, those it decided (their first class), and the statuses they got. */
interface ClassFigures {
  cases: number;
  decided: number;
  statuses: Map<number, number>;
}

function count(byClass: Map<CaseClass, ClassFigures>, caseClass: CaseClass, decided: boolean, status: number): void {
  const figures = byClass.get(caseClass) ?? { cases: 0, decided: 0, statuses: new Map() };
  figures.cases++;
  if (decided) figures.decided++;
  figures.statuses.set(status, (figures.statuses.get(status) ?? 0) + 1);
  byClass.set(caseClass, figures);
}

function describeFigures(caseClass: CaseClass, { cases, decided, statuses }: ClassFigures): string {
  const answers = [...statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`);
  return `${caseClass}: ${cases} cases (${decided} decided by it), statuses ${answers.join(' ') || '-'}`;
}

for (const name of names) {
  test(`${name}: ${CASES_PER_SERVICE} generated bad requests (seed ${SEED}) get the answers their classes call for, 4xx as JSON, and never a crash`, async () => {
    const service = services[name];
    const cases = casesFor(name);
    // Settings changes run one at a time, so no other request sees a slow path a case turned on.
    const results = [
      ...(await runAll(
        service,
        cases.filter((c) => !c.changesSettings),
        CONCURRENCY,
      )),
      ...(await runAll(
        service,
        cases.filter((c) => c.changesSettings),
        1,
      )),
    ];

    const problems: string[] = [];
    const byClass = new Map<CaseClass, ClassFigures>(possibleClasses(shapes[name]).map((c) => [c, { cases: 0, decided: 0, statuses: new Map() }]));
    for (const { fuzzCase, response } of results) {
      const where = `seed ${SEED}, ${describeCase(fuzzCase)}`;
      if (!('status' in response)) {
        problems.push(`no answer: ${response.noAnswer} — ${where}`);
        continue;
      }
      for (const [i, caseClass] of fuzzCase.classes.entries()) count(byClass, caseClass, i === 0, response.status);
      if (!fuzzCase.expected.includes(response.status)) problems.push(`${response.status} ${response.body.slice(0, 200)} — ${where}`);
      if (response.status >= 500 && !documented5xx(name, response)) {
        // HEAD has no body to show the reason: the same request as GET must be the documented case.
        const asGet = fuzzCase.method === 'HEAD' ? await sendRaw(port(service), { ...fuzzCase, method: 'GET' }) : undefined;
        if (!(asGet && 'status' in asGet && documented5xx(name, asGet))) problems.push(`${response.status} ${response.body.slice(0, 200)} — ${where}`);
      }
      if (response.status >= 400 && response.status < 500 && fuzzCase.method !== 'HEAD') {
        let error: unknown;
        try {
          error = (JSON.parse(response.body) as { error?: unknown }).error;
        } catch {}
        if (!/^application\/json/.test(response.headers['content-type'] ?? '') || typeof error !== 'string' || error === '') {
          problems.push(`${response.status} without a JSON {"error": …}: ${response.headers['content-type']} ${response.body.slice(0, 200)} — ${where}`);
        }
      }
    }
    console.log(
      `${name}: ${results.length} cases (seed ${SEED})\n${[...byClass].map(([caseClass, figures]) => `  ${describeFigures(caseClass, figures)}`).join('\n')}`,
    );
    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} of ${results.length} cases broke a rule`);
    if (CASES_PER_SERVICE >= 1000) {
      const rare = [...byClass].filter(([, figures]) => figures.decided < MIN_DECIDED_PER_CLASS);
      assert.deepEqual(
        rare.map(([caseClass, figures]) => describeFigures(caseClass, figures)),
        [],
        `classes that decided fewer than ${MIN_DECIDED_PER_CLASS} cases`,
      );
    }

    assert.equal(service.process.exitCode, null, `${name} exited:\n${service.output().slice(-2000)}`);
    const health = await fetch(`${service.url}/healthz`);
    assert.equal(health.status, 200);
    if (name === 'inventory') {
      assert.deepEqual(await (await fetch(`${service.url}/admin/slow-path`)).json(), { rate: 0, delayMs: 3000 }, 'every accepted change was put back');
    }
  });
}

test('a malformed traceparent starts a new trace; a valid one is continued; no attribute is longer than the limit', async () => {
  const cases = names.flatMap(casesFor);
  const spans = (await Promise.all(Object.values(services).map((service) => service.spans()))).flat();
  const byTrace = new Map<string, typeof spans>();
  for (const span of spans) byTrace.set(span.traceId, [...(byTrace.get(span.traceId) ?? []), span]);

  const malformed = cases.filter((c) => c.traceparent && !c.traceparent.valid);
  const continued = malformed.filter((c) => byTrace.has(c.traceparent!.traceId!));
  assert.deepEqual(continued.map(describeCase), [], 'spans joined the trace of a malformed traceparent');

  // The other side, so that the check above could fail: valid, sampled traceparents are continued.
  const validSampled = cases.filter((c) => c.traceparent?.valid && c.traceparent.value.slice(53, 55) === '01');
  let children = 0;
  for (const fuzzCase of validSampled) {
    for (const span of byTrace.get(fuzzCase.traceparent!.traceId!) ?? []) {
      if (span.kind === 1 && span.parentSpanId === fuzzCase.traceparent!.parentId) children++;
    }
  }
  assert.ok(malformed.length > 100 && children > 100, `${malformed.length} malformed traceparents sent, ${children} server spans continued a valid one`);

  const values = spans.flatMap((span) => [...Object.entries(span.attributes), ...span.eventAttributes.flatMap((a) => Object.entries(a))]);
  const longest = Math.max(...values.map(([, value]) => String(value).length));
  const tooLong = values.filter(([, value]) => typeof value === 'string' && value.length > ATTRIBUTE_VALUE_LENGTH_LIMIT);
  console.log(`spans: ${spans.length}, attribute values: ${values.length}, longest ${longest} characters (limit ${ATTRIBUTE_VALUE_LENGTH_LIMIT})`);
  assert.deepEqual(tooLong.map(([key, value]) => `${key}: ${String(value).length} characters`).slice(0, 10), []);
  assert.equal(longest, ATTRIBUTE_VALUE_LENGTH_LIMIT, 'the generated headers and paths are long enough to reach the limit');
});
