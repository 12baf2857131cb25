// Rung 3 of the chart's ladder (docs/KUBERNETES.md): every object helm renders, for every example,
// checked offline against the OpenAPI schema of the pinned Kubernetes release (api/openapi-spec of the
// k8s.io/kubernetes module, next to native/k8s/k8s-validate): types, unknown fields, required fields,
// kinds the release has and serves by default. No network, no cluster; what the API server checks
// beyond the schema (selectors, immutable fields, admission) is the next rung's.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exampleNames, exampleValues, helmTemplate, parseObjects } from '../native/chart.ts';
import { describeRun, requireTool, run } from '../native/tools.ts';

const validate = (manifests: string) => run(requireTool('k8s-validate'), [], { input: manifests });

/** Objects the validator must refuse, each for one reason, with the reason it must give. */
const BROKEN: { what: string; manifest: string; reason: RegExp }[] = [
  {
    what: 'a field of the wrong type',
    manifest: 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replicas: "two", selector: {}, template: {spec: {containers: []}}}',
    reason: /invalid type for io\.k8s\.api\.apps\.v1\.DeploymentSpec\.replicas/,
  },
  {
    what: 'an unknown field',
    manifest: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndatta: {}',
    reason: /unknown field "datta"/,
  },
  {
    what: 'a missing required field',
    manifest: 'apiVersion: v1\nkind: Service\nmetadata: {name: c}\nspec: {ports: [{name: http}]}',
    reason: /missing required field "port"/,
  },
  {
    what: 'an alpha API, not served by default',
    manifest: 'apiVersion: resource.k8s.io/v1alpha3\nkind: DeviceTaintRule\nmetadata: {name: d}',
    reason: /prerelease version/,
  },
  {
    what: 'a kind the release does not have',
    manifest: 'apiVersion: v1\nkind: Widget\nmetadata: {name: e}',
    reason: /the schema has no such kind/,
  },
];

describe('Schema: rendered objects against the Kubernetes OpenAPI schema, offline (types and fields only)', () => {
  for (const example of exampleNames()) {
    test(`every object of examples/${example} is valid against the pinned release's schema`, async () => {
      const manifests = await helmTemplate([exampleValues(example)]);
      const count = parseObjects(manifests).length;
      const result = await validate(manifests);
      assert.equal(result.code, 0, describeRun(`k8s-validate (examples/${example})`, result));
      assert.match(result.stdout, new RegExp(`^${count} objects, 0 invalid$`, 'm'), 'every rendered object was checked');
    });
  }

  for (const { what, manifest, reason } of BROKEN) {
    test(`k8s-validate refuses ${what}`, async () => {
      const result = await validate(manifest);
      assert.equal(result.code, 1, describeRun('k8s-validate', result));
      assert.match(result.stdout, reason);
      assert.match(result.stdout, /^1 objects, 1 invalid$/m);
    });
  }

  test('k8s-validate refuses an empty input instead of passing it', async () => {
    const result = await validate('');
    assert.equal(result.code, 1, describeRun('k8s-validate < empty', result));
    assert.match(result.stdout, /^0 objects, 0 invalid$/m);
  });
});
