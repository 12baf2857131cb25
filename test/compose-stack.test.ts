// `docker compose up`, for real: the repository's docker-compose.yml on a Docker engine, the services
// built from their Dockerfile, every service but Grafana (it cannot be built or pulled on the build
// machines; `npm run smoke` checks it where it runs). Where no registry is reachable the third-party
// images are the local stand-ins of native/standins/ (native/docker-engine.sh builds them); with
// registry access the real images. Everything is asserted through the ports published on
// 127.0.0.1. Skips, with the reason, only where no engine answers and REQUIRE_DOCKER is unset.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import { newTraceparent } from '../loadgen/lib/traceparent.js';
import { assertEveryExemplarResolves, describeResolvability, exemplarsOf, resolveExemplars, type Exemplar } from '../native/exemplar-resolvability.ts';
import { missingSpans, totalOf } from './support/trace-shapes.ts';
import { promExemplars, promQuery, tempoTrace } from '../native/stack-apis.ts';
import { repoRoot } from '../native/tools.ts';
import {
  composer,
  containers,
  SCALE_OUT_FILES,
  docker,
  dockerMissing,
  PROJECT,
  processUids,
  standinsPresent,
  startMemorySampler,
  type ContainerFacts,
} from './support/compose.ts';
import { eventually } from '../native/eventually.ts';

const ORDER = 'http://127.0.0.1:8080';
const PROMETHEUS = 'http://127.0.0.1:9090';
const TEMPO = 'http://127.0.0.1:3200';
const HISTOGRAM = 'http_request_duration_seconds_bucket';
const EXEMPLARS_RESUME_MAX_MS = 30_000;
/** Orders per second the test sends itself in the scale-out test, every 5th to the error path. */
const OWN_LOAD_RATE = 20;
/** A new gateway replica shows in the span metrics within: DNS asked every 5 s, span metrics flushed every 15 s, and slack. */
const NEW_REPLICA_SHARE_MAX_MS = 45_000;

const missing = await dockerMissing();
if (missing && process.env.REQUIRE_DOCKER === '1') throw new Error(`REQUIRE_DOCKER=1, but ${missing}`);
const useStandins = !missing && (await standinsPresent());
const compose = composer(useStandins);
const composeFile = parseYaml(readFileSync(`${repoRoot}/docker-compose.yml`, 'utf8'), { merge: true }) as {
  services: Record<string, { depends_on?: Record<string, { condition: string }> }>;
};
const services = Object.keys(composeFile.services).filter((name) => name !== 'grafana');
const figures: Record<string, string> = {};
let upStartedAt = 0;
let facts: ContainerFacts[] = [];
let memory: ReturnType<typeof startMemorySampler> | undefined;

/**
 * Exemplars the test waits for before it judges them: at the background load (5 requests/s) the
 * three services make some 9 every 5 s export interval, so a healthy stack has them within a minute.
 */
const MIN_EXEMPLARS = 60;

/** Exemplars of the services' histogram measured since `since` (ms). */
async function exemplarsSince(since: number): Promise<Exemplar[]> {
  const series = await promExemplars(PROMETHEUS, HISTOGRAM, since / 1000, Date.now() / 1000);
  return exemplarsOf(series).filter((e) => e.timestamp * 1000 >= since);
}

/** The first exemplar after `since` that leads to its own span in Tempo; resolves with when it was found. */
async function firstResolvableExemplar(since: number, timeoutMs: number): Promise<number> {
  return eventually(
    async () => ((await resolveExemplars(TEMPO, (await exemplarsSince(since)).slice(-10), { waitMs: 0 })).spanFound > 0 ? Date.now() : undefined),
    `an exemplar after ${new Date(since).toISOString()} that leads to its span in Tempo`,
    timeoutMs,
    1000,
  );
}

/** Order's requests counted by each gateway replica's span metrics (one per trace), by replica. */
async function ordersPerReplica(): Promise<Map<string, number>> {
  const { result } = await promQuery(PROMETHEUS, 'sum by (replica) (traces_spanmetrics_calls_total{service="order", span_kind="SPAN_KIND_SERVER"})');
  return new Map(result.filter((sample) => sample.metric.replica).map((sample) => [sample.metric.replica!, Number(sample.value[1])]));
}

/** The test's own orders at `rate` per second until stop(), every 5th to the error path; the error ones it sent, with their trace ids. */
function ownLoad(rate: number): { stop: () => Promise<{ sent: Array<{ traceId: string; at: number }> }> } {
  const sent: Array<{ traceId: string; at: number }> = [];
  const inFlight = new Set<Promise<void>>();
  let n = 0;
  const timer = setInterval(() => {
    const error = n++ % 5 === 0;
    const { traceId, header } = newTraceparent();
    const request = fetch(`${ORDER}/orders/${error ? 10_000 + n : 1 + (n % 9999)}`, { headers: { traceparent: header }, signal: AbortSignal.timeout(10_000) })
      .then((response) => response.arrayBuffer())
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
    if (error) sent.push({ traceId, at: Date.now() });
  }, 1000 / rate);
  return {
    stop: async () => {
      clearInterval(timer);
      await Promise.all([...inFlight]);
      return { sent };
    },
  };
}

describe(`docker compose up (${useStandins ? 'stand-in images' : 'upstream images'}, all but Grafana)`, { skip: missing, timeout: 20 * 60_000 }, () => {
  before(async () => {
    console.log(`  images: ${useStandins ? 'the local stand-ins (native/standins/compose.yaml)' : 'the upstream images'}`);
    await compose(['down', '-v', '--remove-orphans']);
    upStartedAt = Date.now();
    await compose(['up', '-d', '--build', '--wait', '--wait-timeout', '600', ...services], 15 * 60_000);
    figures['up to all healthy'] = `${((Date.now() - upStartedAt) / 1000).toFixed(1)} s (build included)`;
    facts = await containers();
    memory = startMemorySampler();
  });

  after(async () => {
    await memory?.stop();
    await compose(['down', '-v', '--remove-orphans']).catch(() => undefined);
    console.log('\ncompose figures:');
    for (const [name, value] of Object.entries(figures)) console.log(`  ${name.padEnd(40)} ${value}`);
  });

  test('up --wait brings every service up, each after what it depends on was started or healthy', () => {
    assert.deepEqual(facts.map((c) => c.service).sort(), [...services].sort());
    const byService = new Map(facts.map((c) => [c.service, c]));
    for (const [service, definition] of Object.entries(composeFile.services)) {
      if (service === 'grafana') continue;
      for (const [dependency, { condition }] of Object.entries(definition.depends_on ?? {})) {
        const dep = byService.get(dependency)!;
        const ready = condition === 'service_healthy' ? dep.firstHealthyAt : dep.startedAt;
        assert.ok(ready !== undefined, `${dependency} never became ${condition}`);
        assert.ok(byService.get(service)!.startedAt >= ready, `${service} started before ${dependency} was ${condition}`);
      }
    }
  });

  test('a request with our own traceparent is one trace across order, inventory and pricing in Tempo', async () => {
    const { traceId, header } = newTraceparent();
    const response = await fetch(`${ORDER}/orders/42`, { headers: { traceparent: header } });
    assert.equal(response.status, 200);
    const spans = await eventually(
      async () => {
        const found = await tempoTrace(TEMPO, traceId);
        return found && ['order', 'inventory', 'pricing'].every((s) => found.some((span) => span.service === s)) ? found : undefined;
      },
      `trace ${traceId} in Tempo with all three services`,
      60_000,
      1000,
    );
    assert.ok(spans.every((span) => span.traceId === traceId));
  });

  test('exemplars of all three services reach Prometheus, and every one leads to its own span in Tempo', async () => {
    const exemplars = await eventually(
      async () => {
        const found = await exemplarsSince(upStartedAt);
        return found.length >= MIN_EXEMPLARS && ['order', 'inventory', 'pricing'].every((job) => found.some((e) => e.service === job)) ? found : undefined;
      },
      `${MIN_EXEMPLARS} exemplars of order, inventory and pricing`,
      180_000,
      2000,
    );
    figures['up to first resolvable exemplar'] = `${((await firstResolvableExemplar(upStartedAt, 60_000)) - upStartedAt) / 1000} s (build included)`;
    const result = await resolveExemplars(TEMPO, exemplars);
    figures['exemplars resolvable'] = describeResolvability(result);
    assertEveryExemplarResolves(result, MIN_EXEMPLARS);
  });

  test("Tempo's service graph has k6 → order, order → inventory and order → pricing", async () => {
    await eventually(
      async () => {
        const { result } = await promQuery(PROMETHEUS, 'sum by (client, server) (traces_service_graph_request_total)');
        const edges = result.map((s) => `${s.metric.client} → ${s.metric.server}`);
        // k6 → order: the k6 container sends its client spans to the Collector.
        return ['k6 → order', 'order → inventory', 'order → pricing'].every((edge) => edges.includes(edge));
      },
      'the three service-graph edges',
      90_000,
      2000,
    );
  });

  test("the k6 container's background traffic arrives", async () => {
    await eventually(
      async () => {
        const { result } = await promQuery(PROMETHEUS, 'sum(k6_http_reqs_total{scenario="background"})');
        return Number(result[0]?.value[1] ?? 0) > 0;
      },
      'k6_http_reqs_total from the background scenario',
      90_000,
      2000,
    );
  });

  test('every container runs as a non-root user, and publishes ports on 127.0.0.1 only', async () => {
    for (const container of facts) {
      const uids = await processUids(container.id);
      assert.ok(uids.length > 0 && uids.every((uid) => uid !== 0), `${container.service} runs processes as uids ${uids.join(', ')}`);
      assert.deepEqual(
        container.published.filter((binding) => !binding.startsWith('127.0.0.1:')),
        [],
        `${container.service} publishes beyond 127.0.0.1`,
      );
    }
  });

  test('killing the Collector: the services keep answering 200, and exemplars resume within 30 s of its start', async () => {
    await compose(['kill', 'otel-collector']);
    const statuses = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${ORDER}/orders/${100 + i}`, { signal: AbortSignal.timeout(10_000) });
      statuses.add(response.status);
      await response.arrayBuffer();
      await sleep(250);
    }
    assert.deepEqual([...statuses], [200], 'answers while the Collector was down');
    await compose(['start', 'otel-collector']);
    const startedAt = Date.now();
    const resumedAt = await firstResolvableExemplar(startedAt, EXEMPLARS_RESUME_MAX_MS + 15_000);
    figures['exemplars resume after the Collector restart'] = `${((resumedAt - startedAt) / 1000).toFixed(1)} s`;
    assert.ok(resumedAt - startedAt <= EXEMPLARS_RESUME_MAX_MS, `exemplars resumed ${resumedAt - startedAt} ms after the Collector started`);
  });

  test('the scale-out profile: two gateways share whole traces; --scale to 3 under load gives the third its share within seconds', async () => {
    // The same project with the sampling and scale-out files over it: compose recreates the
    // Collector as the agent and Tempo without its generator, and adds two gateway replicas.
    const scaleOut = composer(useStandins, SCALE_OUT_FILES);
    figures['container memory, sum of peaks (default profile)'] = `${([...memory!.peaks.values()].reduce((a, b) => a + b, 0) / 2 ** 20).toFixed(0)} MiB`;
    const upAt = Date.now();
    await scaleOut(['up', '-d', '--wait', '--wait-timeout', '300', ...services, 'otel-gateway'], 10 * 60_000);
    const load = ownLoad(OWN_LOAD_RATE);
    try {
      const two = await eventually(
        async () => {
          const found = await ordersPerReplica();
          return found.size === 2 && [...found.values()].every((n) => n > 0) ? found : undefined;
        },
        'span metrics from 2 gateway replicas',
        120_000,
        2000,
      );
      figures['scale-out: up to 2 replicas writing'] = `${((Date.now() - upAt) / 1000).toFixed(0)} s`;
      const scaledAt = Date.now();
      await scaleOut(['up', '-d', '--wait', '--no-recreate', '--scale', 'otel-gateway=3', ...services, 'otel-gateway'], 5 * 60_000);
      const three = await eventually(
        async () => {
          const found = await ordersPerReplica();
          return found.size === 3 && [...found.values()].every((n) => n > 0) ? found : undefined;
        },
        'span metrics from a third gateway replica',
        NEW_REPLICA_SHARE_MAX_MS + 30_000,
        1000,
      );
      const sharedAfterMs = Date.now() - scaledAt;
      figures['scale-out: third replica counted'] = `${(sharedAfterMs / 1000).toFixed(0)} s after --scale (DNS every 5 s, span metrics flushed every 15 s)`;
      figures['scale-out: orders per replica'] = `${[...two.values()].join(' / ')} with 2; ${[...three.values()].join(' / ')} with 3`;
      assert.ok(sharedAfterMs <= NEW_REPLICA_SHARE_MAX_MS, `the third replica's first span metrics came ${sharedAfterMs} ms after --scale`);
      await sleep(20_000);
      // The error orders sent across the reshuffle: the sampler keeps every error trace, so any
      // that is not whole in Tempo was split between two gateways by the change.
      const { sent } = await load.stop();
      await sleep(25_000);
      const acrossIt = sent.filter((order) => order.at >= scaledAt - 10_000 && order.at <= scaledAt + 20_000);
      const split: string[] = [];
      for (const { traceId } of acrossIt) {
        const spans = (await tempoTrace(TEMPO, traceId).catch(() => undefined)) ?? [];
        const counts = Object.fromEntries(
          ['order', 'inventory', 'pricing'].map((service) => [service, spans.filter((span) => span.service === service).length]),
        );
        if (totalOf(missingSpans('error path', counts, { fromK6: false })) > 0) split.push(traceId);
      }
      figures['scale-out: error traces across the reshuffle'] = `${acrossIt.length - split.length} whole, ${split.length} split`;
      assert.ok(acrossIt.length >= 20, `only ${acrossIt.length} error orders across the reshuffle`);
      // After the change has settled, every exemplar leads to its span again.
      const settled = await resolveExemplars(
        TEMPO,
        (await exemplarsSince(scaledAt + 30_000)).filter((e) => e.timestamp * 1000 <= Date.now() - 15_000),
      );
      figures['scale-out: exemplars after the reshuffle'] = describeResolvability(settled);
      assertEveryExemplarResolves(settled, 20);
    } finally {
      await load.stop();
    }
  });

  test('the memory limits hold: each peak stays below its limit', async () => {
    await memory!.stop();
    const peaks = memory!.peaks;
    let total = 0;
    for (const container of facts) {
      const name = [...peaks.keys()].find((n) => n.startsWith(`${PROJECT}-${container.service}-`));
      const peak = name ? peaks.get(name)! : 0;
      total += peak;
      assert.ok(container.memoryLimit > 0, `${container.service} has no memory limit`);
      assert.ok(peak > 0 && peak < container.memoryLimit, `${container.service} peaked at ${peak} bytes, limit ${container.memoryLimit}`);
    }
    figures['container memory, sum of peaks (with the scale-out phase)'] = `${(total / 2 ** 20).toFixed(0)} MiB`;
    figures['service image size (order)'] = `${(facts.find((c) => c.service === 'order')!.imageSize / 2 ** 20).toFixed(0)} MiB`;
  });

  test('down -v leaves no container, network or volume behind', async () => {
    await compose(['down', '-v', '--remove-orphans']);
    const label = `label=com.docker.compose.project=${PROJECT}`;
    for (const kind of [
      ['ps', '-a'],
      ['network', 'ls'],
      ['volume', 'ls'],
    ]) {
      assert.equal((await docker([...kind, '-q', '--filter', label])).trim(), '', `docker ${kind.join(' ')} still lists ${PROJECT} objects`);
    }
  });
});
