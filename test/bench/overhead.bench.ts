// Overhead benchmark (not a test): the order → inventory, pricing path in three modes, under the
// same k6 load, slow path off:
//
//   bare          the services without the telemetry entry (no --import): no OpenTelemetry at all
//   sdk-disabled  --import of the telemetry entry with OTEL_SDK_DISABLED=true
//   instrumented  as the stack runs them, exporting to the native Collector (with Tempo)
//   spans-off     instrumented, with OTEL_TRACES_SAMPLER=always_off: the http instrumentation,
//                 context propagation and the metrics run (without exemplars: no span is sampled),
//                 but no span is recorded or exported; what the instrumentation costs besides spans
//   zero-code     what most tutorials and the OpenTelemetry demo do instead: the services started
//                 with --import @opentelemetry/auto-instrumentations-node/register (a dev dependency,
//                 never in the services' image), OTLP/gRPC to the same Collector, its defaults
//
// The trios run side by side on their own ports, and the load goes to each in turn, round
// after round, so that whatever else the machine does hits every mode alike. For each mode: CPU time
// per order request of each service (from /proc; the median over the rounds), resident memory and
// the V8 heap in use (a diagnostic report taken on SIGUSR2) at the end. The ratio bare/instrumented
// of CPU per request is the figure the project targets (>= 0.85); against zero-code, ours should be
// at least 1.3x cheaper and 25 MiB smaller per service.
//
// The whole pipeline's cost, as one ratio that carries across machines: the CPU of the instrumented
// services, the Collector, Tempo and Prometheus per order request (the backends measured over the
// instrumented windows and the 10 s after each, while its last exports arrive), divided by the bare
// services' CPU per order request, per profile (BENCH_PROFILES: default and sampling).
//
//   npm run bench:overhead          (BENCH_RATE=300 BENCH_WINDOW_SECONDS=15 BENCH_ROUNDS=4)
//   BENCH_PROFILES=default,sampling npm run bench:overhead
//   BENCH_NODE_OPTIONS=--max-semi-space-size=8 npm run bench:overhead
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startLoad } from '../../loadgen/run.ts';
import { eventually } from '../../native/eventually.ts';
import { components, stateDir } from '../../native/stack-components.ts';
import { componentPids, killComponent, stackDown, stackUp } from '../../native/stack.ts';
import { repoRoot } from '../../native/tools.ts';
import { cpuSeconds, heapUsedMiB, peakRssMiB, reportNodeOptions, rssMiB } from './proc.ts';

const rate = Number(process.env.BENCH_RATE ?? 300);
const windowSeconds = Number(process.env.BENCH_WINDOW_SECONDS ?? 15);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const extraNodeOptions = process.env.BENCH_NODE_OPTIONS ?? '';
const SERVICES = ['order', 'inventory', 'pricing'] as const;
const MODES = ['bare', 'sdk-disabled', 'instrumented', 'spans-off', 'zero-code'] as const;
type Mode = (typeof MODES)[number];
const reportDir = join(stateDir, 'bench', 'reports');
/** Each mode's trio on ports base+0 (order), +1 (inventory), +2 (pricing). */
const BASE_PORT: Record<Mode, number> = { bare: 18080, 'sdk-disabled': 28080, instrumented: 38080, 'spans-off': 48080, 'zero-code': 58080 };
/** What each mode adds to the stack's own service environment. */
const MODE_ENV: Record<Mode, Record<string, string>> = {
  bare: {},
  'sdk-disabled': { OTEL_SDK_DISABLED: 'true' },
  instrumented: {},
  'spans-off': { OTEL_TRACES_SAMPLER: 'always_off' },
  // auto-instrumentations-node reads the standard variables; OTLP/gRPC as the stack's services use.
  'zero-code': { OTEL_TRACES_EXPORTER: 'otlp', OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_LOGS_EXPORTER: 'none' },
};
const PROFILES: Record<string, { sampling?: boolean }> = { default: {}, sampling: { sampling: true } };
const profiles = (process.env.BENCH_PROFILES ?? 'default').split(',');
for (const profile of profiles)
  if (!(profile in PROFILES)) throw new Error(`BENCH_PROFILES: unknown profile ${profile}; use ${Object.keys(PROFILES).join(', ')}`);
/** After each instrumented window: the services' last exports (5 s batches) reach the backends. */
const SETTLE_MS = 10_000;
const BACKENDS = ['otel-collector', 'tempo', 'prometheus'];

interface Trio {
  mode: Mode;
  orderUrl: string;
  pids: Record<string, number>;
  children: ChildProcess[];
}

/** Starts one mode's three services, callees first, as the native stack would start them. */
async function startTrio(mode: Mode): Promise<Trio> {
  const base = BASE_PORT[mode];
  const port: Record<string, number> = { order: base, inventory: base + 1, pricing: base + 2 };
  const trio: Trio = { mode, orderUrl: `http://127.0.0.1:${base}`, pids: {}, children: [] };
  for (const component of components({ serviceEnv: { SLOW_PATH_RATE: '0' } }).filter((c) => c.name in port)) {
    const withoutImport = component.args.filter((arg, i, all) => arg !== '--import' && all[i - 1] !== '--import');
    const main = withoutImport.at(-1)!;
    const zeroCode = [...withoutImport.slice(0, -1), '--import', '@opentelemetry/auto-instrumentations-node/register', main];
    const args = mode === 'bare' ? withoutImport : mode === 'zero-code' ? zeroCode : component.args;
    const child = spawn(component.command, args, {
      cwd: repoRoot,
      env: {
        ...process.env,
        ...component.env,
        PORT: String(port[component.name]),
        INVENTORY_URL: `http://127.0.0.1:${port.inventory}`,
        PRICING_URL: `http://127.0.0.1:${port.pricing}`,
        OTEL_SERVICE_NAME: component.name,
        ...MODE_ENV[mode],
        NODE_OPTIONS: `${reportNodeOptions(reportDir)} ${extraNodeOptions}`,
      },
      stdio: 'ignore',
    });
    trio.children.push(child);
    trio.pids[component.name] = child.pid!;
    await eventually(async () => (await fetch(`http://127.0.0.1:${port[component.name]}/healthz`)).ok, `${component.name} (${mode})`, 20_000, 200);
  }
  return trio;
}

/** k6 at the benchmark rate against one trio's order; resolves with what k6 sent and dropped. */
async function load(orderUrl: string): Promise<{ requests: number; dropped: number }> {
  const summaryFile = join(stateDir, 'bench', 'overhead-k6.json');
  const run = await startLoad({
    scenario: 'steady',
    orderUrl,
    // k6's own spans off: the Collector of the stack is up, and they are no part of the services' cost.
    env: { RATE: String(rate), DURATION: `${windowSeconds}s`, OTEL_SDK_DISABLED: 'true' },
    k6Args: ['--quiet', '--summary-export', summaryFile],
    remoteWrite: 'off',
    stdio: 'ignore',
  });
  await run.exited;
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as { metrics: { iterations: { count: number }; dropped_iterations?: { count: number } } };
  return { requests: summary.metrics.iterations.count, dropped: summary.metrics.dropped_iterations?.count ?? 0 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

rmSync(reportDir, { recursive: true, force: true });
mkdirSync(reportDir, { recursive: true });
console.log(
  `overhead benchmark: ${rate} req/s to order, ${rounds} rounds of ${windowSeconds} s per mode after a warm-up round, slow path off (medians), profiles ${profiles.join(', ')}${extraNodeOptions ? `, node ${extraNodeOptions}` : ''}`,
);
for (const profile of profiles) await measureProfile(profile);

/** One profile: the stack up with it, every mode's trio, the rounds, and the figures. */
async function measureProfile(profile: string): Promise<void> {
  console.log(`\n== profile ${profile}`);
  await stackUp({ fresh: true, ...PROFILES[profile], log: () => undefined });
  for (const name of SERVICES) await killComponent(name, 'SIGTERM'); // the trios below replace them
  const backendPids = Object.fromEntries(Object.entries(componentPids()).filter(([name]) => BACKENDS.includes(name)));
  const trios: Trio[] = [];
  try {
    for (const mode of MODES) trios.push(await startTrio(mode));
    const samples = new Map(MODES.map((mode) => [mode, SERVICES.map(() => [] as number[])]));
    const backendSamples: number[] = [];
    const dropped = new Map(MODES.map((mode) => [mode, 0]));
    for (let round = 0; round <= rounds; round++) {
      for (const trio of trios) {
        const before = SERVICES.map((s) => cpuSeconds(trio.pids[s]!));
        const backendsBefore = sumCpu(backendPids);
        const run = await load(trio.orderUrl);
        if (trio.mode === 'instrumented') await sleep(SETTLE_MS);
        if (round === 0) continue; // warm-up: JIT, pools, caches
        dropped.set(trio.mode, dropped.get(trio.mode)! + run.dropped);
        SERVICES.forEach((s, i) => {
          samples.get(trio.mode)![i]!.push(((cpuSeconds(trio.pids[s]!) - before[i]!) * 1e6) / run.requests);
        });
        if (trio.mode === 'instrumented') backendSamples.push(((sumCpu(backendPids) - backendsBefore) * 1e6) / run.requests);
      }
    }
    const totals: Partial<Record<Mode, number>> = {};
    const rss: Partial<Record<Mode, number[]>> = {};
    for (const trio of trios) {
      const perService = samples.get(trio.mode)!.map(median);
      totals[trio.mode] = perService.reduce((a, b) => a + b, 0);
      rss[trio.mode] = SERVICES.map((s) => rssMiB(trio.pids[s]!));
      const memory: string[] = [];
      for (const [i, s] of SERVICES.entries())
        memory.push(
          `${s} ${rss[trio.mode]![i]!.toFixed(0)} (peak ${peakRssMiB(trio.pids[s]!).toFixed(0)}, heap ${(await heapUsedMiB(trio.pids[s]!, reportDir)).toFixed(0)})`,
        );
      console.log(
        `${trio.mode.padEnd(13)} CPU per order request ${totals[trio.mode]!.toFixed(0).padStart(5)} µs (${SERVICES.map((s, i) => `${s} ${perService[i]!.toFixed(0)}`).join(', ')})  RSS MiB ${memory.join(', ')}  k6 dropped ${dropped.get(trio.mode)}`,
      );
    }
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    console.log(
      `\ninstrumented against bare ${ratio(totals.bare!, totals.instrumented!)} (target >= 0.85), against SDK-disabled ${ratio(totals['sdk-disabled']!, totals.instrumented!)}`,
    );
    console.log(`spans off against bare ${ratio(totals.bare!, totals['spans-off']!)}: the instrumentation without recording or exporting a single span`);
    const smaller = SERVICES.map((s, i) => `${s} ${(rss['zero-code']![i]! - rss.instrumented![i]!).toFixed(0)}`).join(', ');
    console.log(
      `ours against zero-code: ${ratio(totals['zero-code']!, totals.instrumented!)}x cheaper in CPU (target >= 1.3), smaller by MiB ${smaller} (target >= 25 each); zero-code against bare ${ratio(totals.bare!, totals['zero-code']!)}`,
    );
    const backends = median(backendSamples);
    console.log(
      `the whole pipeline (${profile}): services ${totals.instrumented!.toFixed(0)} + Collector, Tempo and Prometheus ${backends.toFixed(0)} µs per order request = ${ratio(totals.instrumented! + backends, totals.bare!)}x the bare services' CPU`,
    );
  } finally {
    for (const child of trios.flatMap((trio) => trio.children)) child.kill('SIGTERM');
    await sleep(1000);
    await stackDown({ log: () => undefined });
  }
}

function sumCpu(pids: Record<string, number>): number {
  return Object.values(pids).reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}
