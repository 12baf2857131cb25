// Rung 2 of the chart's ladder (docs/KUBERNETES.md): the configuration each pod would get (its mounted
// ConfigMaps laid out as the kubelet projects them, its arguments, the environment the chart sets)
// checked by the real tools: otelcol validate and print-config, promtool check config, tempo
// -config.verify, and Grafana's provisioning read with the provisioning tests' own helpers. Every
// address a config resolves to must be a Service (or gateway pod) of the chart on a port its pods
// declare. Nothing runs in a cluster; whether the images start is for a real one.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { EXAMPLE_NAMESPACE, exampleNames, exampleValues, findObject, helmTemplate, type KubeObject, parseObjects } from '../native/chart.ts';
import { describeRun, requireTool, run, tempoSkipReason } from '../native/tools.ts';
import { allPanels, loadDashboards, loadProvisionedDatasources, readYaml } from './support/dashboards.ts';
import { containerEnv, containerOf, firstPodName, type Mounted, mountContainer } from './support/k8s-pods.ts';

/** host:port (or a URL) -> [host, port]. */
function hostPort(address: string): [string, number] {
  const url = /^[a-z]+:\/\//.test(address) ? new URL(address) : new URL(`tcp://${address}`);
  return [url.hostname, Number(url.port)];
}

/** The named container ports of a workload: port -> name. */
function declaredPorts(workload: KubeObject): Map<number, string> {
  return new Map((containerOf(workload).ports ?? []).map((p: { name: string; containerPort: number }) => [p.containerPort, p.name]));
}

/** Expands Tempo's ${VAR:-default} references as Tempo's -config.expand-env does. */
function expandTempoEnv(text: string, env: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => env[name] ?? fallback ?? '');
}

for (const example of exampleNames()) {
  describe(`Rendered configs checked by the real tools, examples/${example} (files and environment the pods get; nothing runs)`, async () => {
    const objects = parseObjects(await helmTemplate([exampleValues(example)]));
    let scratch = '';
    before(() => {
      scratch = mkdtempSync(path.join(tmpdir(), 'k8s-configs-'));
    });
    after(() => rmSync(scratch, { recursive: true, force: true }));
    const workloads = objects.filter((o) => o.spec?.template);
    const byName = (name: string) => workloads.find((w) => w.metadata.name === name)!;
    const mount = (workload: KubeObject): Mounted => mountContainer(workload, objects, path.join(scratch, workload.metadata.name));
    const agent = findObject(objects, 'Deployment', 'otel-collector');
    const gateway = findObject(objects, 'StatefulSet', 'otel-gateway');

    /** Fails unless the address is a Service of the chart, or a gateway pod by name, on a port its pods declare. */
    function assertReachable(address: string, what: string): void {
      const [host, port] = hostPort(address);
      const [first, second, third] = host.split('.');
      const pod = /^(.+)-(\d+)$/.exec(first!);
      if (pod && second === gateway.spec.serviceName) {
        // A StatefulSet pod's own name, <pod>.<headless service>[.<namespace>]
        assert.ok(Number(pod[2]) < gateway.spec.replicas, `${what}: ${host} is no gateway pod (${gateway.spec.replicas} replicas)`);
        assert.ok(third === undefined || third === EXAMPLE_NAMESPACE, `${what}: ${host} is in another namespace`);
        assert.ok(declaredPorts(gateway).has(port), `${what}: gateway pods declare no port ${port}`);
        return;
      }
      assert.ok(second === undefined || second === EXAMPLE_NAMESPACE, `${what}: ${host} is in another namespace`);
      const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === first);
      assert.ok(service, `${what}: ${address} names no Service of the chart`);
      const servicePort = service.spec.ports.find((p: { port: number }) => p.port === port);
      assert.ok(servicePort, `${what}: Service ${first} has no port ${port}`);
      assert.equal(declaredPorts(byName(first!)).get(port), servicePort.targetPort, `${what}: ${first}'s pods do not declare ${servicePort.targetPort}`);
    }

    /** otelcol with the workload's own arguments and exactly its environment. */
    async function otelcol(command: string, workload: KubeObject) {
      const mounted = mount(workload);
      const env = containerEnv(containerOf(workload), firstPodName(workload));
      const result = await run(requireTool('otelcol'), [command, ...mounted.args], { env });
      assert.equal(result.code, 0, describeRun(`otelcol ${command} (${workload.metadata.name})`, result));
      return result.stdout;
    }

    test('otelcol validate accepts the agent and the gateway as the chart runs them', async () => {
      for (const workload of [agent, gateway]) {
        assert.ok(
          mount(workload).args.every((a: string) => !a.startsWith('--config=') || existsSync(a.slice('--config='.length))),
          'every --config file is mounted',
        );
        await otelcol('validate', workload);
      }
    });

    test("the Collectors' merged configs: the agent finds the gateways through their headless Service, each gateway labels its series with its pod name, every exporter reaches a Service", async () => {
      // biome-ignore lint/suspicious/noExplicitAny: the printed configuration is walked loosely
      const agentConfig = parseYaml(await otelcol('print-config', agent)) as Record<string, any>;
      const resolver = agentConfig.exporters.load_balancing.resolver;
      // print-config lists every resolver, the unset ones empty.
      assert.deepEqual(
        Object.keys(resolver).filter((key) => resolver[key]),
        ['k8s'],
        'the k8s resolver',
      );
      assert.equal(resolver.k8s.service, `${gateway.spec.serviceName}.${EXAMPLE_NAMESPACE}`);
      const headless = findObject(objects, 'Service', gateway.spec.serviceName);
      assert.equal(headless.spec.clusterIP, 'None', 'the gateways Service is headless: its EndpointSlices list every pod');
      for (const port of resolver.k8s.ports) assertReachable(`${gateway.spec.serviceName}:${port}`, 'the resolver');
      assert.deepEqual(agentConfig.service.pipelines.traces.exporters, ['load_balancing']);

      // biome-ignore lint/suspicious/noExplicitAny: as above
      const gatewayConfig = parseYaml(await otelcol('print-config', gateway)) as Record<string, any>;
      assert.deepEqual(gatewayConfig.exporters.prometheus_remote_write.external_labels, { replica: firstPodName(gateway) });
      for (const [workload, config] of [
        [agent, agentConfig],
        [gateway, gatewayConfig],
      ] as const) {
        const used = new Set(Object.values(config.service.pipelines).flatMap((p) => (p as { exporters: string[] }).exporters));
        if (used.has('otlp_grpc')) assertReachable(config.exporters.otlp_grpc.endpoint, `${workload.metadata.name} otlp_grpc`);
        if (used.has('prometheus_remote_write')) assertReachable(config.exporters.prometheus_remote_write.endpoint, `${workload.metadata.name} remote write`);
        const ports = declaredPorts(workload);
        const listens = [
          config.receivers.otlp.protocols.grpc.endpoint,
          config.extensions.health_check.endpoint,
          `0.0.0.0:${config.service.telemetry.metrics.readers[0].pull.exporter.prometheus.port}`,
        ];
        for (const address of listens) assert.ok(ports.has(hostPort(address)[1]), `${workload.metadata.name} listens on ${address}, a port its pod declares`);
      }
    });

    test("promtool check config accepts Prometheus's mounted folder; every scrape target is a Service or gateway pod of the chart", async () => {
      const prometheus = findObject(objects, 'Deployment', 'prometheus');
      const mounted = mount(prometheus);
      const config = mounted.args.find((a) => a.startsWith('--config.file='))!.split('=')[1]!;
      const result = await run(requireTool('promtool'), ['check', 'config', config]);
      assert.equal(result.code, 0, describeRun('promtool check config', result));
      assert.doesNotMatch(result.stdout + result.stderr, /WARNING/, 'promtool warns (a file_sd file that is not mounted?)');
      const targets = mounted.files.filter((f) => f.startsWith('/etc/prometheus/targets/'));
      assert.deepEqual(targets.map((f) => path.basename(f)).sort(), ['otel-collector.yml', 'tempo.yml']);
      const addresses = targets.flatMap((f) => (parseYaml(readFileSync(mounted.at(f), 'utf8')) as { targets: string[] }[]).flatMap((g) => g.targets));
      const gateways = Array.from({ length: gateway.spec.replicas }, (_, i) => `otel-gateway-${i}.otel-gateway:8888`);
      assert.deepEqual(addresses.sort(), ['otel-collector:8888', 'tempo:3200', ...gateways].sort(), 'the agent, every gateway and Tempo');
      for (const address of addresses) assertReachable(address, 'a scrape target');
    });

    test("tempo -config.verify accepts Tempo's mounted config with the chart's environment; its generator is off, the gateways make span metrics", {
      skip: tempoSkipReason(),
    }, async () => {
      const tempo = findObject(objects, 'Deployment', 'tempo');
      const mounted = mount(tempo);
      const env = containerEnv(containerOf(tempo), firstPodName(tempo));
      const result = await run(requireTool('tempo'), [...mounted.args, '-config.verify=true'], { env });
      assert.equal(result.code, 0, describeRun('tempo -config.verify', result));
      const file = mounted.args.find((a) => a.startsWith('-config.file='))!.split('=')[1]!;
      // biome-ignore lint/suspicious/noExplicitAny: Tempo's configuration walked loosely
      const config = parseYaml(expandTempoEnv(readFileSync(file, 'utf8'), env)) as Record<string, any>;
      assert.deepEqual(config.overrides.defaults.metrics_generator.processors, []);
      assertReachable(config.metrics_generator.storage.remote_write[0].url, "Tempo's remote write");
      const ports = declaredPorts(tempo);
      for (const port of [config.server.http_listen_port, config.server.grpc_listen_port]) assert.ok(ports.has(Number(port)), `Tempo listens on ${port}`);
      for (const protocol of ['grpc', 'http']) {
        assert.ok(ports.has(hostPort(config.distributor.receivers.otlp.protocols[protocol].endpoint)[1]), `Tempo's OTLP ${protocol} port is declared`);
      }
    });

    test("Grafana's mounted provisioning: its data sources reach the chart's Services, the provider's folder holds every dashboard, each using provisioned uids", () => {
      const grafana = findObject(objects, 'Deployment', 'grafana');
      const mounted = mount(grafana);
      const datasources = loadProvisionedDatasources(mounted.at('/etc/grafana/provisioning/datasources'));
      assert.deepEqual(datasources.map((d) => d.uid).sort(), ['prometheus', 'tempo']);
      for (const datasource of datasources) assertReachable(datasource.url!, `data source ${datasource.uid}`);
      const providers = readYaml<{ providers: { options: { path: string } }[] }>(mounted.at('/etc/grafana/provisioning/dashboards/dashboards.yaml')).providers;
      const dashboards = providers.flatMap((p) => loadDashboards(mounted.at(p.options.path)));
      assert.ok(
        dashboards.some((d) => d.dashboard.uid === 'spike-to-trace'),
        'the spike-to-trace dashboard is in a provided folder',
      );
      const uids = new Set(datasources.map((d) => d.uid));
      for (const { dashboard } of dashboards) {
        for (const panel of allPanels(dashboard)) {
          const uid = typeof panel.datasource === 'object' ? panel.datasource?.uid : undefined;
          assert.ok(!uid || uid.startsWith('-') || uid === 'grafana' || uids.has(uid), `panel ${panel.title}: data source ${uid} is not provisioned`);
        }
      }
      const home = containerEnv(containerOf(grafana), 'grafana').GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!;
      assert.ok(mounted.files.includes(home), `the home dashboard ${home} is mounted`);
    });

    test("every address in the services' and k6's environment reaches a Service of the chart, and each service listens on its own port", () => {
      for (const name of ['order', 'inventory', 'pricing', 'k6']) {
        const workload = workloads.find((w) => w.metadata.name === name || w.metadata.name.startsWith(`${name}-`))!;
        const env = containerEnv(containerOf(workload), firstPodName(workload));
        const addresses = Object.entries(env).filter(([key, value]) => /_(URL|ENDPOINT)$/.test(key) && /^https?:\/\//.test(value));
        assert.ok(addresses.length > 0, `${name} has addresses in its environment`);
        for (const [key, value] of addresses) assertReachable(value, `${name} ${key}`);
        if (env.PORT) assert.ok(declaredPorts(workload).has(Number(env.PORT)), `${name} listens on PORT ${env.PORT}, a port its pod declares`);
      }
    });
  });
}
