// Checks the Collector, Prometheus and Tempo configuration with the real, natively built binaries
// (`npm run tools`): otelcol validate, promtool check config, promtool test rules, tempo
// -config.verify, that the Collector's builder manifest matches its configuration and the versions
// pinned in .env, and where npm run tools takes Tempo from.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { describeRun, findTool, pinnedVersions, repoRoot, requireTool, run, tempoSkipReason } from '../native/tools.ts';

const COLLECTOR_CONFIG = 'otel-collector/config.yaml';
const SAMPLING_OVERLAY = 'otel-collector/sampling.yaml';
const AGENT_OVERLAY = 'otel-collector/agent.yaml';
const GATEWAY_OVERLAY = 'otel-collector/gateway.yaml';
/** Every Collector config file: the base and its overlays (sampling, and the scale-out profile's tiers). */
const COLLECTOR_FILES = [COLLECTOR_CONFIG, SAMPLING_OVERLAY, AGENT_OVERLAY, GATEWAY_OVERLAY];
/** The resolvers the agent is given, per place it runs (agent.yaml's header). */
const RESOLVERS = {
  native: '{static: {hostnames: [127.0.0.1:14327, 127.0.0.1:14337]}}',
  compose: '{dns: {hostname: otel-gateway, port: "4317", interval: 5s}}',
  kubernetes: '{k8s: {service: otel-gateway.demo, ports: [4317]}}',
};
const BUILDER_MANIFEST = 'otel-collector/builder-config.yaml';
const COMPONENT_KINDS = ['receivers', 'processors', 'exporters', 'extensions', 'connectors'] as const;
type Kind = (typeof COMPONENT_KINDS)[number];

function read(file: string): string {
  return readFileSync(path.join(repoRoot, file), 'utf8');
}

function emptyKinds(): Record<Kind, Set<string>> {
  return { receivers: new Set(), processors: new Set(), exporters: new Set(), extensions: new Set(), connectors: new Set() };
}

/**
 * The component types a Collector config defines, per kind: the keys of its top-level receivers:,
 * processors:, ... sections, without their /name suffix (otlp_grpc/tempo is otlp_grpc).
 */
function configComponentTypes(text: string): Record<Kind, Set<string>> {
  const config = parseYaml(text) as Partial<Record<Kind, Record<string, unknown> | null>>;
  const types = emptyKinds();
  for (const kind of COMPONENT_KINDS) {
    for (const id of Object.keys(config[kind] ?? {})) types[kind].add(id.split('/')[0]!);
  }
  return types;
}

interface ManifestModule {
  module: string;
  version: string;
}

/** A Go module as the builder manifest and `otelcol components` write it: "<module> <version>". */
function goModule(text: string): ManifestModule {
  const [module = '', version = ''] = text.trim().split(/\s+/);
  return { module, version };
}

/** The builder manifest's dist.version and its `- gomod: <module> <version>` entries per section. */
function manifestModules(text: string): { distVersion: string | undefined; modules: Record<string, ManifestModule[]> } {
  const manifest = parseYaml(text) as Record<string, unknown> & { dist?: { version?: string } };
  const modules: Record<string, ManifestModule[]> = {};
  for (const [section, entries] of Object.entries(manifest)) {
    if (!Array.isArray(entries)) continue;
    const gomods = entries.flatMap((entry: { gomod?: unknown }) => (typeof entry?.gomod === 'string' ? [goModule(entry.gomod)] : []));
    if (gomods.length > 0) modules[section] = gomods;
  }
  return { distVersion: manifest.dist?.version, modules };
}

/** `otelcol components`: the component types the binary contains, per kind, with their modules. */
function binaryComponents(text: string): Record<Kind, Map<string, string>> {
  const listing = parseYaml(text) as Partial<Record<Kind, { name: string; module: string }[] | null>>;
  const components = {} as Record<Kind, Map<string, string>>;
  for (const kind of COMPONENT_KINDS) {
    components[kind] = new Map((listing[kind] ?? []).map(({ name, module }) => [name, goModule(module).module]));
  }
  return components;
}

const sorted = (values: Iterable<string>): string[] => [...values].sort();

describe('OpenTelemetry Collector', () => {
  test('otelcol validate accepts otel-collector/config.yaml, alone and with the sampling overlay', async () => {
    const otelcol = requireTool('otelcol');
    const result = await run(otelcol, ['validate', `--config=${COLLECTOR_CONFIG}`]);
    assert.equal(result.code, 0, describeRun('otelcol validate', result));
    const sampling = await run(otelcol, ['validate', `--config=${COLLECTOR_CONFIG}`, `--config=${SAMPLING_OVERLAY}`]);
    assert.equal(sampling.code, 0, describeRun('otelcol validate with sampling.yaml', sampling));
  });

  test("otelcol validate accepts the scale-out profile's agent with each resolver, and its gateway; the agent needs a resolver", async () => {
    const otelcol = requireTool('otelcol');
    for (const [where, resolver] of Object.entries(RESOLVERS)) {
      const agent = await run(otelcol, ['validate', `--config=${COLLECTOR_CONFIG}`, `--config=${AGENT_OVERLAY}`], {
        env: { ...process.env, OTELCOL_GATEWAY_RESOLVER: resolver },
      });
      assert.equal(agent.code, 0, describeRun(`otelcol validate agent.yaml (${where} resolver)`, agent));
    }
    const withoutResolver = await run(otelcol, ['validate', `--config=${COLLECTOR_CONFIG}`, `--config=${AGENT_OVERLAY}`], {
      env: { ...process.env, OTELCOL_GATEWAY_RESOLVER: '' },
    });
    assert.notEqual(withoutResolver.code, 0, describeRun('otelcol validate agent.yaml without OTELCOL_GATEWAY_RESOLVER', withoutResolver));
    const gateway = await run(otelcol, ['validate', ...[COLLECTOR_CONFIG, SAMPLING_OVERLAY, GATEWAY_OVERLAY].map((f) => `--config=${f}`)], {
      env: { ...process.env, HOSTNAME: 'otel-gateway-1' },
    });
    assert.equal(gateway.code, 0, describeRun('otelcol validate gateway.yaml over sampling.yaml', gateway));
  });

  test("the scale-out overlays: the agent sends traces by trace id and keeps the metrics' way; the gateway labels its series with its replica", async () => {
    const otelcol = requireTool('otelcol');
    const printed = async (files: string[], env: Record<string, string>) => {
      const result = await run(otelcol, ['print-config', ...files.map((f) => `--config=${f}`)], { env: { ...process.env, ...env } });
      assert.equal(result.code, 0, describeRun(`otelcol print-config ${files.join(' ')}`, result));
      // biome-ignore lint/suspicious/noExplicitAny: the printed configuration is walked loosely
      return parseYaml(result.stdout) as Record<string, any>;
    };
    const agent = await printed([COLLECTOR_CONFIG, AGENT_OVERLAY], { OTELCOL_GATEWAY_RESOLVER: RESOLVERS.native });
    assert.deepEqual(agent.service.pipelines.traces.exporters, ['load_balancing']);
    assert.equal(agent.exporters.load_balancing.routing_key, 'traceID');
    assert.deepEqual(agent.service.pipelines.metrics.exporters, ['prometheus_remote_write', 'debug'], "the services' metrics go straight to Prometheus");
    const gateway = await printed([COLLECTOR_CONFIG, SAMPLING_OVERLAY, GATEWAY_OVERLAY], { HOSTNAME: 'otel-gateway-7' });
    assert.deepEqual(gateway.exporters.prometheus_remote_write.external_labels, { replica: 'otel-gateway-7' });
    assert.deepEqual(gateway.service.pipelines.traces.processors, ['memory_limiter', 'tail_sampling', 'batch']);
  });

  test('the sampling overlay only adds: it keeps every pipeline of config.yaml and its exporters', async () => {
    const otelcol = requireTool('otelcol');
    // print-config shows the merged configuration the Collector would run.
    const merged = await run(otelcol, ['print-config', `--config=${COLLECTOR_CONFIG}`, `--config=${SAMPLING_OVERLAY}`]);
    assert.equal(merged.code, 0, describeRun('otelcol print-config', merged));
    const config = parseYaml(merged.stdout) as { service: { pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }> } };
    const base = parseYaml(read(COLLECTOR_CONFIG)) as typeof config;
    for (const [name, pipeline] of Object.entries(base.service.pipelines)) {
      assert.deepEqual(config.service.pipelines[name]?.exporters, pipeline.exporters, `${name} keeps its exporters`);
    }
    const { traces, metrics } = config.service.pipelines;
    assert.deepEqual(traces!.processors, ['memory_limiter', 'tail_sampling', 'batch']);
    assert.deepEqual(config.service.pipelines['traces/all']!.exporters, ['span_metrics', 'service_graph']);
    assert.deepEqual(metrics!.receivers, ['otlp', 'span_metrics', 'service_graph']);
  });

  test('the config takes its addresses and debug verbosity from the environment', async () => {
    const otelcol = requireTool('otelcol');
    const env = {
      ...process.env,
      OTELCOL_OTLP_GRPC_ENDPOINT: '127.0.0.1:14317',
      OTELCOL_OTLP_HTTP_ENDPOINT: '127.0.0.1:14318',
      OTELCOL_HEALTH_ENDPOINT: '127.0.0.1:23133',
      OTELCOL_METRICS_HOST: '127.0.0.1',
      OTELCOL_METRICS_PORT: '18888',
      OTELCOL_DEBUG_VERBOSITY: 'detailed',
      TEMPO_OTLP_ENDPOINT: '127.0.0.1:24317',
      PROMETHEUS_REMOTE_WRITE_URL: 'http://127.0.0.1:19090/api/v1/write',
    };
    const valid = await run(otelcol, ['validate', `--config=${COLLECTOR_CONFIG}`], { env });
    assert.equal(valid.code, 0, describeRun('otelcol validate with local addresses', valid));

    // A verbosity the debug exporter does not know must be rejected: the variable is really read.
    const invalid = await run(otelcol, ['validate', `--config=${COLLECTOR_CONFIG}`], { env: { ...env, OTELCOL_DEBUG_VERBOSITY: 'chatty' } });
    assert.notEqual(invalid.code, 0, describeRun('otelcol validate with OTELCOL_DEBUG_VERBOSITY=chatty', invalid));
    assert.match(invalid.stdout + invalid.stderr, /chatty/);
  });

  test('the builder manifest pins OTELCOL_VERSION from .env', () => {
    const version = pinnedVersions().OTELCOL_VERSION;
    assert.ok(version, '.env has no OTELCOL_VERSION');
    const { distVersion, modules } = manifestModules(read(BUILDER_MANIFEST));
    assert.equal(distVersion, version, `dist.version in ${BUILDER_MANIFEST}`);
    const all = Object.values(modules).flat();
    assert.ok(all.length > 0, `no gomod entries found in ${BUILDER_MANIFEST}`);
    for (const { module, version: moduleVersion } of all) {
      assert.equal(moduleVersion, `v${version}`, `${module} in ${BUILDER_MANIFEST} should be at v${version} like OTELCOL_VERSION in .env`);
    }
  });

  test('the builder manifest lists exactly the components config.yaml and its overlays use', async () => {
    const otelcol = requireTool('otelcol');
    const used = emptyKinds();
    for (const file of COLLECTOR_FILES) {
      const types = configComponentTypes(read(file));
      for (const kind of COMPONENT_KINDS) for (const type of types[kind]) used[kind].add(type);
    }
    const { modules } = manifestModules(read(BUILDER_MANIFEST));
    // The binary says which component type each module provides (otlpexporter is otlp_grpc, ...).
    const result = await run(otelcol, ['components']);
    assert.equal(result.code, 0, describeRun('otelcol components', result));
    const built = binaryComponents(result.stdout);

    for (const kind of COMPONENT_KINDS) {
      const listed = sorted((modules[kind] ?? []).map((m) => m.module));
      assert.deepEqual(
        sorted(built[kind].values()),
        listed,
        `the ${kind} of the built otelcol differ from ${BUILDER_MANIFEST}: the binary is out of date, run \`npm run tools\``,
      );
      assert.deepEqual(
        sorted(built[kind].keys()),
        sorted(used[kind]),
        `${BUILDER_MANIFEST} should list exactly the ${kind} that ${COLLECTOR_FILES.join(', ')} define`,
      );
    }
    // Sanity check of the parsing: the pipelines' components are all there.
    assert.deepEqual(sorted(used.exporters), ['debug', 'load_balancing', 'otlp_grpc', 'prometheus_remote_write']);
  });
});

describe('Prometheus', () => {
  test('promtool check config accepts prometheus/prometheus.yml and its rule and target files', async () => {
    const promtool = requireTool('promtool');
    const result = await run(promtool, ['check', 'config', 'prometheus/prometheus.yml']);
    assert.equal(result.code, 0, describeRun('promtool check config', result));
    assert.match(result.stdout + result.stderr, /SUCCESS: 1 rule files found/);
  });

  test('promtool test rules: the order latency alert fires on sustained slowness only', async () => {
    const promtool = requireTool('promtool');
    const result = await run(promtool, ['test', 'rules', 'prometheus/rules/latency.test.yml']);
    assert.equal(result.code, 0, describeRun('promtool test rules', result));
    assert.match(result.stdout, /SUCCESS/);
  });
});

describe('Tempo', () => {
  const tempoText = read('tempo/tempo.yaml');
  // biome-ignore lint/suspicious/noExplicitAny: the parsed YAML is walked loosely
  const tempoConfig = parseYaml(tempoText) as Record<string, any>;

  test('tempo -config.verify accepts tempo/tempo.yaml, and refuses a key Tempo 3 does not know', { skip: tempoSkipReason() }, async () => {
    const tempo = requireTool('tempo');
    const verify = (file: string) => run(tempo, [`-config.file=${file}`, '-config.expand-env=true', '-config.verify=true']);
    const good = await verify('tempo/tempo.yaml');
    assert.equal(good.code, 0, describeRun('tempo -config.verify', good));
    const dir = mkdtempSync(path.join(tmpdir(), 'tempo-config-'));
    try {
      // ingester: a 2.x block that Tempo 3 refuses.
      writeFileSync(path.join(dir, 'tempo.yaml'), `${tempoText}\ningester:\n  max_block_duration: 5m\n`);
      const bad = await verify(path.join(dir, 'tempo.yaml'));
      assert.notEqual(bad.code, 0, describeRun('tempo -config.verify (with a 2.x ingester block)', bad));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('OTLP receivers on 0.0.0.0, span metrics and service graph with exemplars, remote written to Prometheus', () => {
    const protocols = tempoConfig.distributor?.receivers?.otlp?.protocols ?? {};
    assert.equal(protocols.grpc?.endpoint, '${TEMPO_OTLP_GRPC_ENDPOINT:-0.0.0.0:4317}');
    assert.equal(protocols.http?.endpoint, '${TEMPO_OTLP_HTTP_ENDPOINT:-0.0.0.0:4318}');
    // In 3.x the processors are enabled per tenant (overrides), not in the metrics_generator block;
    // the sampling profile empties the list through the environment.
    assert.equal(tempoConfig.overrides?.defaults?.metrics_generator?.processors, '${TEMPO_METRICS_GENERATOR_PROCESSORS:-[service-graphs, span-metrics]}');
    const remoteWrite = tempoConfig.metrics_generator?.storage?.remote_write ?? [];
    assert.equal(remoteWrite.length, 1);
    assert.equal(remoteWrite[0].url, '${PROMETHEUS_REMOTE_WRITE_URL:-http://prometheus:9090/api/v1/write}');
    assert.equal(remoteWrite[0].send_exemplars, true);
  });

  test('every environment reference has its compose value as default and is documented at the top', () => {
    const documented = new Map([
      ['TEMPO_HTTP_PORT', '3200'],
      ['TEMPO_GRPC_PORT', '9095'],
      ['TEMPO_LISTEN_ADDRESS', '0.0.0.0'],
      ['TEMPO_OTLP_GRPC_ENDPOINT', '0.0.0.0:4317'],
      ['TEMPO_OTLP_HTTP_ENDPOINT', '0.0.0.0:4318'],
      ['TEMPO_DATA_DIR', '/var/tempo'],
      ['PROMETHEUS_REMOTE_WRITE_URL', 'http://prometheus:9090/api/v1/write'],
      ['TEMPO_METRICS_GENERATOR_PROCESSORS', '[service-graphs, span-metrics]'],
    ]);
    const header = tempoText.slice(0, tempoText.search(/^[a-z]/m));
    const used = new Set<string>();
    for (const [index, line] of tempoText.split('\n').entries()) {
      for (const match of line.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}?/g)) {
        // Tempo expands the whole file, comments included: keep references out of comments.
        assert.ok(!/^\s*#/.test(line), `tempo.yaml:${index + 1}: a variable reference in a comment is expanded too`);
        const [, name, fallback] = match;
        assert.equal(fallback, documented.get(name!), `tempo.yaml:${index + 1}: ${name} defaults to the compose value`);
        used.add(name!);
      }
    }
    for (const name of documented.keys()) {
      assert.ok(used.has(name), `${name} is used`);
      assert.match(header, new RegExp(`^#\\s+${name}\\s`, 'm'), `${name} is documented in the header comment`);
    }
    // Natively nothing may stay under /var/tempo: every directory follows TEMPO_DATA_DIR.
    const paths = [...tempoText.matchAll(/^\s*(?:path|shutdown_marker_dir|local_work_path):\s*(\S+)/gm)].map((m) => m[1]!);
    assert.ok(paths.length >= 6, `the data paths: ${paths.join(', ')}`);
    for (const dataPath of paths) assert.match(dataPath, /^\$\{TEMPO_DATA_DIR:-\/var\/tempo\}\//);
  });
});

describe('native tools', () => {
  test('the built tools are the versions pinned in .env', async () => {
    const versions = pinnedVersions();
    const checks: Array<[string, string[], string]> = [
      [requireTool('otelcol'), ['--version'], versions.OTELCOL_VERSION!],
      [requireTool('prometheus'), ['--version'], versions.PROMETHEUS_VERSION!],
      [requireTool('promtool'), ['--version'], versions.PROMETHEUS_VERSION!],
      [requireTool('k6'), ['version'], versions.K6_VERSION!],
      ...(findTool('tempo') ? [[requireTool('tempo'), ['-version'], versions.TEMPO_VERSION!] as [string, string[], string]] : []),
    ];
    for (const [file, args, version] of checks) {
      const result = await run(file, args);
      assert.equal(result.code, 0, describeRun(`${path.basename(file)} ${args.join(' ')}`, result));
      assert.ok(
        (result.stdout + result.stderr).includes(version),
        `${path.basename(file)} reports ${JSON.stringify((result.stdout + result.stderr).trim().split('\n')[0])}, expected version ${version}: run \`npm run tools\``,
      );
    }
  });

  test('otlp-decode decodes an empty request and rejects garbage', async () => {
    const decode = requireTool('otlp-decode');
    const empty = await run(decode, [], { input: Buffer.alloc(0) });
    assert.equal(empty.code, 0, describeRun('otlp-decode < empty', empty));
    assert.deepEqual(JSON.parse(empty.stdout), {});
    const garbage = await run(decode, [], { input: Buffer.from([0xff, 0xff, 0xff]) });
    assert.notEqual(garbage.code, 0, describeRun('otlp-decode < garbage', garbage));
  });
});

describe('npm run tools: where Tempo comes from', () => {
  const tempoVersion = pinnedVersions().TEMPO_VERSION!;

  /** Runs `native/build-tools.sh tempo` (Tempo only) against an empty scratch tool cache. */
  async function buildToolsWith(env: Record<string, string>) {
    const scratch = mkdtempSync(path.join(tmpdir(), 'tools-'));
    try {
      const result = await run('sh', ['native/build-tools.sh', 'tempo'], {
        env: { ...process.env, TEMPO_BIN: '', TEMPO_SRC: '', ...env, TOOLS_DIR: scratch },
        timeoutMs: 60_000,
      });
      let tempoLink: string | undefined;
      try {
        tempoLink = readlinkSync(path.join(scratch, 'bin', 'tempo'));
      } catch {
        tempoLink = undefined;
      }
      return { ...result, tempoLink };
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  /** A stand-in tempo binary that reports `version`. */
  function fakeTempo(version: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'fake-tempo-'));
    const file = path.join(dir, 'tempo');
    writeFileSync(file, `#!/bin/sh\necho "tempo, version ${version} (branch: HEAD, revision: 0000000)"\n`);
    chmodSync(file, 0o755);
    return file;
  }

  test('TEMPO_BIN of the pinned version is linked as it is', async () => {
    const file = fakeTempo(tempoVersion);
    const result = await buildToolsWith({ TEMPO_BIN: file });
    assert.equal(result.code, 0, describeRun('build-tools.sh', result));
    assert.equal(result.tempoLink, file);
  });

  test('TEMPO_BIN of another version is refused, not linked', async () => {
    const result = await buildToolsWith({ TEMPO_BIN: fakeTempo('2.9.0') });
    assert.notEqual(result.code, 0, describeRun('build-tools.sh', result));
    assert.match(result.stderr, new RegExp(`reports 'tempo, version 2\\.9\\.0.*not version ${tempoVersion.replaceAll('.', '\\.')}`));
    assert.equal(result.tempoLink, undefined);
  });

  test('a TEMPO_SRC that is missing or not the pinned tag fails the build instead of skipping Tempo', async () => {
    const missing = await buildToolsWith({ TEMPO_SRC: path.join(tmpdir(), 'no-such-tempo-source.tar.xz') });
    assert.notEqual(missing.code, 0, describeRun('build-tools.sh', missing));
    assert.match(missing.stderr, /TEMPO_SRC=.* does not exist/);

    const dir = mkdtempSync(path.join(tmpdir(), 'tempo-src-'));
    mkdirSync(path.join(dir, 'cmd'));
    const wrongTree = await buildToolsWith({ TEMPO_SRC: dir });
    rmSync(dir, { recursive: true, force: true });
    assert.notEqual(wrongTree.code, 0, describeRun('build-tools.sh', wrongTree));
    assert.match(wrongTree.stderr, /tempo .*FAILED to read/);
    assert.equal(wrongTree.tempoLink, undefined);
  });
});
