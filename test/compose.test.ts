// docker-compose.yml as Docker Compose itself sees it: native/compose-check (`npm run tools`) loads
// the project with compose-go, the parser of `docker compose`, as `docker compose config` does
// (the .env of the repository for interpolation, schema validation, normalization, paths resolved,
// consistency check), and these tests assert on the resolved project it prints, not on the YAML
// text: image tags after interpolation, build targets and args, port bindings, health checks and
// the startup graph, bind mounts, memory limits.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { describeRun, pinnedVersions, repoRoot, requireTool, run } from '../native/tools.ts';

/** The parts of compose-go's project JSON (types.Project) that these tests read. */
interface Service {
  image?: string;
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

const SERVICES = ['grafana', 'inventory', 'k6', 'order', 'otel-collector', 'otel-collector-ready', 'pricing', 'prometheus', 'tempo', 'tempo-init'];
const BUILT_SERVICES = ['inventory', 'order', 'pricing'];
// The only long-running service without a healthcheck: the Collector's contrib image is
// distroless, nothing inside it can probe its health_check extension; otel-collector-ready probes
// it from outside, and the services wait for that sidecar (see the comments in docker-compose.yml).
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
    const node = `node:${env.NODE_VERSION}-bookworm-slim`;
    const expected: Record<string, string> = {
      grafana: `grafana/grafana:${env.GRAFANA_VERSION}`,
      k6: `grafana/k6:${env.K6_VERSION}`,
      'otel-collector': `otel/opentelemetry-collector-contrib:${env.OTELCOL_VERSION}`,
      'otel-collector-ready': node,
      prometheus: `prom/prometheus:v${env.PROMETHEUS_VERSION}`,
      tempo: `grafana/tempo:${env.TEMPO_VERSION}`,
      'tempo-init': node,
    };
    const images: Record<string, string> = {};
    for (const [name, service] of services()) if (service.image !== undefined) images[name] = service.image;
    assert.deepEqual(images, expected);
  });

  test('the three services build from the Dockerfile, one target each, with NODE_VERSION from .env', () => {
    const nodeVersion = pinnedVersions().NODE_VERSION;
    assert.ok(nodeVersion);
    const built = services().filter(([, service]) => service.build !== undefined);
    assert.deepEqual(built.map(([name]) => name), BUILT_SERVICES);
    for (const [name, service] of built) {
      const build = service.build!;
      assert.equal(path.resolve(build.context), repoRoot, `${name}: build context`);
      assert.equal(build.dockerfile, 'Dockerfile', `${name}: dockerfile`);
      assert.equal(build.target, name, `${name}: build target`);
      assert.deepEqual(build.args, { NODE_VERSION: nodeVersion }, `${name}: build args`);
    }
  });

  test('every published port is bound to 127.0.0.1', () => {
    const bindings = services().flatMap(([name, service]) => (service.ports ?? []).map((port) => `${name} ${port.host_ip ?? '(all interfaces)'}:${port.published}->${port.target}`));
    assert.ok(bindings.length > 0, 'no published ports at all');
    assert.deepEqual(
      bindings.filter((binding) => !binding.includes(' 127.0.0.1:')),
      [],
      'ports published on other addresses than 127.0.0.1',
    );
  });

  test(`every long-running service has a healthcheck, except ${WITHOUT_HEALTHCHECK.join(', ')}`, () => {
    const longRunning = services().filter(([, service]) => service.restart !== 'no');
    assert.deepEqual(services().filter(([, service]) => service.restart === 'no').map(([name]) => name), ['tempo-init'], 'one-shots');
    assert.deepEqual(longRunning.filter(([, service]) => !hasHealthcheck(service)).map(([name]) => name), WITHOUT_HEALTHCHECK);
    // The Collector's stand-in: the sidecar that probes its health_check extension.
    const sidecar = project.services['otel-collector-ready'];
    assert.ok(hasHealthcheck(sidecar), 'otel-collector-ready has no healthcheck');
    assert.match(sidecar!.healthcheck!.test!.join(' '), /http:\/\/otel-collector:13133\//);
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

  test('every service has a memory limit', () => {
    const limits = Object.fromEntries(services().map(([name, service]) => [name, Number(service.deploy?.resources?.limits?.memory ?? 0)]));
    assert.deepEqual(
      Object.entries(limits).filter(([, bytes]) => !(bytes > 0)).map(([name]) => name),
      [],
      `services without a memory limit (limits in bytes: ${JSON.stringify(limits)})`,
    );
  });
});
