// Rung 4 of the chart's ladder (docs/KUBERNETES.md): `helm install` into a real Kubernetes API server
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler of the pinned release) with kwok's
// fake nodes, started by this test on free 127.0.0.1 ports and stopped at its end. What it proves is
// wiring and scheduling: the API server accepts every object (its own validation, RBAC, the
// restricted Pod Security Standard), the controllers make the pods, the scheduler places them, the
// EndpointSlices list the gateways, and the agent's token may read them. No container runs: kwok marks
// pods Ready without starting them or running a probe, and their IPs lead nowhere.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chartDir } from '../native/chart.ts';
import { describeRun, requireTool, run } from '../native/tools.ts';
import { type Cluster, startCluster, waitFor } from './support/k8s-cluster.ts';

const NAMESPACE = 'spike-to-trace';
const RELEASE = 'spike-to-trace';
const AGENT = `system:serviceaccount:${NAMESPACE}:otel-collector`;

// biome-ignore lint/suspicious/noExplicitAny: API objects read field by field
type Obj = any;

describe('API server: helm install on fake kwok nodes proves wiring and scheduling (no container runs)', () => {
  let cluster: Cluster;
  const get = async (what: string, ...args: string[]): Promise<Obj[]> =>
    (JSON.parse(await cluster.kubectlOk(['get', what, `--namespace=${NAMESPACE}`, '--output=json', ...args])) as { items: Obj[] }).items;
  const helm = async (args: string[]) => {
    const result = await run(requireTool('helm'), args, { env: cluster.env, timeoutMs: 240_000 });
    assert.equal(result.code, 0, `${describeRun(`helm ${args.join(' ')}`, result)}\n${cluster.logTails()}`);
    return result;
  };
  /** The gateway pods, and the ready endpoints of the gateways' headless Service, once they agree. */
  const gatewaysListed = (replicas: number) =>
    waitFor(
      () => `the EndpointSlices of otel-gateway do not list ${replicas} ready gateway pods`,
      30_000,
      async () => {
        const pods = (await get('pods', '--selector=app.kubernetes.io/name=otel-gateway')).filter((p) => p.status.podIP);
        const slices = await get('endpointslices', '--selector=kubernetes.io/service-name=otel-gateway');
        const endpoints = slices.flatMap((s) => s.endpoints ?? []).filter((e: Obj) => e.conditions?.ready);
        const listed = endpoints.map((e: Obj) => `${e.targetRef?.name}=${e.addresses.join(',')}`).sort();
        const expected = pods.map((p) => `${p.metadata.name}=${p.status.podIP}`).sort();
        return pods.length === replicas && JSON.stringify(listed) === JSON.stringify(expected) ? expected : undefined;
      },
    );

  before(async () => {
    cluster = await startCluster({ nodes: 3 });
  });
  after(async () => {
    await cluster?.stop();
  });

  test('helm install --wait succeeds in a namespace that enforces the restricted Pod Security Standard', async () => {
    await cluster.kubectlOk(['create', 'namespace', NAMESPACE]);
    await cluster.kubectlOk(['label', 'namespace', NAMESPACE, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted']);
    // Straight from the chart's folder, through its links to the repository's files.
    const result = await helm(['install', RELEASE, chartDir, `--namespace=${NAMESPACE}`, '--wait', '--timeout=180s']);
    assert.match(result.stdout, /STATUS: deployed/);
    assert.doesNotMatch(result.stderr, /would violate PodSecurity/);
    // The namespace does refuse what is not restricted: a pod without the chart's security settings.
    const plain = await cluster.kubectl(['run', 'plain', '--image=busybox', '--restart=Never', `--namespace=${NAMESPACE}`]);
    assert.notEqual(plain.code, 0, describeRun('kubectl run plain', plain));
    assert.match(plain.stderr, /violates PodSecurity "restricted/);
  });

  test('every Deployment and the gateway StatefulSet are Ready on the fake nodes, each pod bound to a node by the scheduler', async () => {
    const deployments = await get('deployments');
    assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), ['grafana', 'inventory', 'order', 'otel-collector', 'pricing', 'prometheus', 'tempo']);
    for (const deployment of deployments) {
      assert.equal(deployment.status.readyReplicas, deployment.spec.replicas, `Deployment ${deployment.metadata.name} ready`);
      assert.ok(
        deployment.status.conditions.some((c: Obj) => c.type === 'Available' && c.status === 'True'),
        `Deployment ${deployment.metadata.name} Available`,
      );
    }
    const [statefulSet] = await get('statefulsets');
    assert.equal(statefulSet.metadata.name, 'otel-gateway');
    assert.equal(statefulSet.status.readyReplicas, 2, 'both gateways ready');
    const pods = await get('pods');
    for (const pod of pods) assert.match(pod.spec.nodeName ?? '', /^kwok-node-\d$/, `pod ${pod.metadata.name} scheduled onto a fake node`);
    const claims = await get('persistentvolumeclaims');
    assert.deepEqual(claims.map((c) => `${c.metadata.name}=${c.status.phase}`).sort(), ['prometheus-data=Bound', 'tempo-data=Bound']);
    const [job] = await get('jobs');
    assert.equal(job.metadata.name, 'k6-1', 'the k6 Job of revision 1');
  });

  test("the gateways' headless Service lists every gateway pod in its EndpointSlices, read with the agent's own token as the k8s resolver reads them", async () => {
    const expected = await gatewaysListed(2);
    const token = (await cluster.kubectlOk(['create', 'token', 'otel-collector', `--namespace=${NAMESPACE}`, '--duration=10m'])).trim();
    const asAgent = (args: string[]) =>
      run(
        requireTool('kubectl'),
        ['--kubeconfig=/dev/null', `--server=${cluster.server}`, `--certificate-authority=${cluster.caFile}`, `--token=${token}`, ...args],
        {
          env: cluster.env,
        },
      );
    const list = await asAgent(['get', 'endpointslices', `--namespace=${NAMESPACE}`, '--selector=kubernetes.io/service-name=otel-gateway', '--output=json']);
    assert.equal(list.code, 0, describeRun('kubectl get endpointslices (agent token)', list));
    const seen = (JSON.parse(list.stdout).items as Obj[]).flatMap((s) => s.endpoints.map((e: Obj) => `${e.targetRef.name}=${e.addresses.join(',')}`));
    assert.deepEqual(seen.sort(), expected);
    const secrets = await asAgent(['get', 'secrets', `--namespace=${NAMESPACE}`]);
    assert.notEqual(secrets.code, 0, 'the agent token must not read secrets');
    assert.match(secrets.stderr, /forbidden/i);
  });

  test('kubectl auth can-i: the agent may get, list and watch EndpointSlices in its namespace, and nothing else asked', async () => {
    const canI = async (...args: string[]) => {
      const result = await cluster.kubectl(['auth', 'can-i', ...args, `--as=${AGENT}`]);
      return result.stdout.trim();
    };
    for (const verb of ['get', 'list', 'watch']) {
      assert.equal(await canI(verb, 'endpointslices.discovery.k8s.io', `--namespace=${NAMESPACE}`), 'yes', `${verb} endpointslices`);
    }
    assert.equal(await canI('watch', 'endpointslices.discovery.k8s.io', '--namespace=default'), 'no', 'watch endpointslices in another namespace');
    assert.equal(await canI('delete', 'endpointslices.discovery.k8s.io', `--namespace=${NAMESPACE}`), 'no', 'delete endpointslices');
    assert.equal(await canI('list', 'secrets', `--namespace=${NAMESPACE}`), 'no', 'list secrets');
    assert.equal(await canI('watch', 'pods', `--namespace=${NAMESPACE}`), 'no', 'watch pods');
  });

  test('helm upgrade to three gateways and another load: the EndpointSlices list the third, and a new k6 Job replaces the old one', async () => {
    await helm([
      'upgrade',
      RELEASE,
      chartDir,
      `--namespace=${NAMESPACE}`,
      '--reuse-values',
      '--set=components.otel-gateway.replicas=3',
      '--set=load.scenario=steady',
      '--set=load.rate=50',
      '--wait',
      '--timeout=180s',
    ]);
    const listed = await gatewaysListed(3);
    assert.deepEqual(
      listed.map((e) => e.split('=')[0]),
      ['otel-gateway-0', 'otel-gateway-1', 'otel-gateway-2'],
    );
    const jobs = await waitFor(
      () => 'the k6 Job of revision 1 is still there',
      30_000,
      async () => {
        const names = (await get('jobs')).map((j) => j.metadata.name);
        return names.includes('k6-1') ? undefined : names;
      },
    );
    assert.deepEqual(jobs, ['k6-2']);
    const [job] = await get('jobs');
    const env = Object.fromEntries(job.spec.template.spec.containers[0].env.map((e: Obj) => [e.name, e.value]));
    assert.equal(env.SCENARIO, 'steady');
    assert.equal(env.RATE, '50');
    const targets = JSON.parse(await cluster.kubectlOk(['get', 'configmap', 'prometheus-targets', `--namespace=${NAMESPACE}`, '--output=json']));
    assert.match(targets.data['otel-collector.yml'], /otel-gateway-2\.otel-gateway:8888/, "Prometheus's targets name the third gateway");
    // Neither the agent (it watches the EndpointSlices) nor Prometheus (file_sd re-reads its targets)
    // is restarted for a gateway more: their pod templates are those of the install.
    for (const name of ['otel-collector', 'prometheus']) {
      const deployment = JSON.parse(await cluster.kubectlOk(['get', 'deployment', name, `--namespace=${NAMESPACE}`, '--output=json']));
      assert.equal(deployment.metadata.generation, 1, `Deployment ${name} was changed by the upgrade`);
    }
  });
});
