// The conference demo, beat by beat: from a p99 spike to the trace that caused it.
//
//   npm run demo                              attended: waits for Enter before each beat
//   npm run demo -- --rehearse                every beat unattended, non-zero exit on any failure
//   npm run demo -- --rehearse --allow-missing-tempo   where no Tempo runs (loud warning)
//
// Beats: check the stack -> slow path off, start steady load, wait for a calm p99 -> turn the bug
// on -> wait for the p99 spike -> find the slowest exemplar -> fetch its trace from Tempo and see
// the N+1 -> print the Grafana links and the TraceQL query -> turn the bug off -> wait for the p99
// to recover -> stop. Ctrl-C or SIGTERM at any point stops the load and turns the slow path OFF.
//
// Options:
//   --rehearse                run unattended (also when stdin is not a terminal)
//   --allow-missing-tempo     go on without Tempo, with a warning instead of a failed step
//   --slow-rate <0..1>        share of stock lookups on the slow path while the bug is on (0.2)
//   --load-rate <req/s>       background load while the demo runs (10)
//   --builtin-load            use the built-in load loop even when k6 is available
//   --step-timeout <s>        longest wait for a metric to move (180)
//
// URLs (defaults: the native stack, which publishes the same ports as compose):
//   ORDER_URL, INVENTORY_URL, PRICING_URL, COLLECTOR_HEALTH_URL, PROMETHEUS_URL, TEMPO_URL,
//   GRAFANA_URL (default http://localhost:3000; optional for the native stack, required otherwise)
// DEMO_STACK=native|compose overrides which stack the hints are for (see demo/checks.ts).
//
// The pieces: config.ts (options), checks.ts (health, hints), load.ts, metrics.ts (Prometheus),
// traces.ts (Tempo), grafana-links.ts, slow-path.ts, beats.ts (the ordered beats and the runner
// that plays them; test/demo-rehearsal.test.ts plays them one by one), output.ts.
import { UsageError } from '../loadgen/run.ts';
import { BEATS, Demo } from './beats.ts';
import { configFromArgs, usage, type DemoConfig } from './config.ts';
import { bad, bold, ok, say, StepError, warn, type Log } from './output.ts';

/** The whole demo; resolves with the exit code. */
export async function runDemo(config: DemoConfig, log: Log = say): Promise<number> {
  const demo = new Demo(config, log);
  const onSignal = (signal: NodeJS.Signals) => {
    log(`\n${warn(`${signal}: stopping cleanly (again to force)`)}`);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.once('SIGINT', () => process.exit(130));
    process.once('SIGTERM', () => process.exit(143));
    void demo.cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const stack = config.stack.kind === 'native' ? 'native stack' : 'compose or remote stack';
  log(bold(`spike-to-trace demo (${config.rehearse ? 'rehearsal, unattended' : 'live: Enter moves to the next beat'}; ${stack}: ${config.stack.why})`));
  if (config.allowMissingTempo) log(warn('!!! --allow-missing-tempo: the trace beat will be SKIPPED if Tempo is not there. Never present like this.'));

  let code = 0;
  try {
    for (const beat of BEATS) await demo.step(beat);
    await demo.cue('Stop the load and finish');
  } catch (error) {
    if (!(error instanceof StepError)) log(bad(`unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`));
    code = 1;
  } finally {
    await demo.cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  demo.summary();
  const skipped = demo.records.some((record) => record.status === 'warned');
  if (code !== 0) log(bad('\nThe demo is NOT ready: fix the failed beat above.'));
  else if (skipped) log(warn('\nEvery beat that ran passed, but some were SKIPPED: not a full rehearsal.'));
  else log(ok('\nAll beats passed.'));
  return code;
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage());
  } else {
    try {
      const config = configFromArgs(argv);
      process.exitCode = await runDemo(config);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      console.error(`${error.message}\n${usage()}`);
      process.exitCode = 2;
    }
  }
}
