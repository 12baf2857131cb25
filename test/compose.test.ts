// docker-compose.yml as Docker Compose itself sees it: native/compose-check (`npm run tools`) loads
// the project with compose-go, the parser of `docker compose`, as `docker compose config` does
// (the .env of the repository for interpolation, schema validation, normalization, paths resolved,
// consistency check), and these tests assert on the resolved project it prints, not on the YAML
// text: image tags after interpolation, build targets and args, port bindings, health checks and
// the startup graph, bind mounts, memory limits. The Dockerfile the services build from is checked
// here too. test/compose-stack.test.ts runs the whole file on a real engine.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { COMPILE_CACHE_PRIMER_ENV, components } from '../native/stack-components.ts';
import { describeRun, pinnedVersions, repoRoot, requireTool, run } from '../native/tools.ts';

/** The parts of compose-go's project JSON (types.Project) that these tests read. */
interface Service {
  image?: string;
  command?: string[] | null;
  environment?: Record<string, string | null>;
  build?: { context: string; dockerfile?: string; target?: string; args?: Record<string, string | null> };
  restart?: string;
  healthcheck?: { test?: string[] | null; disable?: boolean };
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  ports?: { host_ip?: string; target: number; published?: string; protocol?: string }[];
  volumes?: { type: string; source?: string; target: string; read_only?: boolean }[];
  deploy?: { resources?: { limits?: { memory?: string | number } } };
}

interface Project {
  name: string;
  services: Record<string, Service>;
}

const SERVICES = ['grafana', 'inventory', 'k6', 'order', 'otel-collector', 'pricing', 'prometheus', 'tempo'];
const BUILT_SERVICES = ['inventory', 'order', 'pricing'];
// The only service without a healthcheck: the Collector's contrib image is distroless and its
// binary has no health subcommand, so nothing inside it can probe it; the services wait for it to
// have started, and their exporters retry (see the comments in docker-compose.yml).
const WITHOUT_HEALTHCHECK = ['otel-collector'];

let project: Project;
let stderr: string;

before(async () => {
  const result = await run(requireTool('compose-check'), [repoRoot]);
  assert.equal(result.code, 0, describeRun('compose-check', result));
  project = JSON.parse(result.stdout) as Project;
  stderr = result.stderr;
});

function services(): [string, Service][] {
  return Object.entries(project.services).sort(([a], [b]) => a.localeCompare(b));
}

function hasHealthcheck(service: Service | undefined): boolean {
  const check = service?.healthcheck;
  return check !== undefined && check.disable !== true && Array.isArray(check.test) && check.test.length > 0 && check.test[0] !== 'NONE';
}

describe('docker-compose.yml, resolved by compose-go', () => {
  test('loads without errors or warnings: schema, interpolation, normalization, consistency', () => {
    // compose-go warns on stderr about, for instance, a variable that neither .env nor a default sets.
    assert.equal(stderr, '');
    assert.equal(project.name, 'spike-to-trace');
    assert.deepEqual(Object.keys(project.services).sort(), SERVICES);
  });

  test('every image is the exact tag pinned in .env', () => {
    const env = pinnedVersions();
    const names = ['OTELCOL_VERSION', 'TEMPO_VERSION', 'PROMETHEUS_VERSION', 'GRAFANA_VERSION', 'K6_VERSION', 'NODE_VERSION'];
    for (const name of names) assert.match(env[name] ?? '', /^\d+\.\d+\.\d+$/, `${name} in .env`);
    const expected: Record<string, string> = {
      grafana: `grafana/grafana:${env.GRAFANA_VERSION}`,
      k6: `grafana/k6:${env.K6_VERSION}`,
      'otel-collector': `otel/opentelemetry-collector-contrib:${env.OTELCOL_VERSION}`,
      prometheus: `prom/prometheus:v${env.PROMETHEUS_VERSION}`,
      tempo: `grafana/tempo:${env.TEMPO_VERSION}`,
    };
    const images: Record<string, string> = {};
    for (const [name, service] of services()) if (service.image !== undefined) images[name] = service.image;
    assert.deepEqual(images, expected);
  });

  test('the three services build from the Dockerfile, one target each, with NODE_VERSION from .env', () => {
    const nodeVersion = pinnedVersions().NODE_VERSION;
    assert.ok(nodeVersion);
    const built = services().filter(([, service]) => service.build !== undefined);
    assert.deepEqual(
      built.map(([name]) => name),
      BUILT_SERVICES,
    );
    for (const [name, service] of built) {
      const build = service.build!;
      assert.equal(path.resolve(build.context), repoRoot, `${name}: build context`);
      assert.equal(build.dockerfile, 'Dockerfile', `${name}: dockerfile`);
      assert.equal(build.target, name, `${name}: build target`);
      assert.deepEqual(build.args, { NODE_VERSION: nodeVersion }, `${name}: build args`);
    }
  });

  test('every published port is bound to 127.0.0.1', () => {
    const bindings = services().flatMap(([name, service]) =>
      (service.ports ?? []).map((port) => `${name} ${port.host_ip ?? '(all interfaces)'}:${port.published}->${port.target}`),
    );
    assert.ok(bindings.length > 0, 'no published ports at all');
    assert.deepEqual(
      bindings.filter((binding) => !binding.includes(' 127.0.0.1:')),
      [],
      'ports published on other addresses than 127.0.0.1',
    );
  });

  test(`every service has a restart policy and a healthcheck, except ${WITHOUT_HEALTHCHECK.join(', ')} (no healthcheck)`, () => {
    assert.deepEqual(
      services()
        .filter(([, service]) => service.restart !== 'unless-stopped')
        .map(([name]) => name),
      [],
      'restart: unless-stopped',
    );
    assert.deepEqual(
      services()
        .filter(([, service]) => !hasHealthcheck(service))
        .map(([name]) => name),
      WITHOUT_HEALTHCHECK,
    );
  });

  test('every depends_on condition service_healthy waits for a service that has a healthcheck', () => {
    const edges = services().flatMap(([name, service]) =>
      Object.entries(service.depends_on ?? {})
        .filter(([, dependency]) => dependency.condition === 'service_healthy')
        .map(([target]) => ({ name, target })),
    );
    assert.ok(edges.length > 0, 'no service_healthy dependencies at all');
    assert.deepEqual(
      edges.filter(({ target }) => !hasHealthcheck(project.services[target])).map(({ name, target }) => `${name} -> ${target}`),
      [],
      'service_healthy on a service without a healthcheck (compose would wait forever)',
    );
    // The order the demo needs: backends, Collector, pricing and inventory, order, then k6.
    const waitsFor = (a: string, b: string) => project.services[a]?.depends_on?.[b]?.condition;
    for (const service of BUILT_SERVICES) assert.equal(waitsFor(service, 'otel-collector'), 'service_started', `${service} -> otel-collector`);
    assert.equal(waitsFor('order', 'inventory'), 'service_healthy');
    assert.equal(waitsFor('order', 'pricing'), 'service_healthy');
    assert.equal(waitsFor('otel-collector', 'tempo'), 'service_healthy');
    assert.equal(waitsFor('otel-collector', 'prometheus'), 'service_healthy');
    assert.equal(waitsFor('k6', 'order'), 'service_healthy');
    assert.equal(waitsFor('grafana', 'prometheus'), 'service_healthy');
    assert.equal(waitsFor('grafana', 'tempo'), 'service_healthy');
  });

  test('data lives in named volumes declared at the top level', () => {
    const named = services().flatMap(([name, service]) =>
      (service.volumes ?? []).filter((v) => v.type === 'volume').map((v) => `${name}:${v.source}:${v.target}`),
    );
    assert.deepEqual(named.sort(), ['grafana:grafana-data:/var/lib/grafana', 'prometheus:prometheus-data:/prometheus', 'tempo:tempo-data:/var/tempo']);
  });

  test('Prometheus keeps exemplars and accepts remote write; k6 sends the background scenario and remote writes', () => {
    const prometheus = project.services.prometheus!;
    for (const flag of ['--config.file=/etc/prometheus/prometheus.yml', '--enable-feature=exemplar-storage', '--web.enable-remote-write-receiver']) {
      assert.ok(prometheus.command?.includes(flag), `prometheus ${flag}`);
    }
    const k6 = project.services.k6!;
    assert.deepEqual(k6.command, ['run', '-o', 'experimental-prometheus-rw', '/scripts/main.js']);
    assert.equal(k6.environment?.SCENARIO, 'background');
    assert.equal(k6.environment?.K6_PROMETHEUS_RW_SERVER_URL, 'http://prometheus:9090/api/v1/write');
    // k6's client spans go to the Collector's OTLP/HTTP receiver.
    assert.equal(k6.environment?.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://otel-collector:4318');
    assert.equal(k6.depends_on?.['otel-collector']?.condition, 'service_started');
  });

  test('the configuration bind mounts point at files and directories of the repository', () => {
    const expected: Record<string, 'file' | 'dir'> = {
      'grafana/dashboards': 'dir',
      'grafana/provisioning': 'dir',
      loadgen: 'dir',
      'otel-collector/config.yaml': 'file',
      prometheus: 'dir',
      'tempo/tempo.yaml': 'file',
    };
    const found: Record<string, 'file' | 'dir' | 'missing'> = {};
    for (const [name, service] of services()) {
      for (const volume of service.volumes ?? []) {
        if (volume.type !== 'bind') continue;
        assert.ok(volume.source, `${name}: bind mount to ${volume.target} without a source`);
        const relative = path.relative(repoRoot, path.resolve(repoRoot, volume.source));
        assert.ok(!relative.startsWith('..') && !path.isAbsolute(relative), `${name}: bind mount of ${volume.source}, outside the repository`);
        assert.equal(volume.read_only, true, `${name}: bind mount of ${relative} is not read-only`);
        const stat = statSync(path.join(repoRoot, relative), { throwIfNoEntry: false });
        found[relative] = stat === undefined ? 'missing' : stat.isDirectory() ? 'dir' : 'file';
      }
    }
    assert.deepEqual(found, expected);
  });

  test("the Collector's GOMEMLIMIT is the native stack's, and stays under its container's memory limit", () => {
    const collector = project.services['otel-collector']!;
    const goMemLimit = collector.environment?.GOMEMLIMIT ?? '';
    const native = components().find((component) => component.name === 'otel-collector')!;
    assert.equal(native.env?.GOMEMLIMIT, goMemLimit);
    // Headroom above the Go heap for what Go's limit does not count (stacks, the binary's pages).
    const limitBytes = Number(collector.deploy?.resources?.limits?.memory);
    assert.ok(Number(/^(\d+)MiB$/.exec(goMemLimit)?.[1]) * 2 ** 20 <= 0.85 * limitBytes, `GOMEMLIMIT ${goMemLimit}, limit ${limitBytes} bytes`);
  });

  test('every service has a memory limit', () => {
    const limits = Object.fromEntries(services().map(([name, service]) => [name, Number(service.deploy?.resources?.limits?.memory ?? 0)]));
    assert.deepEqual(
      Object.entries(limits)
        .filter(([, bytes]) => !(bytes > 0))
        .map(([name]) => name),
      [],
      `services without a memory limit (limits in bytes: ${JSON.stringify(limits)})`,
    );
  });
});

describe('the Dockerfile the three services build from', () => {
  const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
  const stages = new Map(
    dockerfile
      .split(/^FROM\s+/m)
      .slice(1)
      .flatMap((part) => {
        const match = /^\S+\s+AS\s+(\S+)/i.exec(part);
        return match ? [[match[1]!, part] as const] : [];
      }),
  );

  test('the base is the Node image of NODE_VERSION from .env, replaceable by NODE_IMAGE, with no frontend to pull', () => {
    assert.equal(/^ARG\s+NODE_VERSION=(\S+)/m.exec(dockerfile)?.[1], pinnedVersions().NODE_VERSION, 'ARG NODE_VERSION defaults to the .env pin');
    assert.match(dockerfile, /^ARG\s+NODE_IMAGE=node:\$\{NODE_VERSION\}-bookworm-slim$/m);
    assert.equal(dockerfile.match(/^FROM\s+\$\{NODE_IMAGE\}\s/gm)?.length, 2, 'deps and base start from NODE_IMAGE');
    // A syntax directive makes every build pull docker/dockerfile from Docker Hub.
    assert.doesNotMatch(dockerfile, /^#\s*syntax=/m);
  });

  test('production dependencies in a layer of their own, sources after; the services run as user node', () => {
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.ok(dockerfile.indexOf('COPY package.json package-lock.json') < dockerfile.indexOf('RUN npm ci'));
    assert.ok(dockerfile.indexOf('RUN npm ci') < dockerfile.indexOf('COPY services/shared ./services/shared'));
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /NODE_ENV=production/);
    assert.match(readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8'), /^\*\*\/node_modules$/m);
  });

  test('one target per service: its port, and the same start command as the native stack', () => {
    const ports: Record<string, string> = { order: '8080', inventory: '8081', pricing: '8082' };
    const cacheDir = /^ENV NODE_COMPILE_CACHE=(\S+)$/m.exec(stages.get('base') ?? '')?.[1];
    assert.ok(cacheDir, 'the services read a compile cache');
    for (const [name, port] of Object.entries(ports)) {
      const stage = stages.get(name);
      assert.ok(stage, `Dockerfile has a ${name} target`);
      assert.match(stage, new RegExp(`^EXPOSE ${port}$`, 'm'), `${name} exposes ${port}`);
      const native = components().find((component) => component.name === name)!;
      // ENTRYPOINT (in base) and CMD (per target) together: the process the container runs.
      const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(stages.get('base') ?? '')?.[1] ?? '[]') as string[];
      const cmd = JSON.parse(/^CMD (.*)$/m.exec(stage)?.[1] ?? '[]') as string[];
      assert.deepEqual([...entrypoint, ...cmd], ['node', ...native.args], `${name}: the image starts it as the native stack does`);
      // Its compile cache is filled as the native stack fills it, and copied in.
      const primerEnv = Object.entries(COMPILE_CACHE_PRIMER_ENV).map(([key, value]) => `${key}=${value}`);
      const primers = [...(stages.get('compile-cache') ?? '').matchAll(/^RUN (.*)$/gm)].map((match) => match[1]!.split(' '));
      assert.ok(
        primers.some((primer) => isDeepStrictEqual(primer, [...primerEnv, 'node', ...native.primerArgs!])),
        `${name}: the compile-cache stage fills its cache as the native stack does`,
      );
      assert.match(stage, new RegExp(`^COPY --from=compile-cache --chown=root:root \\S+ ${cacheDir}$`, 'm'), `${name} copies the compile cache in`);
      const service = project.services[name]!;
      assert.equal(service.environment?.PORT, port);
      assert.equal(service.environment?.NODE_ENV, 'production');
    }
  });
});

describe('the native background traffic (stack:up --traffic)', () => {
  test("runs k6 as the compose k6 service does: the same settings, each pointing at the native stack's own address", () => {
    const native = components({ traffic: true }).find((component) => component.name === 'k6')!;
    const compose = project.services.k6!.environment ?? {};
    const hostless = (value: string | undefined) => value?.replace(/^http:\/\/[^:/]+/, 'http://HOST');
    for (const name of Object.keys(compose).filter((key) => key !== 'K6_ADDRESS')) {
      assert.equal(hostless(native.env?.[name]), hostless(compose[name] ?? undefined), name);
    }
  });
});

describe('npm run smoke', () => {
  test('fails within seconds, saying so, when nothing listens at GRAFANA_URL', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    server.close(); // a port nothing listens on
    const started = Date.now();
    const child = spawn(process.execPath, ['test/smoke/compose-smoke.ts'], { cwd: repoRoot, env: { ...process.env, GRAFANA_URL: `http://127.0.0.1:${port}` } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    const seconds = (Date.now() - started) / 1000;
    assert.equal(code, 1, output);
    assert.match(output, /ECONNREFUSED: nothing listens there/);
    assert.ok(seconds < 30, `took ${seconds} s (the deadline is 300 s)`);
  });
});
