// The Kubernetes toolchain of the chart's tests, as `npm run tools` builds it: the wrapper module
// native/k8s names the versions pinned in .env, and every built binary reports its pinned version.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { describeRun, pinnedVersions, repoRoot, requireTool, run, type ToolName } from '../native/tools.ts';

const versions = pinnedVersions();
const kubernetes = versions.KUBERNETES_VERSION!;

describe('Kubernetes toolchain', () => {
  test('native/k8s/go.mod requires the kubernetes and etcd of .env, with every staging module at its release, and builds the five tools', () => {
    const gomod = readFileSync(path.join(repoRoot, 'native/k8s/go.mod'), 'utf8');
    const required = (module: string) => new RegExp(`^\\s*${module.replaceAll('.', '\\.')} (v\\S+)`, 'm').exec(gomod)?.[1];
    assert.equal(required('k8s.io/kubernetes'), `v${kubernetes}`, 'run sh native/k8s/gen-go-mod.sh after changing KUBERNETES_VERSION');
    assert.equal(required('go.etcd.io/etcd/server/v3'), `v${versions.ETCD_VERSION}`, 'run sh native/k8s/gen-go-mod.sh after changing ETCD_VERSION');
    const replaces = [...gomod.matchAll(/^\s*(\S+) => (\S+) (\S+)$/gm)];
    assert.ok(replaces.length >= 30, `the staging modules are replaced (${replaces.length})`);
    for (const [line, from, to, version] of replaces) {
      assert.ok(from!.startsWith('k8s.io/') && from === to, line);
      assert.equal(version, `v0.${kubernetes.split('.').slice(1).join('.')}`, line);
    }
    const tools = /^tool \(\n([^)]*)\)/m.exec(gomod)?.[1]?.trim().split(/\s+/);
    assert.deepEqual(tools, [
      'go.etcd.io/etcd/server/v3',
      'k8s.io/kubernetes/cmd/kube-apiserver',
      'k8s.io/kubernetes/cmd/kube-controller-manager',
      'k8s.io/kubernetes/cmd/kube-scheduler',
      'k8s.io/kubernetes/cmd/kubectl',
    ]);
  });

  test('every built tool reports the version pinned in .env', async () => {
    const checks: [ToolName, string[], string][] = [
      ['kube-apiserver', ['--version'], `Kubernetes v${kubernetes}`],
      ['kube-controller-manager', ['--version'], `Kubernetes v${kubernetes}`],
      ['kube-scheduler', ['--version'], `Kubernetes v${kubernetes}`],
      ['kubectl', ['version', '--client'], `Client Version: v${kubernetes}`],
      ['etcd', ['--version'], `etcd Version: ${versions.ETCD_VERSION}`],
      ['helm', ['version', '--short'], `v${versions.HELM_VERSION}`],
      ['kwok', ['--version'], `v${versions.KWOK_VERSION}`],
    ];
    for (const [tool, args, expected] of checks) {
      const result = await run(requireTool(tool), args);
      assert.equal(result.code, 0, describeRun(`${tool} ${args.join(' ')}`, result));
      assert.ok(
        result.stdout.includes(expected),
        `${tool} reports ${JSON.stringify(result.stdout.trim().split('\n')[0])}, expected ${expected}: run \`npm run tools\``,
      );
    }
  });

  test("kwok's stages and StorageClass, and the validator's OpenAPI spec, lie next to their binaries", () => {
    const kwok = path.dirname(realpathSync(requireTool('kwok')));
    const stages = readFileSync(path.join(kwok, 'stages.yaml'), 'utf8');
    for (const stage of ['node-initialize', 'node-heartbeat-with-lease', 'pod-ready', 'pod-complete', 'pod-delete', 'pvc-provision', 'pv-bind']) {
      assert.match(stages, new RegExp(`^  name: ${stage}$`, 'm'), `kwok stage ${stage}`);
    }
    assert.match(readFileSync(path.join(kwok, 'storage-class.yaml'), 'utf8'), /is-default-class: "true"/);
    assert.ok(existsSync(path.join(path.dirname(realpathSync(requireTool('k8s-validate'))), 'swagger.json')), 'swagger.json next to k8s-validate');
  });
});
