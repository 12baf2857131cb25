// Load benchmark (not a test): the highest request rate the full native stack sustains on this
// machine with zero spans refused or dropped by the Collector and zero failed remote writes, and
// the stack's total resident memory under that load. k6 drives order at increasing constant
// arrival rates; the figures come from k6's summary, the Collector's own metrics, Prometheus's
// own metrics and /proc.
//
//   npm run bench:load                    (BENCH_RATES=100,200,300,500,700,850,1000 BENCH_STEP_SECONDS=30)
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { componentPids, stackDown, stackUp, tempoAvailable, urls } from '../../native/stack.ts';
import { rssMiB } from './proc.ts';
import { repoRoot } from '../../native/tools.ts';
import { telemetryCounters } from '../../native/stack-apis.ts';
import { startLoad } from '../../loadgen/run.ts';

const rates = (process.env.BENCH_RATES ?? '100,200,300,500,700,850,1000').split(',').map(Number);
const stepSeconds = Number(process.env.BENCH_STEP_SECONDS ?? 30);
const outDir = join(repoRoot, '.stack', 'bench');

/** Counters whose increase during a step means telemetry was lost. */
async function lossCounters(): Promise<Record<string, number>> {
  const backends = { collector: urls.collectorMetrics, prometheus: urls.prometheus, tempo: tempoAvailable() ? urls.tempo : undefined };
  return (await telemetryCounters(backends)).losses;
}

/** VmRSS of each process the stack started, in MiB. */
function stackRssMiB(): Record<string, number> {
  return Object.fromEntries(Object.entries(componentPids()).map(([name, pid]) => [name, rssMiB(pid)]));
}

const total = (rss: Record<string, number>) => Object.values(rss).reduce((sum, value) => sum + value, 0);

async function runStep(rate: number) {
  const summaryFile = join(outDir, `k6-${rate}.json`);
  const load = await startLoad({
    scenario: 'steady',
    orderUrl: urls.order,
    env: { RATE: String(rate), DURATION: `${stepSeconds}s` },
    k6Args: ['--quiet', '--summary-export', summaryFile],
    remoteWrite: 'off',
    stdio: 'ignore',
  });
  let peakRss: Record<string, number> = {};
  const sampler = setInterval(() => {
    const now = stackRssMiB();
    if (total(now) > total(peakRss)) peakRss = now;
  }, 1000);
  await load.exited;
  clearInterval(sampler);
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as {
    metrics: { http_reqs: { rate: number; count: number }; http_req_failed?: { value?: number; rate?: number }; dropped_iterations?: { count: number } };
  };
  return {
    // Over the constant-arrival-rate phase only: k6's own rate also counts its setup and teardown.
    achieved: summary.metrics.http_reqs.count / stepSeconds,
    failedShare: summary.metrics.http_req_failed?.value ?? summary.metrics.http_req_failed?.rate ?? 0,
    droppedIterations: summary.metrics.dropped_iterations?.count ?? 0,
    peakRss,
  };
}

mkdirSync(outDir, { recursive: true });
console.log(`native stack load benchmark: rates ${rates.join(', ')} req/s, ${stepSeconds} s each${tempoAvailable() ? '' : ' (no native Tempo: span export failures are not counted)'}`);
await stackUp({ fresh: true, log: () => undefined });
let best: { rate: number; achieved: number; peakRss: Record<string, number> } | undefined;
try {
  console.log('target  achieved  failed  k6-dropped  lost telemetry                          stack RSS');
  for (const rate of rates) {
    const before = await lossCounters();
    const step = await runStep(rate);
    await new Promise((resolve) => setTimeout(resolve, 10_000)); // let batches and retries settle
    const after = await lossCounters();
    const lost = Object.entries(after)
      .map(([name, value]) => [name, value - (before[name] ?? 0)] as const)
      .filter(([, delta]) => delta > 0);
    const sustained = step.achieved >= rate * 0.95 && step.droppedIterations === 0 && lost.length === 0;
    console.log(
      `${String(rate).padStart(6)}  ${step.achieved.toFixed(1).padStart(8)}  ${(step.failedShare * 100).toFixed(2).padStart(5)}%  ${String(step.droppedIterations).padStart(10)}  ${(lost.map(([n, d]) => `${n}+${d}`).join(' ') || 'none').padEnd(40)}${total(step.peakRss).toFixed(0).padStart(6)} MiB`,
    );
    if (!sustained) break;
    best = { rate, achieved: step.achieved, peakRss: step.peakRss };
  }
} finally {
  await stackDown({ log: () => undefined });
}
console.log(
  best
    ? `highest sustained rate: ${best.rate} req/s (achieved ${best.achieved.toFixed(1)}), stack resident memory at that load: ${total(best.peakRss).toFixed(0)} MiB (${Object.entries(best.peakRss).map(([name, mib]) => `${name} ${mib.toFixed(0)}`).join(', ')}) (target 500 req/s)`
    : 'no rate was sustained without loss',
);
