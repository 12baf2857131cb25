// What this machine held: the highest rate `npm run bench:load` sustained without loss, kept in the
// tool cache (it belongs to the machine, not to a clone), so that `npm run load` can warn before a
// run that asks for more: past it the services refuse orders with 503 (load-shedding.ts), which in
// the middle of a live demo is no time to find out.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toolsDir } from '../native/tools.ts';

export interface MeasuredCapacity {
  /** Orders per second held: every request answered, none dropped, no telemetry lost. */
  rate: number;
  profile: string;
  /** ISO time of the measurement. */
  at: string;
}

const capacityFile = () => join(toolsDir(), 'bench', 'capacity.json');

/** Records a benchmark's result (written whole, then renamed: never half a file). */
export function recordCapacity(capacity: MeasuredCapacity): void {
  const file = capacityFile();
  mkdirSync(join(toolsDir(), 'bench'), { recursive: true });
  writeFileSync(`${file}.partial`, `${JSON.stringify(capacity, null, 2)}\n`);
  renameSync(`${file}.partial`, file);
}

/** The last recorded capacity, or undefined when this machine has none (or an unreadable one). */
export function measuredCapacity(): MeasuredCapacity | undefined {
  try {
    const parsed = JSON.parse(readFileSync(capacityFile(), 'utf8')) as Partial<MeasuredCapacity>;
    return typeof parsed.rate === 'number' && typeof parsed.at === 'string' ? (parsed as MeasuredCapacity) : undefined;
  } catch {
    return undefined;
  }
}

/** Above this, a run is heavy enough that not knowing the machine's capacity deserves a word. */
const UNMEASURED_WARNING_RATE = 100;

/**
 * One line to print before a run at `rate` orders per second, or undefined when there is nothing to
 * say: above the last measured capacity, a warning; above 100/s with nothing measured, how to measure.
 */
export function capacityWarning(rate: number, capacity: MeasuredCapacity | undefined): string | undefined {
  if (capacity) {
    if (rate <= capacity.rate) return undefined;
    return (
      `load: warning: ${rate} orders/s is above the ${capacity.rate}/s this machine held in the last \`npm run bench:load\` ` +
      `(${capacity.at.slice(0, 10)}, ${capacity.profile} profile): past it the services refuse orders with 503 (overloaded). ` +
      'Lower RATE, or measure again with `npm run bench:load`.'
    );
  }
  if (rate <= UNMEASURED_WARNING_RATE) return undefined;
  return `load: ${rate} orders/s, and this machine's capacity was never measured: \`npm run bench:load\` finds the highest rate it holds (past it the services refuse orders with 503).`;
}
