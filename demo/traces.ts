// Tempo: the trace behind the exemplar, and the N+1 in it. Fetching and summarising the trace is
// native/stack-apis.ts's (tempoTraceEvidence); here are the waiting and the verdict.
import { setTimeout as sleep } from 'node:timers/promises';
import { tempoTraceEvidence, type Exemplar, type TraceEvidence } from '../native/stack-apis.ts';
import type { DemoConfig } from './config.ts';
import { messageOf, say, seconds, StepError, type Log } from './output.ts';

export type { TraceEvidence };

/**
 * Fetches the trace from Tempo until it is complete enough to show the N+1 (Tempo needs a few
 * seconds to ingest; the spans of the slow lookup arrive after it finished).
 */
export async function verifyTrace(config: DemoConfig, traceId: string, log: Log = say, timeoutMs = 45_000): Promise<TraceEvidence> {
  const started = Date.now();
  let last = 'Tempo does not know it yet (404)';
  for (;;) {
    try {
      const evidence = await tempoTraceEvidence(config.urls.tempo, traceId);
      if (evidence) {
        last = `${evidence.spans} spans from ${evidence.services.join(', ')}; ${evidence.dbSpansInInventory} query-stock-db spans in inventory`;
        if (evidence.dbSpansInInventory >= config.minDbSpans) return evidence;
      }
    } catch (error) {
      last = messageOf(error);
    }
    const elapsed = Date.now() - started;
    log(`    ${String(Math.round(elapsed / 1000)).padStart(4)} s  ${last}`);
    if (elapsed + 3000 > timeoutMs) {
      throw new StepError(
        `trace ${traceId} from ${config.urls.tempo}/api/traces/${traceId}: ${last} (want >= ${config.minDbSpans} query-stock-db spans in inventory)`,
      );
    }
    await sleep(3000);
  }
}

/** The slowest exemplar's trace; when Tempo cannot show it, the next two slowest. */
export async function verifyWithFallback(config: DemoConfig, exemplars: Exemplar[], log: Log = say): Promise<TraceEvidence> {
  const candidates = exemplars.filter((exemplar) => exemplar.value > config.spikeSeconds).slice(0, 3);
  if (candidates.length === 0) throw new StepError(`no exemplar above ${config.spikeSeconds} s (slowest ${seconds(exemplars[0]?.value ?? NaN)})`);
  const failures: string[] = [];
  for (const candidate of candidates) {
    log(`    trace ${candidate.traceId} (${seconds(candidate.value)})`);
    try {
      return await verifyTrace(config, candidate.traceId, log);
    } catch (error) {
      failures.push(messageOf(error));
    }
  }
  throw new StepError(failures.join('\n    '));
}
