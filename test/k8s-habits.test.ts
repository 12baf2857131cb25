// The Helm chart's production habits, read from what helm renders for every example (rendering only,
// no cluster): resources from compose's measured limits, non-root and read-only root filesystems with a
// writable folder wherever a component must write, probes, named ports, and no API token but the
// agent's. Whether the images really run so is for a real cluster (.github/workflows/kind.yml).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { exampleNames, exampleValues, helmTemplate, type KubeObject, parseObjects } from '../native/chart.ts';
import { repoRoot } from '../native/tools.ts';
import { type Container, containerOf, podSpecOf } from './support/k8s-pods.ts';

const MiB = 1024 * 1024;
const UNITS: Record<string, number> = { '': 1, K: 1024, M: MiB, G: 1024 * MiB, Ki: 1024, Mi: MiB, Gi: 1024 * MiB, KiB: 1024, MiB, GiB: 1024 * MiB };

/** Bytes of a compose (512M), Kubernetes (512Mi) or Go (400MiB) memory size; binary units in all three. */
function bytes(size: string | number): number {
  const match = /^(\d+(?:\.\d+)?)([KMG]?i?B?)$/.exec(String(size));
  if (!match || UNITS[match[2]!] === undefined) throw new Error(`not a memory size: ${size}`);
  return Number(match[1]) * UNITS[match[2]!]!;
}

/** Millicores of a CPU quantity (100m, "1"). */
const millicores = (cpu: string | number) => (String(cpu).endsWith('m') ? Number.parseInt(String(cpu), 10) : Number(cpu) * 1000);

interface ComposeService {
  environment?: Record<string, string>;
  deploy?: { resources?: { limits?: { memory?: string } } };
}

/** The scale-out profile's compose services (each file's services over the one before: enough here). */
function composeServices(): Map<string, ComposeService> {
  const services = new Map<string, ComposeService>();
  for (const file of ['docker-compose.yml', 'docker-compose.sampling.yml', 'docker-compose.scale-out.yml']) {
    // merge: the services share their settings through YAML merge keys (<<: *node-service).
    const compose = parseYaml(readFileSync(path.join(repoRoot, file), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
    for (const [name, service] of Object.entries(compose.services)) {
      const before = services.get(name);
      services.set(name, {
        environment: { ...before?.environment, ...service.environment },
        deploy: service.deploy?.resources?.limits?.memory ? service.deploy : before?.deploy,
      });
    }
  }
  return services;
}

/** What each component must be able to write, read from its own configuration. */
function mustWrite(workload: KubeObject, container: Container): string[] {
  const image: string = container.image;
  if (image.startsWith('grafana/tempo:')) {
    // Every directory tempo.yaml writes defaults to TEMPO_DATA_DIR's default.
    return [/\$\{TEMPO_DATA_DIR:-([^}]+)\}/.exec(readFileSync(path.join(repoRoot, 'tempo/tempo.yaml'), 'utf8'))![1]!];
  }
  if (image.startsWith('prom/prometheus:')) {
    return [(container.args as string[]).find((a) => a.startsWith('--storage.tsdb.path='))!.split('=')[1]!];
  }
  if (image.startsWith('grafana/grafana:')) return ['/var/lib/grafana']; // the image's GF_PATHS_DATA
  return workload.kind === 'Job' ? ['/tmp'] : [];
}

for (const example of exampleNames()) {
  describe(`Helm chart habits, examples/${example} (rendered, not run)`, async () => {
    const objects = parseObjects(await helmTemplate([exampleValues(example)]));
    const workloads = objects.filter((o) => o.spec?.template);
    const name = (w: KubeObject) => w.metadata.name.replace(/-\d+$/, ''); // the k6 Job is k6-<revision>

    test('every component is rendered: the three services, both Collector tiers, Tempo, Prometheus, Grafana, k6', () => {
      assert.deepEqual(workloads.map(name).sort(), ['grafana', 'inventory', 'k6', 'order', 'otel-collector', 'otel-gateway', 'pricing', 'prometheus', 'tempo']);
    });

    test("memory limits are compose's for the same service, and every container requests less CPU and memory than its limit", () => {
      const compose = composeServices();
      for (const workload of workloads) {
        const { requests, limits } = containerOf(workload).resources ?? {};
        const what = `${workload.kind}/${workload.metadata.name}`;
        assert.ok(requests?.cpu && requests?.memory && limits?.cpu && limits?.memory, `${what}: cpu and memory requests and limits`);
        const composeLimit = compose.get(name(workload))?.deploy?.resources?.limits?.memory;
        assert.ok(composeLimit, `compose has a memory limit for ${name(workload)}`);
        assert.equal(bytes(limits.memory), bytes(composeLimit), `${what}: memory limit against compose's ${name(workload)}`);
        assert.ok(bytes(requests.memory) <= bytes(limits.memory), `${what}: memory request above its limit`);
        assert.ok(millicores(requests.cpu) <= millicores(limits.cpu), `${what}: cpu request above its limit`);
      }
    });

    test("each Collector's GOMEMLIMIT is compose's, at most the 80 % of its memory limit where the memory_limiter refuses data", () => {
      const compose = composeServices();
      const collectors = workloads.filter((w) => containerOf(w).image.startsWith('otel/opentelemetry-collector-contrib:'));
      assert.equal(collectors.length, 2, 'the agent and the gateways');
      for (const workload of collectors) {
        const container = containerOf(workload);
        const gomemlimit: string = container.env.find((e: { name: string }) => e.name === 'GOMEMLIMIT')?.value ?? '';
        assert.equal(gomemlimit, compose.get(workload.metadata.name)?.environment?.GOMEMLIMIT, `${workload.metadata.name}: GOMEMLIMIT against compose's`);
        const share = bytes(gomemlimit) / bytes(container.resources.limits.memory);
        assert.ok(share > 0.75 && share <= 0.8, `${workload.metadata.name}: GOMEMLIMIT ${gomemlimit} is ${(share * 100).toFixed(1)} % of the limit`);
      }
    });

    test('non-root with a numeric user, restricted capabilities, a read-only root filesystem, and a writable folder where each must write', () => {
      for (const workload of workloads) {
        const pod = podSpecOf(workload);
        const container = containerOf(workload);
        const what = `${workload.kind}/${workload.metadata.name}`;
        assert.equal(pod.securityContext?.runAsNonRoot, true, `${what}: runAsNonRoot`);
        assert.ok(Number.isInteger(pod.securityContext?.runAsUser) && pod.securityContext.runAsUser > 0, `${what}: a numeric non-root runAsUser`);
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${what}: seccomp`);
        assert.equal(container.securityContext?.allowPrivilegeEscalation, false, `${what}: allowPrivilegeEscalation`);
        assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL'], `${what}: capabilities`);
        assert.equal(container.securityContext?.readOnlyRootFilesystem, true, `${what}: readOnlyRootFilesystem`);
        const writable = new Set(
          (container.volumeMounts ?? []).filter((m: { readOnly?: boolean }) => !m.readOnly).map((m: { mountPath: string }) => m.mountPath),
        );
        for (const dir of mustWrite(workload, container)) assert.ok(writable.has(dir), `${what} writes ${dir}: it must be a writable volume`);
      }
    });

    test('probes on every long-running container (liveness on the k6 Job), on named ports it declares', () => {
      for (const workload of workloads) {
        const container = containerOf(workload);
        const what = `${workload.kind}/${workload.metadata.name}`;
        const probes = workload.kind === 'Job' ? ['livenessProbe'] : ['livenessProbe', 'readinessProbe'];
        const ports = new Set((container.ports ?? []).map((p: { name?: string }) => p.name));
        for (const probe of probes) assert.ok(container[probe], `${what}: ${probe}`);
        for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
          const port = container[probe]?.httpGet?.port;
          if (port !== undefined) assert.ok(typeof port === 'string' && ports.has(port), `${what}: ${probe} on port ${port}, not a named port`);
        }
      }
    });

    test("every port is named, and each Service's target is a named port of the pods it selects", () => {
      for (const workload of workloads) {
        for (const port of containerOf(workload).ports ?? [])
          assert.match(port.name ?? '', /^[a-z][a-z0-9-]{0,14}$/, `${workload.metadata.name}: port ${port.containerPort}`);
      }
      for (const service of objects.filter((o) => o.kind === 'Service')) {
        const selected = workloads.filter((w) => Object.entries(service.spec.selector).every(([k, v]) => w.spec.template.metadata.labels[k] === v));
        assert.equal(selected.length, 1, `Service ${service.metadata.name} selects one workload`);
        const ports = new Map((containerOf(selected[0]!).ports ?? []).map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
        for (const port of service.spec.ports) {
          assert.ok(port.name && typeof port.targetPort === 'string', `Service ${service.metadata.name}: port ${port.port} named, to a named target`);
          assert.equal(ports.get(port.targetPort), port.port, `Service ${service.metadata.name}: ${port.name} is the container's port of that name`);
        }
      }
    });

    test("only the Collector's agent has a Kubernetes API token; no pod gets docker-link variables", () => {
      for (const workload of workloads) {
        const pod = podSpecOf(workload);
        assert.equal(pod.enableServiceLinks, false, `${workload.metadata.name}: enableServiceLinks`);
        if (workload.metadata.name === 'otel-collector') assert.equal(pod.serviceAccountName, 'otel-collector');
        else assert.equal(pod.automountServiceAccountToken, false, `${workload.metadata.name}: automountServiceAccountToken`);
      }
    });
  });
}
