// `npm run chart:examples`: renders every example of charts/spike-to-trace/examples/<name>/values.yaml
// into its rendered/ folder, one file per template, as the OpenTelemetry Helm charts commit theirs. Run
// it after changing the chart or a file the chart mounts, and review the diff: test/k8s-chart.test.ts
// fails while a committed rendering differs from what the chart renders.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exampleNames, exampleRenderedDir, renderExample } from './chart.ts';
import { repoRoot } from './tools.ts';

for (const name of exampleNames()) {
  const dir = exampleRenderedDir(name);
  const files = await renderExample(name);
  mkdirSync(dir, { recursive: true });
  for (const stale of readdirSync(dir)) {
    if (!files.has(stale)) rmSync(path.join(dir, stale));
  }
  for (const [file, text] of files) writeFileSync(path.join(dir, file), text);
  console.log(`${path.relative(repoRoot, dir)}: ${[...files.keys()].join(', ')}`);
}
