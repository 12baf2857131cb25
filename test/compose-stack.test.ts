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
import { promExemplars, promQuery, tempoTrace } from '../native/stack-apis.ts';
import { repoRoot } from '../native/tools.ts';
import {
  composer,
  containers,
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
    figures['container memory, sum of peaks'] = `${(total / 2 ** 20).toFixed(0)} MiB`;
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
