// The Helm chart (charts/spike-to-trace) rendered with the natively built helm, split the way its
// committed examples are (one file per template), and parsed into Kubernetes objects. Used by
// native/chart-examples.ts (`npm run chart:examples`, which writes the examples) and the chart's tests,
// which render again and compare.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describeRun, repoRoot, requireTool, run } from './tools.ts';

export const chartDir = path.join(repoRoot, 'charts', 'spike-to-trace');
export const examplesDir = path.join(chartDir, 'examples');
/** The release and namespace of the committed examples (the namespace is in the agent's resolver). */
export const EXAMPLE_RELEASE = 'spike-to-trace';
export const EXAMPLE_NAMESPACE = 'spike-to-trace';
export const REGENERATE_EXAMPLES = 'npm run chart:examples';

/** The examples: every folder of examples/ with a values.yaml. */
export function exampleNames(): string[] {
  return readdirSync(examplesDir)
    .filter((name) => statSync(path.join(examplesDir, name, 'values.yaml'), { throwIfNoEntry: false })?.isFile())
    .sort();
}

export const exampleValues = (name: string): string => path.join(examplesDir, name, 'values.yaml');
export const exampleRenderedDir = (name: string): string => path.join(examplesDir, name, 'rendered');

/** `helm template` of the chart with these values files; throws with helm's output when it fails. */
export async function helmTemplate(valuesFiles: string[], options: { release?: string; namespace?: string; set?: string[] } = {}): Promise<string> {
  const args = ['template', options.release ?? EXAMPLE_RELEASE, chartDir, '--namespace', options.namespace ?? EXAMPLE_NAMESPACE];
  for (const file of valuesFiles) args.push('--values', file);
  for (const value of options.set ?? []) args.push('--set', value);
  const result = await run(requireTool('helm'), args);
  if (result.code !== 0) throw new Error(describeRun(`helm ${args.join(' ')}`, result));
  return result.stdout;
}

/** An example rendered as committed: template file name (components.yaml, ...) -> its documents. */
export async function renderExample(name: string): Promise<Map<string, string>> {
  return splitBySource(await helmTemplate([exampleValues(name)]));
}

/**
 * helm template's output per template file, in the order helm wrote the documents. Each document
 * starts with `---` and a `# Source: <chart>/templates/<file>` line; documents of one file are kept
 * together, as `helm template --output-dir` writes them (which nests them in chart folders instead).
 */
export function splitBySource(rendered: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const document of rendered.split(/^(?=---\n# Source: )/m)) {
    const source = /^---\n# Source: [^/\n]+\/templates\/(\S+)\n/.exec(document)?.[1];
    if (!source) {
      if (document.trim()) throw new Error(`a rendered document without a # Source line: ${document.slice(0, 200)}`);
      continue;
    }
    files.set(source, (files.get(source) ?? '') + document);
  }
  return files;
}

/** A Kubernetes object as far as the tests read it; the rest is walked loosely. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests of many kinds, read field by field
  spec?: any;
  data?: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: as spec
  [key: string]: any;
}

/** Every non-empty document of a multi-document YAML stream; throws on a YAML error. */
export function parseObjects(yaml: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const document of parseAllDocuments(yaml)) {
    if (document.errors.length > 0) throw new Error(`rendered YAML does not parse: ${document.errors.map((e) => e.message).join('; ')}`);
    const value = document.toJS() as KubeObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

/** The one object of this kind and name; throws, naming what there is, when it is not there. */
export function findObject(objects: KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}
