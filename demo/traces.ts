// Tempo: the trace behind the exemplar, and the N+1 in it. Whether an exemplar leads to its own span
// is native/exemplar-resolvability.ts's (verdictOf), fetching and summarising the trace
// native/stack-apis.ts's; here are the waiting and the verdict.
import { setTimeout as sleep } from 'node:timers/promises';
import { SLOW_PATH_QUERIES } from '../services/inventory/src/stock-repository.ts';
import { verdictOf, type Exemplar, type Verdict } from '../native/exemplar-resolvability.ts';
import { tempoTrace, traceEvidence, type TraceEvidence } from '../native/stack-apis.ts';
import type { DemoConfig } from './config.ts';
import { messageOf, say, seconds, StepError, warn, type Log } from './output.ts';

export type { TraceEvidence };

/** How many slower-than-the-spike exemplars a live demo tries when Tempo cannot show the slowest in time. */
const LIVE_CANDIDATES = 3;

/**
 * Fetches the exemplar's trace from Tempo until it holds the exemplar's own span (inventory's SERVER
 * span) and inventory's whole N+1 (Tempo needs a few seconds to ingest; the spans of the slow lookup
 * arrive after it finished).
 */
export async function verifyTrace(config: DemoConfig, exemplar: Exemplar, log: Log = say, timeoutMs = 45_000): Promise<TraceEvidence> {
  const { traceId } = exemplar;
  const started = Date.now();
  let last = 'Tempo does not know it yet (404)';
  for (;;) {
    try {
      const spans = await tempoTrace(config.urls.tempo, traceId);
      const verdict: Verdict = verdictOf(exemplar, spans);
      if (spans) {
        const evidence = traceEvidence(traceId, spans);
        last = `${verdict}; ${evidence.spans} spans from ${evidence.services.join(', ')}; ${evidence.dbSpansInInventory} query-stock-db spans in inventory`;
        if (verdict === 'span found' && evidence.dbSpansInInventory === SLOW_PATH_QUERIES) return evidence;
      }
    } catch (error) {
      last = messageOf(error);
    }
    const elapsed = Date.now() - started;
    log(`    ${String(Math.round(elapsed / 1000)).padStart(4)} s  ${last}`);
    if (elapsed + 3000 > timeoutMs) {
      throw new StepError(
        `trace ${traceId} from ${config.urls.tempo}/api/traces/${traceId}: ${last} (want the exemplar's span ${exemplar.spanId} and ${SLOW_PATH_QUERIES} query-stock-db spans in inventory)`,
      );
    }
    await sleep(3000);
  }
}

/**
 * The slowest exemplar's trace, with its span and the whole N+1. A rehearsal accepts nothing else;
 * on stage, when Tempo cannot show it in time, the next slowest are tried and the fallback is said.
 */
export async function verifySlowestTrace(config: DemoConfig, exemplars: Exemplar[], log: Log = say): Promise<TraceEvidence> {
  const candidates = exemplars.filter((exemplar) => exemplar.value > config.spikeSeconds).slice(0, config.rehearse ? 1 : LIVE_CANDIDATES);
  if (candidates.length === 0) throw new StepError(`no exemplar above ${config.spikeSeconds} s (slowest ${seconds(exemplars[0]?.value ?? NaN)})`);
  const failures: string[] = [];
  for (const [rank, candidate] of candidates.entries()) {
    log(`    trace ${candidate.traceId} (${seconds(candidate.value)})`);
    try {
      const evidence = await verifyTrace(config, candidate, log);
      if (rank > 0) log(warn(`    !!! the slowest exemplar's trace could not be shown (${failures.join('; ')}); showing the ${rank + 1}. slowest instead`));
      return evidence;
    } catch (error) {
      failures.push(messageOf(error));
    }
  }
  throw new StepError(failures.join('\n    '));
}
