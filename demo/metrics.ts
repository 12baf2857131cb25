// Prometheus, as the demo watches it: traffic and a calm p99, the spike, the recovery, and the
// slowest exemplars. The queries themselves live with the other API clients (native/stack-apis.ts);
// here are the waits and what to say when they time out.
import { setTimeout as sleep } from 'node:timers/promises';
import { slowestExemplars, type Exemplar } from '../native/exemplar-resolvability.ts';
import { p99Query, promValue, requestRateQuery, REQUEST_DURATION_HISTOGRAM } from '../native/stack-apis.ts';
import type { DemoConfig } from './config.ts';
import { messageOf, say, seconds, StepError, type Log } from './output.ts';

export type { Exemplar };

/** One instant value (NaN when there is no data yet); a failed query is a StepError. */
async function value(config: DemoConfig, query: string): Promise<number> {
  try {
    return await promValue(config.urls.prometheus, query);
  } catch (error) {
    throw new StepError(`Prometheus query failed (${query}): ${messageOf(error)}`);
  }
}

export function p99(config: DemoConfig, job: 'order' | 'inventory' | 'pricing'): Promise<number> {
  return value(config, p99Query(job));
}

/** Polls until check(value) holds; prints progress; throws a StepError with `failure` on timeout. */
async function waitFor(
  config: DemoConfig,
  log: Log,
  read: () => Promise<{ value: number; text: string }>,
  check: (value: number) => boolean,
  failure: (last: string) => string,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    const { value, text } = await read();
    const elapsed = Math.round((Date.now() - started) / 1000);
    log(`    ${String(elapsed).padStart(4)} s  ${text}`);
    if (check(value)) return value;
    if (Date.now() - started + config.pollMs > config.stepTimeoutMs) throw new StepError(failure(text));
    await sleep(config.pollMs);
  }
}

/** The load is visible in Prometheus and inventory's p99 is calm (below the spike line). */
export async function waitForCalmBaseline(config: DemoConfig, log: Log = say): Promise<{ requestsPerSecond: number; inventoryP99: number }> {
  let requestsPerSecond = 0;
  const inventoryP99 = await waitFor(
    config,
    log,
    async () => {
      requestsPerSecond = await value(config, requestRateQuery('order'));
      const inventory = await p99(config, 'inventory');
      const order = await p99(config, 'order');
      return {
        value: requestsPerSecond > 0 ? inventory : NaN,
        text: `order ${Number.isFinite(requestsPerSecond) ? requestsPerSecond.toFixed(1) : 0} req/s, p99 order ${seconds(order)}, inventory ${seconds(inventory)} (waiting for traffic and p99 < ${config.spikeSeconds} s)`,
      };
    },
    (value) => Number.isFinite(value) && value < config.spikeSeconds,
    (last) =>
      requestsPerSecond > 0
        ? `inventory p99 did not settle below ${config.spikeSeconds} s within ${config.stepTimeoutMs / 1000} s (${last}); is the slow path really off?`
        : `no order requests reached Prometheus within ${config.stepTimeoutMs / 1000} s: check the load, then the Collector (metrics pipeline to ${config.urls.prometheus})`,
  );
  return { requestsPerSecond, inventoryP99 };
}

/** Inventory's p99 as the value to wait on, with order's beside it in the progress line. */
async function readInventoryP99(config: DemoConfig, waiting: string): Promise<{ value: number; text: string }> {
  const inventory = await p99(config, 'inventory');
  const order = await p99(config, 'order');
  return { value: inventory, text: `p99 inventory ${seconds(inventory)}, order ${seconds(order)} (${waiting})` };
}

/** Inventory's p99 (histogram_quantile over the buckets) climbs above the spike line. */
export function waitForSpike(config: DemoConfig, log: Log = say): Promise<number> {
  return waitFor(
    config,
    log,
    () => readInventoryP99(config, `waiting for inventory > ${config.spikeSeconds} s`),
    (value) => Number.isFinite(value) && value > config.spikeSeconds,
    (last) => `no spike within ${config.stepTimeoutMs / 1000} s (${last}): is the load running and the slow path on?`,
  );
}

/** Inventory's p99 is back below the spike line. */
export function waitForRecovery(config: DemoConfig, log: Log = say): Promise<number> {
  return waitFor(
    config,
    log,
    () => readInventoryP99(config, `waiting for inventory < ${config.spikeSeconds} s; the 1m rate window needs about a minute`),
    (value) => Number.isFinite(value) && value < config.spikeSeconds,
    (last) => `p99 did not recover within ${config.stepTimeoutMs / 1000} s (${last})`,
  );
}

/** Exemplars of the request-duration histogram between start and end (Unix s), slowest first; none is a StepError. */
export async function findSlowestExemplars(config: DemoConfig, start: number, end: number, job = 'inventory'): Promise<Exemplar[]> {
  let exemplars: Exemplar[];
  try {
    exemplars = await slowestExemplars(config.urls.prometheus, job, start, end);
  } catch (error) {
    throw new StepError(`query_exemplars failed: ${messageOf(error)}`);
  }
  if (exemplars.length === 0) {
    throw new StepError(
      `Prometheus has no exemplars for ${REQUEST_DURATION_HISTOGRAM}_bucket{job="${job}"} in the last ${Math.round(end - start)} s: is Prometheus running with --enable-feature=exemplar-storage, and do the services export exemplars (OTEL_METRICS_EXEMPLAR_FILTER)?`,
    );
  }
  return exemplars;
}
