// How many exemplar dots lead to their request: every exemplar of the services' latency histogram in
// the last N minutes (default 5), each looked up in Tempo, counted when the trace holds the span the
// exemplar names (native/exemplar-resolvability.ts). The workshop's sampling exercise counts the dead
// links with it, under head sampling and under the sampling profile.
//
//   npm run exemplar-links            (the last 5 minutes)
//   npm run exemplar-links -- 10      (the last 10 minutes)
//
// PROMETHEUS_URL and TEMPO_URL default to the native stack, which uses the same ports as compose.
import { UsageError } from '../loadgen/run.ts';
import { countVerdicts, exemplarResolvability } from '../native/exemplar-resolvability.ts';
import { urls } from '../native/stack.ts';

function minutesFrom(argv: string[]): number {
  if (argv.length > 1) throw new UsageError('usage: npm run exemplar-links -- [minutes]');
  const minutes = argv[0] === undefined ? 5 : Number(argv[0]);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60) throw new UsageError(`minutes must be a number from 1 to 1440, got ${argv[0]}`);
  return minutes;
}

if (import.meta.main) {
  try {
    const minutes = minutesFrom(process.argv.slice(2));
    const prometheus = process.env.PROMETHEUS_URL ?? urls.prometheus;
    const tempo = process.env.TEMPO_URL ?? urls.tempo;
    const end = Date.now() / 1000;
    // Traces of the last seconds may still be on their way (export batching, a tail sampler's wait).
    const result = await exemplarResolvability(prometheus, tempo, end - minutes * 60, end, { waitMs: 15_000 });
    const { total, spanFound, unresolved, late } = result;
    if (total === 0) {
      console.log(`no exemplars in the last ${minutes} min at ${prometheus}: is traffic running?`);
    } else {
      console.log(
        `last ${minutes} min: ${total} exemplars, ${spanFound} lead to their span (${((100 * spanFound) / total).toFixed(1)} % span found), ${unresolved.length} dead links`,
      );
      if (late.length > 0) console.log(`  ${late.length} of them only after a wait: their spans were still on the way to Tempo`);
      if (unresolved.length > 0) {
        console.log(`  why: ${countVerdicts(result)}`);
        const example = unresolved[0]!;
        console.log(
          `  for instance ${example.service}'s span ${example.spanId || '(none)'} in ${tempo}/api/traces/${example.traceId || '(no trace id)'}: ${example.verdict}`,
        );
      }
    }
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = error instanceof UsageError ? 2 : 1;
  }
}
