// The compose profiles as Docker Compose itself sees them (native/compose-check loads them with
// compose-go, the parser `docker compose` uses): docker-compose.sampling.yml over
// docker-compose.yml, and docker-compose.scale-out.yml over both. Each only adds to the workshop
// stack: the same images and ports, the Collector's configs mounted from the repository.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { describeRun, repoRoot, requireTool, run } from '../native/tools.ts';

interface Service {
  image?: string;
  command?: string[] | null;
  environment?: Record<string, string | null>;
  ports?: { host_ip?: string; target: number; published?: string }[];
  volumes?: { type: string; source?: string; target: string; read_only?: boolean }[];
  deploy?: { replicas?: number; resources?: { limits?: { memory?: string | number } } };
}

interface Project {
  services: Record<string, Service>;
}

const BASE_SERVICES = ['grafana', 'inventory', 'k6', 'order', 'otel-collector', 'pricing', 'prometheus', 'tempo'];

/** The project compose-go resolves from these files, stderr checked empty (no warnings). */
async function resolved(...files: string[]): Promise<Project> {
  const result = await run(requireTool('compose-check'), [repoRoot, ...files]);
  assert.equal(result.code, 0, describeRun(`compose-check ${files.join(' ')}`, result));
  assert.equal(result.stderr, '');
  return JSON.parse(result.stdout) as Project;
}

/** A service's bind mounts: container path -> repository path. */
const mounts = (service: Service) => Object.fromEntries((service.volumes ?? []).map((v) => [v.target, path.relative(repoRoot, v.source ?? '')]));

describe('the compose profiles, resolved by compose-go', () => {
  test("sampling: the Collector runs sampling.yaml over config.yaml, both mounted from the repository; Tempo's generator is off", async () => {
    const base = await resolved('docker-compose.yml');
    const sampling = await resolved('docker-compose.yml', 'docker-compose.sampling.yml');
    const collector = sampling.services['otel-collector']!;
    assert.deepEqual(collector.command, ['--config=/etc/otelcol-contrib/config.yaml', '--config=/etc/otelcol-contrib/sampling.yaml']);
    assert.deepEqual(mounts(collector), {
      '/etc/otelcol-contrib/config.yaml': 'otel-collector/config.yaml',
      '/etc/otelcol-contrib/sampling.yaml': 'otel-collector/sampling.yaml',
    });
    assert.equal(sampling.services.tempo!.environment?.TEMPO_METRICS_GENERATOR_PROCESSORS, '[]');
    // Nothing else changes: the same services, images and ports as without the file.
    assert.deepEqual(Object.keys(sampling.services).sort(), BASE_SERVICES);
    for (const [name, service] of Object.entries(base.services)) assert.equal(sampling.services[name]!.image, service.image, `${name} image`);
  });

  test('scale-out: the Collector is the agent with the DNS resolver; two gateway replicas run sampling.yaml and gateway.yaml, unpublished, limited', async () => {
    const base = await resolved('docker-compose.yml');
    const scaleOut = await resolved('docker-compose.yml', 'docker-compose.sampling.yml', 'docker-compose.scale-out.yml');
    const agent = scaleOut.services['otel-collector']!;
    assert.deepEqual(agent.command, ['--config=/etc/otelcol-contrib/config.yaml', '--config=/etc/otelcol-contrib/agent.yaml']);
    assert.equal(mounts(agent)['/etc/otelcol-contrib/agent.yaml'], 'otel-collector/agent.yaml');
    assert.equal(agent.environment?.OTELCOL_GATEWAY_RESOLVER, '{dns: {hostname: otel-gateway, port: "4317", interval: 5s}}');

    const gateway = scaleOut.services['otel-gateway']!;
    assert.equal(gateway.image, base.services['otel-collector']!.image, "the gateways run the Collector's pinned image");
    assert.deepEqual(
      gateway.command,
      ['config.yaml', 'sampling.yaml', 'gateway.yaml'].map((file) => `--config=/etc/otelcol-contrib/${file}`),
    );
    assert.deepEqual(mounts(gateway), {
      '/etc/otelcol-contrib/config.yaml': 'otel-collector/config.yaml',
      '/etc/otelcol-contrib/sampling.yaml': 'otel-collector/sampling.yaml',
      '/etc/otelcol-contrib/gateway.yaml': 'otel-collector/gateway.yaml',
    });
    assert.equal(gateway.deploy?.replicas, 2);
    assert.ok(gateway.deploy?.resources?.limits?.memory, 'the gateways have a memory limit');
    assert.deepEqual(gateway.ports ?? [], [], 'only the agent talks to the gateways');
    assert.deepEqual(Object.keys(scaleOut.services).sort(), [...BASE_SERVICES, 'otel-gateway'].sort());
  });
});
