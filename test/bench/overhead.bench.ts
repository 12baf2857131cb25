// Overhead benchmark (not a test): the order → inventory, pricing path in three modes, under the
// same k6 load, slow path off:
//
//   bare          the services without the telemetry entry (no --import): no OpenTelemetry at all
//   sdk-disabled  --import of the telemetry entry with OTEL_SDK_DISABLED=true
//   instrumented  as the stack runs them, exporting to the native Collector (with Tempo)
//   spans-off     instrumented, with OTEL_TRACES_SAMPLER=always_off: the http instrumentation,
//                 context propagation and the metrics run (without exemplars: no span is sampled),
//                 but no span is recorded or exported; what the instrumentation costs besides spans
//
// The trios run side by side on their own ports, and the load goes to each in turn, round
// after round, so that whatever else the machine does hits every mode alike. For each mode: CPU time
// per order request of each service (from /proc; the median over the rounds), resident memory and
// the V8 heap in use (a diagnostic report taken on SIGUSR2) at the end. The ratio bare/instrumented
// of CPU per request is the figure the project targets (>= 0.85).
//
//   npm run bench:overhead          (BENCH_RATE=300 BENCH_WINDOW_SECONDS=15 BENCH_ROUNDS=4)
//   BENCH_NODE_OPTIONS=--max-semi-space-size=8 npm run bench:overhead
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startLoad } from '../../loadgen/run.ts';
import { eventually } from '../../native/eventually.ts';
import { components, stateDir } from '../../native/stack-components.ts';
import { killComponent, stackDown, stackUp } from '../../native/stack.ts';
import { repoRoot } from '../../native/tools.ts';
import { cpuSeconds, heapUsedMiB, peakRssMiB, reportNodeOptions, rssMiB } from './proc.ts';

const rate = Number(process.env.BENCH_RATE ?? 300);
const windowSeconds = Number(process.env.BENCH_WINDOW_SECONDS ?? 15);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const extraNodeOptions = process.env.BENCH_NODE_OPTIONS ?? '';
const SERVICES = ['order', 'inventory', 'pricing'] as const;
const MODES = ['bare', 'sdk-disabled', 'instrumented', 'spans-off'] as const;
type Mode = (typeof MODES)[number];
const reportDir = join(stateDir, 'bench', 'reports');
/** Each mode's trio on ports base+0 (order), +1 (inventory), +2 (pricing). */
const BASE_PORT: Record<Mode, number> = { bare: 18080, 'sdk-disabled': 28080, instrumented: 38080, 'spans-off': 48080 };
/** What each mode adds to the stack's own service environment. */
const MODE_ENV: Record<Mode, Record<string, string>> = {
  bare: {},
  'sdk-disabled': { OTEL_SDK_DISABLED: 'true' },
  instrumented: {},
  'spans-off': { OTEL_TRACES_SAMPLER: 'always_off' },
};

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
    const args = mode === 'bare' ? component.args.filter((arg, i, all) => arg !== '--import' && all[i - 1] !== '--import') : component.args;
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
  `overhead benchmark: ${rate} req/s to order, ${rounds} rounds of ${windowSeconds} s per mode after a warm-up round, slow path off (medians)${extraNodeOptions ? `, node ${extraNodeOptions}` : ''}`,
);
await stackUp({ fresh: true, log: () => undefined });
for (const name of SERVICES) await killComponent(name, 'SIGTERM'); // the trios below replace them
const trios: Trio[] = [];
try {
  for (const mode of MODES) trios.push(await startTrio(mode));
  const samples = new Map(MODES.map((mode) => [mode, SERVICES.map(() => [] as number[])]));
  const dropped = new Map(MODES.map((mode) => [mode, 0]));
  for (let round = 0; round <= rounds; round++) {
    for (const trio of trios) {
      const before = SERVICES.map((s) => cpuSeconds(trio.pids[s]!));
      const run = await load(trio.orderUrl);
      if (round === 0) continue; // warm-up: JIT, pools, caches
      dropped.set(trio.mode, dropped.get(trio.mode)! + run.dropped);
      SERVICES.forEach((s, i) => {
        samples.get(trio.mode)![i]!.push(((cpuSeconds(trio.pids[s]!) - before[i]!) * 1e6) / run.requests);
      });
    }
  }
  const totals: Partial<Record<Mode, number>> = {};
  for (const trio of trios) {
    const perService = samples.get(trio.mode)!.map(median);
    totals[trio.mode] = perService.reduce((a, b) => a + b, 0);
    const memory: string[] = [];
    for (const s of SERVICES)
      memory.push(
        `${s} ${rssMiB(trio.pids[s]!).toFixed(0)} (peak ${peakRssMiB(trio.pids[s]!).toFixed(0)}, heap ${(await heapUsedMiB(trio.pids[s]!, reportDir)).toFixed(0)})`,
      );
    console.log(
      `${trio.mode.padEnd(13)} CPU per order request ${totals[trio.mode]!.toFixed(0).padStart(5)} µs (${SERVICES.map((s, i) => `${s} ${perService[i]!.toFixed(0)}`).join(', ')})  RSS MiB ${memory.join(', ')}  k6 dropped ${dropped.get(trio.mode)}`,
    );
  }
  console.log(
    `\ninstrumented against bare ${(totals.bare! / totals.instrumented!).toFixed(2)} (target >= 0.85), against SDK-disabled ${(totals['sdk-disabled']! / totals.instrumented!).toFixed(2)}`,
  );
  console.log(`spans off against bare ${(totals.bare! / totals['spans-off']!).toFixed(2)}: the instrumentation without recording or exporting a single span`);
} finally {
  for (const child of trios.flatMap((trio) => trio.children)) child.kill('SIGTERM');
  await sleep(1000);
  await stackDown({ log: () => undefined });
}
