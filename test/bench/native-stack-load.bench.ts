// Load benchmark (not a test): the full native stack with Tempo under k6 at increasing constant
// arrival rates, k6 on the same machine, slow path at its default. For each rate: what k6 achieved,
// failed and dropped; telemetry lost anywhere (refused, failed or discarded spans, metric points,
// exemplars); CPU time per order request of every component (services, Collector, Tempo, Prometheus
// and k6 itself, from /proc), and each one's peak resident memory, with the services' V8 heap.
// The highest rate sustained without loss (every lower rate held too) is reported with the stack's memory
// at that rate; the rates past it still run, to show how the stack takes overload.
// Optionally a soak at one rate prints every component's peak resident memory minute by minute
// (Tempo compacts its first blocks after some minutes, which a 30 s step never shows) and checks
// the services for growth (a leak check: the peak of minute 5 within 10 % of minute 2, and their V8
// heap at the end against the step's).
//
//   npm run bench:load                        (BENCH_RATES=300,500,700 BENCH_STEP_SECONDS=30)
//   BENCH_SOAK_MINUTES=5 BENCH_SOAK_RATE=300 npm run bench:load
//   BENCH_K6_SPANS=off npm run bench:load     (k6 sends no spans of its own: their cost, by difference)
//   BENCH_PROFILES=sampling,scale-out npm run bench:load
//                                             (one stack per profile, one after the other, in one run:
//                                             default, sampling, scale-out = agent + 2 gateways; the
//                                             soak runs on the last)
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { recordCapacity } from '../../loadgen/capacity.ts';
import { startLoad } from '../../loadgen/run.ts';
import { scrape } from '../../native/stack-apis.ts';
import { gatewayPorts } from '../../native/stack-ports.ts';
import { TELEMETRY_COUNTERS, telemetryCounters } from '../../native/telemetry-counters.ts';
import { stateDir } from '../../native/stack-components.ts';
import { componentPids, stackDown, stackUp, urls } from '../../native/stack.ts';
import { tempoSkipReason } from '../../native/tools.ts';
import { cpuSeconds, heapUsedMiB, reportNodeOptions, rssMiB } from './proc.ts';

const rates = (process.env.BENCH_RATES ?? '300,500,700').split(',').map(Number);
const stepSeconds = Number(process.env.BENCH_STEP_SECONDS ?? 30);
const soakMinutes = Number(process.env.BENCH_SOAK_MINUTES ?? 0);
const soakRate = Number(process.env.BENCH_SOAK_RATE ?? 300);
/** k6's own client spans (the roots of its traces) go to the Collector unless BENCH_K6_SPANS=off. */
const k6Spans = process.env.BENCH_K6_SPANS !== 'off';
const k6Env: Record<string, string> = k6Spans ? {} : { OTEL_SDK_DISABLED: 'true' };
const outDir = join(stateDir, 'bench');
const reportDir = join(outDir, 'reports');
const SERVICES = ['order', 'inventory', 'pricing'];
const PROFILES: Record<string, { sampling?: boolean; gateways?: number }> = { default: {}, sampling: { sampling: true }, 'scale-out': { gateways: 2 } };
type Profile = keyof typeof PROFILES;
const profiles = (process.env.BENCH_PROFILES ?? 'default').split(',') as Profile[];
for (const profile of profiles)
  if (!(profile in PROFILES)) throw new Error(`BENCH_PROFILES: unknown profile ${profile}; use ${Object.keys(PROFILES).join(', ')}`);
const skip = tempoSkipReason();
if (skip) throw new Error(`the load benchmark needs Tempo: ${skip}`);

/**
 * The loss counters now, of the Collector (the agent in the scale-out profile) and each gateway.
 * After traffic, a counter the scrape should have but lacks makes "none lost" unprovable, so it
 * stops the bench (before the first traffic a fresh stack has published none of them).
 */
const losses = async (gateways: number, afterTraffic: boolean) => {
  const counts = await telemetryCounters({ collector: urls.collectorMetrics, prometheus: urls.prometheus, tempo: urls.tempo });
  if (afterTraffic && counts.absent.length > 0) throw new Error(`loss counters missing from the scrape: ${counts.absent.join(', ')}`);
  const all = { ...counts.losses };
  for (let i = 1; i <= gateways; i++) {
    const page = await scrape(`http://127.0.0.1:${gatewayPorts(i).metrics}/metrics`);
    for (const counter of TELEMETRY_COUNTERS.filter((c) => c.page === 'collector' && c.role === 'loss'))
      all[`gateway ${i}: ${counter.label}`] = page.get(counter.metric) ?? 0;
  }
  return all;
};
const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);
const mib = (values: Record<string, number>) =>
  Object.entries(values)
    .map(([name, value]) => `${name} ${value.toFixed(0)}`)
    .join(', ');

/** Each process's resident memory now, MiB. */
const rssOf = (pids: Record<string, number>) => Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, rssMiB(pid)]));

/** Each service's V8 heap in use now, MiB (from a diagnostic report). */
async function heapOfServices(pids: Record<string, number>) {
  const heap: Record<string, number> = {};
  for (const name of SERVICES) heap[name] = await heapUsedMiB(pids[name]!, reportDir);
  return heap;
}

/** Samples `read` every second and keeps each value's peak; `take()` hands them over and starts afresh. */
function peakSampler(read: () => Record<string, number>) {
  let peaks: Record<string, number> = {};
  const timer = setInterval(() => {
    for (const [name, value] of Object.entries(read())) peaks[name] = Math.max(peaks[name] ?? 0, value);
  }, 1000);
  return {
    take: () => {
      const taken = peaks;
      peaks = {};
      return taken;
    },
    stop: () => clearInterval(timer),
  };
}

async function runStep(rate: number) {
  const summaryFile = join(outDir, `k6-${rate}.json`);
  const pids = componentPids();
  const cpuBefore = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const load = await startLoad({
    scenario: 'steady',
    orderUrl: urls.order,
    env: { RATE: String(rate), DURATION: `${stepSeconds}s`, ...k6Env },
    k6Args: ['--quiet', '--summary-export', summaryFile],
    remoteWrite: 'off',
    stdio: 'ignore',
  });
  const sampler = peakSampler(() => rssOf({ ...pids, k6: load.child.pid! }));
  let k6Cpu = 0;
  const k6Sampler = setInterval(() => (k6Cpu = Math.max(k6Cpu, cpuSeconds(load.child.pid!))), 500);
  await load.exited;
  sampler.stop();
  const peakRss = sampler.take();
  clearInterval(k6Sampler);
  const heap = await heapOfServices(pids);
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as {
    metrics: {
      iterations: { count: number };
      http_req_failed?: { value?: number; rate?: number };
      dropped_iterations?: { count: number };
      order_refused?: { value?: number };
      order_failed_slowly?: { value?: number };
      order_duration_normal?: { 'p(99)'?: number };
    };
  };
  // One order per iteration; http_reqs also counts the health probe and k6's span exports.
  const requests = summary.metrics.iterations.count;
  const cpuUs = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, ((cpuSeconds(pid) - cpuBefore[name]!) * 1e6) / requests]));
  cpuUs.k6 = (k6Cpu * 1e6) / requests;
  return {
    // Over the constant-arrival-rate phase only: k6's own rate also counts its setup and teardown.
    achieved: requests / stepSeconds,
    failedShare: summary.metrics.http_req_failed?.value ?? summary.metrics.http_req_failed?.rate ?? 0,
    droppedIterations: summary.metrics.dropped_iterations?.count ?? 0,
    // Past the machine's capacity: refused at once (503), or failed slowly (gateway errors, timeouts).
    refusedShare: summary.metrics.order_refused?.value ?? 0,
    failedSlowlyShare: summary.metrics.order_failed_slowly?.value ?? 0,
    answeredP99Ms: summary.metrics.order_duration_normal?.['p(99)'] ?? Number.NaN,
    cpuUs,
    peakRss,
    heap,
  };
}

rmSync(reportDir, { recursive: true, force: true });
mkdirSync(reportDir, { recursive: true });
console.log(
  `native stack load benchmark: profiles ${profiles.join(', ')}; rates ${rates.join(', ')} req/s, ${stepSeconds} s each, with Tempo, k6 on the same machine, k6's own spans ${k6Spans ? 'on' : 'off'}`,
);
for (const [index, profile] of profiles.entries()) {
  const gateways = PROFILES[profile]!.gateways ?? 0;
  console.log(`\n== profile ${profile}`);
  await stackUp({ fresh: true, ...PROFILES[profile], serviceEnv: { NODE_OPTIONS: reportNodeOptions(reportDir) }, log: () => undefined });
  let best: { rate: number; achieved: number; peakRss: Record<string, number> } | undefined;
  let overloaded = false;
  try {
    for (const rate of rates) {
      const before = await losses(gateways, false);
      const step = await runStep(rate);
      await sleep(10_000); // let batches and retries settle
      const after = await losses(gateways, true);
      const lost = Object.entries(after)
        .map(([name, value]) => [name, value - (before[name] ?? 0)] as const)
        .filter(([, delta]) => delta > 0);
      const stackRss = sum(
        Object.entries(step.peakRss)
          .filter(([name]) => name !== 'k6')
          .map(([, value]) => value),
      );
      console.log(
        `\n${rate} req/s: achieved ${step.achieved.toFixed(1)}, failed ${(step.failedShare * 100).toFixed(2)} % (refused with 503 ${(step.refusedShare * 100).toFixed(2)} %, failed slowly ${(step.failedSlowlyShare * 100).toFixed(2)} %), p99 of the normal orders answered ${step.answeredP99Ms.toFixed(0)} ms, k6 dropped ${step.droppedIterations}, lost telemetry: ${lost.map(([n, d]) => `${n} +${d}`).join(', ') || 'none'}` +
          `\n  CPU per order request, µs: ${mib(step.cpuUs)} (total ${sum(Object.values(step.cpuUs)).toFixed(0)}${collectorTiers(step.cpuUs, 'µs')})` +
          `\n  peak RSS, MiB: ${mib(step.peakRss)} (stack without k6 ${stackRss.toFixed(0)}${collectorTiers(step.peakRss, 'MiB')})` +
          `\n  V8 heap in use after the step, MiB: ${mib(step.heap)}`,
      );
      // Past the first rate not held, the steps still run: they show how the stack takes overload.
      const held = step.achieved >= rate * 0.95 && step.droppedIterations === 0 && step.failedShare <= 0.021 && lost.length === 0;
      if (!held) overloaded = true;
      if (!overloaded) best = { rate, achieved: step.achieved, peakRss: step.peakRss };
    }
    if (soakMinutes > 0 && index === profiles.length - 1) await soak();
  } finally {
    await stackDown({ log: () => undefined });
  }
  if (best) recordCapacity({ rate: best.rate, profile, at: new Date().toISOString() });
  console.log(
    best
      ? `\n${profile}: highest sustained rate ${best.rate} req/s (achieved ${best.achieved.toFixed(1)}), stack resident memory at that load: ${sum(
          Object.entries(best.peakRss)
            .filter(([n]) => n !== 'k6')
            .map(([, v]) => v),
        ).toFixed(0)} MiB`
      : `\n${profile}: no rate was sustained without loss`,
  );
}

/** The Collector tiers summed, when there are gateways: "; Collector tiers: agent 150, gateways 300". */
function collectorTiers(values: Record<string, number>, unit: string): string {
  const gateways = Object.entries(values).filter(([name]) => name.startsWith('otel-gateway-'));
  if (gateways.length === 0) return '';
  return `; Collector tiers, ${unit}: agent ${values['otel-collector']?.toFixed(0)}, ${gateways.length} gateways ${sum(gateways.map(([, v]) => v)).toFixed(0)}`;
}

/** A soak at BENCH_SOAK_RATE: every component's peak resident memory minute by minute, and a leak check. */
async function soak(): Promise<void> {
  console.log(`\nsoak: ${soakRate} req/s for ${soakMinutes} min`);
  const load = await startLoad({
    scenario: 'steady',
    orderUrl: urls.order,
    env: { RATE: String(soakRate), DURATION: `${soakMinutes}m`, ...k6Env },
    k6Args: ['--quiet'],
    remoteWrite: 'off',
    stdio: 'ignore',
  });
  // Every second, each component's resident memory and the stack's (without k6): their peaks over
  // each minute.
  const pids = componentPids();
  const sampler = peakSampler(() => {
    const rss = rssOf(pids);
    return { ...rss, stack: sum(Object.values(rss)) };
  });
  const peakAt: Record<number, Record<string, number>> = {};
  for (let minute = 1; minute <= soakMinutes; minute++) {
    await sleep(60_000);
    peakAt[minute] = sampler.take();
    const { stack, ...components } = peakAt[minute]!;
    console.log(`  minute ${minute}: peak RSS MiB ${mib(components)} (stack without k6 ${stack?.toFixed(0)})`);
  }
  sampler.stop();
  // RSS that grows while the live heap stays where the step left it is V8 or malloc keeping
  // memory it has freed, not a leak.
  console.log(`  V8 heap in use at the end, MiB: ${mib(await heapOfServices(pids))}`);
  await load.exited;
  if (soakMinutes >= 5) {
    const growth = SERVICES.map((name) => `${name} ${((100 * (peakAt[5]![name]! - peakAt[2]![name]!)) / peakAt[2]![name]!).toFixed(1)} %`);
    console.log(`  peak RSS from minute 2 to minute 5: ${growth.join(', ')} (a leak would show as steady growth; within 10 % required)`);
  }
  const stackPeaks = Object.values(peakAt).map((minute) => minute.stack ?? 0);
  console.log(`  the stack's peak over the soak, without k6: ${Math.max(...stackPeaks).toFixed(0)} MiB`);
}
