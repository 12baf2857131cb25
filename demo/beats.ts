// The beats of the demo, in order, and the runner that plays them. Each beat is a title and a run
// function over one shared Demo (its config, its log and the state earlier beats left), so that
// runDemo() (demo/demo.ts) plays them all and a test (test/demo-rehearsal.test.ts) plays them one
// by one:
//
//   const demo = new Demo(config, log);
//   for (const beat of BEATS) await demo.step(beat);
//   await demo.cleanup();   // always: stops the load, turns the slow path OFF
import { createInterface, type Interface } from 'node:readline/promises';
import { checkStack, type HealthResult } from './checks.ts';
import type { DemoConfig } from './config.ts';
import { grafanaLinks } from './grafana-links.ts';
import { startBackgroundLoad, type LoadHandle } from './load.ts';
import { findSlowestExemplars, waitForCalmBaseline, waitForRecovery, waitForSpike, type Exemplar } from './metrics.ts';
import { bad, bold, cyan, dim, messageOf, ok, say, seconds, StepError, warn, type Log } from './output.ts';
import { setSlowPath, slowPathOffByHand } from './slow-path.ts';
import { verifySlowestTrace } from './traces.ts';

/** What the beats hand on to the later ones. */
export interface DemoState {
  health?: HealthResult[];
  /** When the bug was turned on (ms since the epoch). */
  bugOnAt?: number;
  /** The exemplars of the spike, slowest first. */
  exemplars?: Exemplar[];
  /** The trace the story follows (the slowest exemplar's, or on stage the one Tempo could show). */
  traceId?: string;
}

export interface Beat {
  title: string;
  /** Attended mode waits for Enter with this text before the beat. */
  cue?: (config: DemoConfig) => string;
  /** Plays the beat; resolves with the line printed under its ✔. */
  run: (demo: Demo) => Promise<string>;
}

/** Thrown by a beat that cannot run here and was allowed to be skipped (--allow-missing-tempo). */
export class SkippedBeat extends Error {}

function need<T>(value: T | undefined, beat: string): T {
  if (value === undefined) throw new StepError(`this beat needs the beat "${beat}" first`);
  return value;
}

const healthy = (demo: Demo, name: string) => demo.state.health?.find((result) => result.name === name)?.healthy ?? false;

export const BEATS: readonly Beat[] = [
  {
    title: 'Check the stack',
    run: async (demo) => {
      const results = await checkStack(demo.config, demo.log);
      demo.state.health = results;
      return `${results.filter((result) => result.healthy).length}/${results.length} healthy`;
    },
  },
  {
    title: 'Slow path off: a calm start',
    run: async (demo) => {
      demo.slowPathTouched = true;
      const settings = await setSlowPath(demo.config, 0);
      return `inventory slow path rate ${settings.rate} (delay ${settings.delayMs} ms)`;
    },
  },
  {
    title: 'Start steady load',
    run: async (demo) => {
      const load = await startBackgroundLoad(demo.config, demo.log);
      demo.load = load;
      void load.ended.then((why) => {
        if (!demo.stopping) demo.log(warn(`  !!! the load ended by itself: ${why}`));
      });
      return load.description;
    },
  },
  {
    title: 'Steady traffic, calm p99',
    run: async (demo) => {
      const baseline = await waitForCalmBaseline(demo.config, demo.log);
      return `${baseline.requestsPerSecond.toFixed(1)} req/s, inventory p99 ${seconds(baseline.inventoryP99)}`;
    },
  },
  {
    title: 'Turn the bug on',
    cue: (config) => `Turn the bug on (slow path ${Math.round(config.slowRate * 100)} %)`,
    run: async (demo) => {
      demo.state.bugOnAt = Date.now();
      const settings = await setSlowPath(demo.config, demo.config.slowRate);
      return `${Math.round(settings.rate * 100)} % of stock lookups now take the N+1 slow path (~${settings.delayMs} ms)`;
    },
  },
  {
    title: 'p99 spikes',
    run: async (demo) => `inventory p99 ${seconds(await waitForSpike(demo.config, demo.log))}`,
  },
  {
    title: 'Find the slowest exemplar',
    cue: () => 'Find the slowest exemplar',
    run: async (demo) => {
      const bugOnAt = need(demo.state.bugOnAt, 'Turn the bug on');
      const found = await findSlowestExemplars(demo.config, Math.floor(bugOnAt / 1000) - 5, Math.ceil(Date.now() / 1000));
      demo.state.exemplars = found;
      const slowest = found[0]!;
      demo.state.traceId = slowest.traceId;
      return `${found.length} exemplars; slowest ${seconds(slowest.value)} at ${new Date(slowest.timestamp * 1000).toISOString()} -> trace ${slowest.traceId}`;
    },
  },
  {
    title: 'Tempo has the trace, with the N+1',
    run: async (demo) => {
      const { config } = demo;
      const exemplars = need(demo.state.exemplars, 'Find the slowest exemplar');
      if (config.allowMissingTempo && !healthy(demo, 'tempo')) {
        throw new SkippedBeat(`Tempo is not reachable at ${config.urls.tempo}: trace ${demo.state.traceId} was NOT checked (--allow-missing-tempo)`);
      }
      const found = await verifySlowestTrace(config, exemplars, demo.log);
      demo.state.traceId = found.traceId;
      return `trace ${found.traceId}: ${found.spans} spans (${found.services.join(', ')}), ${found.dbSpansInInventory} query-stock-db spans in inventory: the N+1`;
    },
  },
  {
    title: 'Grafana links',
    run: async (demo) => {
      const { config, log } = demo;
      const bugOnAt = need(demo.state.bugOnAt, 'Turn the bug on');
      const links = grafanaLinks(config, { fromMs: bugOnAt - 5 * 60_000, toMs: 'now' }, need(demo.state.traceId, 'Find the slowest exemplar'));
      log(`  dashboard (spike in range):  ${links.dashboard}`);
      log(`  Explore on the trace:        ${links.exploreTrace}`);
      log(`  Explore, TraceQL search:     ${links.exploreTraceQL}`);
      log(`  TraceQL to paste:            ${links.traceql}`);
      if (healthy(demo, 'grafana')) return 'open them in the browser';
      log(warn(`  (Grafana is not reachable at ${config.urls.grafana}: these links work where it runs)`));
      return 'printed (no Grafana here to open them in)';
    },
  },
  {
    title: 'Turn the bug off',
    cue: () => 'Turn the bug off',
    run: async (demo) => {
      await setSlowPath(demo.config, 0);
      return 'slow path rate 0';
    },
  },
  {
    title: 'p99 recovers',
    run: async (demo) => `inventory p99 ${seconds(await waitForRecovery(demo.config, demo.log))}`,
  },
];

export interface StepRecord {
  title: string;
  status: 'ok' | 'failed' | 'warned';
  ms: number;
  note?: string;
}

/** Plays beats against one shared state; records each verdict for the summary. */
export class Demo {
  readonly config: DemoConfig;
  readonly log: Log;
  readonly records: StepRecord[] = [];
  readonly state: DemoState = {};
  load: LoadHandle | undefined;
  slowPathTouched = false;
  stopping = false;
  #prompt: Interface | undefined;
  #cleaned: Promise<void> | undefined;
  #beat = 0;
  readonly #beats: number;

  constructor(config: DemoConfig, log: Log = say, beats = BEATS.length) {
    this.config = config;
    this.log = log;
    this.#beats = beats;
  }

  /** In attended mode, waits for Enter before a beat; in rehearsal, goes straight on. */
  async cue(text: string): Promise<void> {
    if (this.config.rehearse) return;
    if (!this.#prompt) {
      this.#prompt = createInterface({ input: process.stdin, output: process.stdout });
      // readline swallows Ctrl-C while it waits: hand it to the process's clean-stop handler.
      this.#prompt.on('SIGINT', () => process.kill(process.pid, 'SIGINT'));
    }
    await this.#prompt.question(cyan(`\n  ⏎  ${text}  [Enter] `));
  }

  /** Plays one beat (after its cue) with a header and a verdict; a failure is recorded and rethrown. */
  async step(beat: Beat): Promise<StepRecord> {
    if (beat.cue) await this.cue(beat.cue(this.config));
    this.#beat++;
    this.log(`\n${bold(`── ${this.#beat}/${this.#beats}  ${beat.title}`)}`);
    const started = performance.now();
    const record = (status: StepRecord['status'], note: string): StepRecord => {
      const entry = { title: beat.title, status, ms: performance.now() - started, note };
      this.records.push(entry);
      return entry;
    };
    try {
      const entry = record('ok', await beat.run(this));
      this.log(`  ${ok('✔')} ${entry.note} ${dim(`(${(entry.ms / 1000).toFixed(1)} s)`)}`);
      return entry;
    } catch (error) {
      if (error instanceof SkippedBeat) {
        this.log(warn(`  !!! SKIPPED: ${error.message}`));
        return record('warned', error.message);
      }
      this.log(`  ${bad('✘')} ${record('failed', messageOf(error)).note}`);
      throw error;
    }
  }

  /** Stops the load and turns the slow path OFF; safe to call more than once. */
  cleanup(): Promise<void> {
    this.#cleaned ??= (async () => {
      this.stopping = true;
      this.#prompt?.close();
      this.log(`\n${bold('── clean stop')}`);
      if (this.load) {
        await this.load.stop().catch(() => undefined);
        this.log(`  ${ok('✔')} load stopped (${this.load.kind})`);
      }
      if (this.slowPathTouched) {
        try {
          await setSlowPath(this.config, 0);
          this.log(`  ${ok('✔')} slow path OFF (rate 0) on ${this.config.urls.inventory}`);
        } catch (error) {
          this.log(`  ${bad('✘')} could not turn the slow path off: ${messageOf(error)}`);
          this.log(`    do it by hand: ${slowPathOffByHand(this.config)}`);
          process.exitCode = 1;
        }
      }
    })();
    return this.#cleaned;
  }

  summary(): void {
    this.log(`\n${bold('── summary')}`);
    for (const record of this.records) {
      const mark = record.status === 'ok' ? ok('✔') : record.status === 'warned' ? warn('!') : bad('✘');
      this.log(`  ${mark} ${record.title.padEnd(44)} ${(record.ms / 1000).toFixed(1).padStart(6)} s`);
    }
    if (this.records.some((record) => record.status === 'warned')) {
      this.log(warn('  !!! Incomplete rehearsal: some beats were skipped (see above). Rehearse them where they can run.'));
    }
  }
}
