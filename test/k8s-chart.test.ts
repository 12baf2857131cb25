// The Helm chart, rung 1 of its ladder (docs/KUBERNETES.md): helm lint, and helm template of every
// example compared with its committed rendering, so that every change of the output is reviewed; the
// files it mounts are the repository's own, through links; its images are those pinned in .env.
// Proves what helm renders, by reading; nothing here reaches a cluster.
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import {
  chartDir,
  EXAMPLE_NAMESPACE,
  EXAMPLE_RELEASE,
  exampleNames,
  exampleRenderedDir,
  exampleValues,
  helmTemplate,
  type KubeObject,
  parseObjects,
  REGENERATE_EXAMPLES,
  renderExample,
} from '../native/chart.ts';
import { describeRun, pinnedVersions, repoRoot, requireTool, run } from '../native/tools.ts';
import { containerOf } from './support/k8s-pods.ts';

const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');
const filesIn = (dir: string, pattern: RegExp) =>
  readdirSync(path.join(repoRoot, dir))
    .filter((f) => pattern.test(f))
    .map((f) => `${dir}/${f}`);

/** Which repository file each ConfigMap key must hold: the chart's one source of truth, stated again. */
function expectedMountedFiles(): Record<string, Record<string, string>> {
  const keyed = (files: string[]) => Object.fromEntries(files.map((f) => [path.basename(f), f]));
  return {
    'otel-collector-config': keyed(['config.yaml', 'sampling.yaml', 'agent.yaml', 'gateway.yaml'].map((f) => `otel-collector/${f}`)),
    'tempo-config': keyed(['tempo/tempo.yaml']),
    'prometheus-config': keyed(['prometheus/prometheus.yml']),
    'prometheus-rules': keyed(['prometheus/rules/latency.yml']),
    'grafana-datasources': keyed(['grafana/provisioning/datasources/datasources.yaml']),
    'grafana-dashboard-providers': keyed(['grafana/provisioning/dashboards/dashboards.yaml']),
    'grafana-dashboards': keyed(filesIn('grafana/dashboards', /\.json$/)),
    'k6-scripts': keyed(['loadgen/main.js']),
    'k6-scripts-lib': keyed(filesIn('loadgen/lib', /\.js$/)),
  };
}

describe('Helm chart: helm lint and helm template against the committed examples (rendering only, no cluster)', () => {
  test('there are at least two examples: the defaults and another value set', () => {
    assert.ok(exampleNames().includes('default'), 'examples/default');
    assert.ok(exampleNames().length >= 2, `examples: ${exampleNames().join(', ')}`);
  });

  test('helm lint --strict passes with the default values and with every example', async () => {
    const helm = requireTool('helm');
    for (const values of [[], ...exampleNames().map((name) => ['--values', exampleValues(name)])]) {
      const result = await run(helm, ['lint', '--strict', chartDir, ...values]);
      assert.equal(result.code, 0, describeRun(`helm lint --strict ${values.join(' ')}`, result));
      assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  for (const name of exampleNames()) {
    test(`helm template of examples/${name} equals its committed rendering (regenerate: ${REGENERATE_EXAMPLES})`, async () => {
      const rendered = await renderExample(name);
      const dir = exampleRenderedDir(name);
      const committed = readdirSync(dir).sort();
      assert.deepEqual([...rendered.keys()].sort(), committed, `the files of ${path.relative(repoRoot, dir)}: run \`${REGENERATE_EXAMPLES}\``);
      for (const [file, text] of rendered) {
        const before = readFileSync(path.join(dir, file), 'utf8');
        if (text !== before) {
          const at = [...text].findIndex((c, i) => c !== before[i]);
          const line = text.slice(0, at).split('\n').length;
          assert.fail(
            `${path.relative(repoRoot, dir)}/${file} differs from what the chart renders, from line ${line}: run \`${REGENERATE_EXAMPLES}\` and review the diff`,
          );
        }
      }
    });
  }

  test('a value set that breaks the chart is refused by helm template', async () => {
    await assert.rejects(helmTemplate([], { set: ['components.order.kind=DaemonSet'] }), /components\.order\.kind is DaemonSet/);
    await assert.rejects(helmTemplate([], { set: ['components.order.image=nosuchimage'] }), /images\.nosuchimage is not set/);
  });
});

describe('Helm chart: one source of truth', () => {
  test("files/ links to the repository's folders: no copy of a config file lives in the chart", () => {
    for (const folder of ['otel-collector', 'tempo', 'prometheus', 'grafana', 'loadgen']) {
      const link = path.join(chartDir, 'files', folder);
      assert.ok(lstatSync(link).isSymbolicLink(), `${path.relative(repoRoot, link)} must be a link to ../../../${folder}, not a folder`);
      assert.equal(realpathSync(link), realpathSync(path.join(repoRoot, folder)));
    }
  });

  test('helm package puts the linked files themselves into the archive: the packaged chart renders exactly as the folder', async () => {
    const scratch = mkdtempSync(path.join(tmpdir(), 'chart-package-'));
    try {
      const packaged = await run(requireTool('helm'), ['package', chartDir, '--destination', scratch]);
      assert.equal(packaged.code, 0, describeRun('helm package', packaged));
      const archive = path.join(scratch, readdirSync(scratch).find((f) => f.endsWith('.tgz'))!);
      const fromArchive = await run(requireTool('helm'), ['template', EXAMPLE_RELEASE, archive, '--namespace', EXAMPLE_NAMESPACE]);
      assert.equal(fromArchive.code, 0, describeRun('helm template <archive>', fromArchive));
      assert.ok(fromArchive.stdout === (await helmTemplate([])), 'the packaged chart renders differently from its folder');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  test("every mounted ConfigMap holds exactly the repository's files, byte for byte", async () => {
    const objects = parseObjects(await helmTemplate([]));
    const configMaps = new Map(objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data ?? {}]));
    const expected = expectedMountedFiles();
    assert.deepEqual([...configMaps.keys()].sort(), [...Object.keys(expected), 'prometheus-targets'].sort(), 'the rendered ConfigMaps');
    for (const [name, files] of Object.entries(expected)) {
      const data = configMaps.get(name)!;
      assert.deepEqual(Object.keys(data).sort(), Object.keys(files).sort(), `the keys of ConfigMap ${name}`);
      for (const [key, file] of Object.entries(files)) {
        assert.ok(data[key] === read(file), `ConfigMap ${name} key ${key} differs from ${file}`);
      }
    }
  });

  test('the k6 scripts the Job mounts include every module main.js imports, transitively', () => {
    const mounted = new Set(['main.js', ...Object.keys(expectedMountedFiles()['k6-scripts-lib']!).map((f) => `lib/${f}`)]);
    const pending = ['main.js'];
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
      for (const [, target] of read(`loadgen/${file}`).matchAll(/^import .* from '(\.[^']+)';$/gm)) {
        const resolved = path.posix.join(path.posix.dirname(file), target!);
        assert.ok(mounted.has(resolved), `loadgen/${file} imports ${target}, which the chart does not mount`);
        pending.push(resolved);
      }
    }
  });
});

describe('Helm chart: versions', () => {
  const versions = pinnedVersions();
  const values = parseYaml(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')) as { images: Record<string, { repository: string; tag: string }> };

  test('every image tag in values.yaml is the version pinned in .env, of the image docker-compose.yml runs', () => {
    const compose = read('docker-compose.yml');
    const pins: Record<string, string> = {
      collector: versions.OTELCOL_VERSION!,
      tempo: versions.TEMPO_VERSION!,
      prometheus: `v${versions.PROMETHEUS_VERSION!}`,
      grafana: versions.GRAFANA_VERSION!,
      k6: versions.K6_VERSION!,
    };
    assert.deepEqual(Object.keys(values.images).sort(), Object.keys(pins).sort());
    for (const [key, tag] of Object.entries(pins)) {
      const image = values.images[key]!;
      assert.equal(image.tag, tag, `images.${key}.tag`);
      assert.ok(compose.includes(`image: ${image.repository}:`), `docker-compose.yml runs ${image.repository}`);
    }
  });

  test("the rendered containers run those images, and the services' own at the chart's appVersion, the package's version", async () => {
    const chart = parseYaml(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    assert.equal(chart.appVersion, (JSON.parse(read('package.json')) as { version: string }).version);
    const workloads = parseObjects(await helmTemplate([])).filter((o: KubeObject) => o.spec?.template);
    const images = new Set(workloads.map((w) => containerOf(w).image as string));
    const expected = [
      ...Object.values(values.images).map((i) => `${i.repository}:${i.tag}`),
      ...['order', 'inventory', 'pricing'].map((s) => `spike-to-trace/${s}:${chart.appVersion}`),
    ];
    assert.deepEqual([...images].sort(), expected.sort());
  });

  test("the install commands of the README and docs/KUBERNETES.md tag the services' images with the appVersion", () => {
    const { appVersion } = parseYaml(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    for (const doc of ['README.md', 'docs/KUBERNETES.md']) {
      const tags = [...read(doc).matchAll(/\/\$s:([\w.-]+)/g)].map((m) => m[1]!.replace(/\.$/, ''));
      assert.ok(tags.length > 0, `${doc} shows how to build the images`);
      for (const tag of tags) assert.equal(tag, appVersion, `${doc}: an image tag other than the chart's appVersion`);
    }
  });
});
