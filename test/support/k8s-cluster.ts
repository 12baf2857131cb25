// A real Kubernetes control plane for the chart's API-server test, on free 127.0.0.1 ports, with no
// root, no container runtime and no kubelet: etcd, kube-apiserver, kube-controller-manager (the
// Deployment, StatefulSet, Job and EndpointSlice controllers, service account tokens), kube-scheduler
// (binds pods to nodes) and kwok, which plays the kubelet of fake nodes: it marks every pod scheduled
// to them Running and Ready (probes are not run, no container starts), completes Jobs' pods, and binds
// volume claims of its StorageClass. Pod and node IPs are made up: nothing listens on them.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeRun, type RunResult, requireTool, run, type ToolName } from '../../native/tools.ts';
import { freePort } from './free-port.ts';
import { type ClientName, makePki } from './k8s-pki.ts';

export interface Cluster {
  /** The admin's kubeconfig (group system:masters). */
  kubeconfig: string;
  /** The API server's URL and CA, for a client with a token. */
  server: string;
  caFile: string;
  /** Environment for helm and kubectl: the kubeconfig, and caches inside the cluster's folder. */
  env: NodeJS.ProcessEnv;
  kubectl(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<RunResult>;
  /** kubectl that throws with its output when it fails; returns stdout. */
  kubectlOk(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** The last lines of every component's log, for a failure message. */
  logTails(lines?: number): string;
  stop(): Promise<void>;
}

const NODE_ANNOTATION = 'kwok.x-k8s.io/node';

function kubeconfig(server: string, pki: string, user: ClientName): string {
  return `apiVersion: v1
kind: Config
clusters:
  - name: local
    cluster: {server: "${server}", certificate-authority: "${pki}/ca.crt"}
users:
  - name: ${user}
    user: {client-certificate: "${pki}/${user}.crt", client-key: "${pki}/${user}.key"}
contexts:
  - name: local
    context: {cluster: local, user: ${user}}
current-context: local
`;
}

/** A kwok node: annotated for kwok, with both addresses (without a Hostname kwok empties them). */
function fakeNode(index: number): string {
  return `apiVersion: v1
kind: Node
metadata:
  name: kwok-node-${index}
  annotations: {${NODE_ANNOTATION}: fake}
  labels: {kubernetes.io/hostname: kwok-node-${index}, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
spec:
  podCIDR: 10.0.${index}.0/24
  podCIDRs: [10.0.${index}.0/24]
status:
  addresses:
    - {type: InternalIP, address: 192.0.2.${index + 1}}
    - {type: Hostname, address: kwok-node-${index}}
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
`;
}

/** Polls until check() returns a value other than undefined; throws with what() after timeoutMs. */
export async function waitFor<T>(what: () => string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s: ${what()}`);
    await sleep(250);
  }
}

/** Starts the control plane and `nodes` fake nodes; stop() ends every process and removes its folder. */
export async function startCluster(options: { nodes: number }): Promise<Cluster> {
  const tools = Object.fromEntries(
    (['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok', 'kubectl'] as ToolName[]).map((name) => [name, requireTool(name)]),
  ) as Record<string, string>;
  // kwok's stages and StorageClass lie next to its binary (native/tool-recipes.sh).
  const kwokDir = path.dirname(realpathSync(tools.kwok!));
  const dir = mkdtempSync(path.join(tmpdir(), 'k8s-'));
  const pki = path.join(dir, 'pki');
  const processes: { name: string; child: ChildProcess; log: string }[] = [];
  const killAll = () => {
    for (const { child } of processes) child.kill('SIGKILL');
  };
  // Should the test process end without calling stop(), or be told to, the control plane goes with it.
  const abandon = () => {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    abandon();
    process.kill(process.pid, signal); // the listener is gone: the signal's default action now
  };
  process.once('exit', abandon);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  const start = (name: string, args: string[]) => {
    const log = path.join(dir, `${name}.log`);
    const out = openSync(log, 'a');
    const child = spawn(tools[name]!, args, { stdio: ['ignore', out, out] });
    processes.push({ name, child, log });
  };
  const logTails = (lines = 20) =>
    processes.map(({ name, log }) => `--- ${name} ---\n${readFileSync(log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')}`).join('\n');
  const exited = () => processes.filter(({ child }) => child.exitCode !== null || child.signalCode !== null).map(({ name }) => name);
  const stop = async () => {
    process.removeListener('exit', abandon);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    for (const { child } of [...processes].reverse()) child.kill('SIGTERM');
    const deadline = Date.now() + 5_000;
    while (exited().length < processes.length && Date.now() < deadline) await sleep(100);
    killAll(); // what ignored SIGTERM for 5 s (the API server drains its requests first)
    while (exited().length < processes.length) await sleep(50);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    mkdirSync(pki);
    await makePki(pki);
    const [etcdPort, etcdPeerPort, apiPort, controllerManagerPort, schedulerPort, kwokPort] = await Promise.all(Array.from({ length: 6 }, freePort));
    const server = `https://127.0.0.1:${apiPort}`;
    for (const user of ['admin', 'kwok', 'controller-manager', 'scheduler'] as const) {
      writeFileSync(path.join(dir, `${user}.kubeconfig`), kubeconfig(server, pki, user));
    }
    const at = (file: string) => path.join(dir, file);
    const env = {
      ...process.env,
      KUBECONFIG: at('admin.kubeconfig'),
      KUBECACHEDIR: at('kube-cache'),
      HELM_CACHE_HOME: at('helm/cache'),
      HELM_CONFIG_HOME: at('helm/config'),
      HELM_DATA_HOME: at('helm/data'),
    };
    const kubectl = (args: string[], opts: { input?: string; timeoutMs?: number } = {}) =>
      run(tools.kubectl!, args, { env, input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000 });
    const kubectlOk = async (args: string[], opts: { input?: string; timeoutMs?: number } = {}) => {
      const result = await kubectl(args, opts);
      if (result.code !== 0) throw new Error(describeRun(`kubectl ${args.join(' ')}`, result));
      return result.stdout;
    };
    const alive = (what: string) => () => {
      const gone = exited();
      return gone.length > 0 ? `${what}; exited: ${gone.join(', ')}\n${logTails()}` : `${what}\n${logTails()}`;
    };

    start('etcd', [
      '--name=local',
      `--data-dir=${at('etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=local=http://127.0.0.1:${etcdPeerPort}`,
      '--unsafe-no-fsync', // a test cluster: nothing to keep across a power cut
      '--log-level=warn',
    ]);
    await waitFor(alive('etcd is not healthy'), 30_000, async () => ((await fetch(`http://127.0.0.1:${etcdPort}/health`)).ok ? true : undefined));

    start('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${at('apiserver')}`,
      `--tls-cert-file=${pki}/apiserver.crt`,
      `--tls-private-key-file=${pki}/apiserver.key`,
      `--client-ca-file=${pki}/ca.crt`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki}/sa.pub`,
      `--service-account-signing-key-file=${pki}/sa.key`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--authorization-mode=Node,RBAC',
      `--requestheader-client-ca-file=${pki}/front-proxy-ca.crt`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${pki}/front-proxy-client.crt`,
      `--proxy-client-key-file=${pki}/front-proxy-client.key`,
      // 127.0.0.1 is no address to publish as the kubernetes Service's endpoint.
      '--endpoint-reconciler-type=none',
    ]);
    await waitFor(alive('kube-apiserver is not ready'), 120_000, async () => ((await kubectl(['get', '--raw=/readyz'])).code === 0 ? true : undefined));

    const delegated = (user: ClientName) => [
      `--kubeconfig=${at(`${user}.kubeconfig`)}`,
      `--authentication-kubeconfig=${at(`${user}.kubeconfig`)}`,
      `--authorization-kubeconfig=${at(`${user}.kubeconfig`)}`,
      '--bind-address=127.0.0.1',
      '--leader-elect=false',
    ];
    start('kube-controller-manager', [
      ...delegated('controller-manager'),
      `--secure-port=${controllerManagerPort}`,
      `--cert-dir=${at('controller-manager')}`,
      `--service-account-private-key-file=${pki}/sa.key`,
      `--root-ca-file=${pki}/ca.crt`,
      '--use-service-account-credentials=true',
      `--cluster-signing-cert-file=${pki}/ca.crt`,
      `--cluster-signing-key-file=${pki}/ca.key`,
    ]);
    start('kube-scheduler', [...delegated('scheduler'), `--secure-port=${schedulerPort}`]);
    start('kwok', [
      `--kubeconfig=${at('kwok.kubeconfig')}`,
      `--config=${path.join(kwokDir, 'stages.yaml')}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-annotation-selector=${NODE_ANNOTATION}=fake`,
      '--cidr=10.0.0.0/16',
      '--node-ip=192.0.2.1',
      '--node-lease-duration-seconds=40',
      `--server-address=127.0.0.1:${kwokPort}`,
    ]);

    await kubectlOk(['apply', '-f', path.join(kwokDir, 'storage-class.yaml')]);
    await kubectlOk(['apply', '-f', '-'], { input: Array.from({ length: options.nodes }, (_, i) => fakeNode(i)).join('---\n') });
    // The controller manager makes the default ServiceAccount of each namespace; pods wait for it.
    await waitFor(alive('no default ServiceAccount: is kube-controller-manager running?'), 60_000, async () =>
      (await kubectl(['get', 'serviceaccount', 'default', '--namespace=default'])).code === 0 ? true : undefined,
    );
    await waitFor(alive('the kwok nodes are not Ready'), 60_000, async () =>
      (await kubectl(['wait', '--for=condition=Ready', 'node', '--all', '--timeout=2s'])).code === 0 ? true : undefined,
    );
    return { kubeconfig: env.KUBECONFIG, server, caFile: `${pki}/ca.crt`, env, kubectl, kubectlOk, logTails, stop };
  } catch (error) {
    const tails = processes.length > 0 ? `\n${logTails()}` : '';
    await stop();
    throw new Error(`${(error as Error).message}${tails}`);
  }
}
