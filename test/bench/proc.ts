// What the kernel says about a process (Linux /proc): resident memory now and at its peak, and CPU
// time used; and what V8 says about its heap (a diagnostic report). For the benchmarks' figures.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, 100 on Linux

function status(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return ''; // the process is gone
  }
}

const kib = (text: string, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0);

/** Resident memory now (VmRSS), MiB; 0 when the process is gone. */
export function rssMiB(pid: number): number {
  return kib(status(pid), 'VmRSS') / 1024;
}

/** The peak resident memory since the process started (VmHWM), MiB. */
export function peakRssMiB(pid: number): number {
  return kib(status(pid), 'VmHWM') / 1024;
}

/** CPU time used so far, user and system, in seconds (fields 14 and 15 of /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/**
 * The V8 heap in use, MiB, from a Node diagnostic report the process writes when it gets SIGUSR2.
 * The process must run with `reportNodeOptions(dir)` in its NODE_OPTIONS.
 */
export async function heapUsedMiB(pid: number, dir: string): Promise<number> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  for (let waited = 0; waited < 5000; waited += 50) {
    const file = readdirSync(dir).find((name) => !before.has(name) && name.includes(`.${pid}.`));
    if (file) {
      await sleep(200); // written in one go; give the write a moment to finish
      const report = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { javascriptHeap: { usedMemory: number } };
      return report.javascriptHeap.usedMemory / 2 ** 20;
    }
    await sleep(50);
  }
  return NaN;
}

/** NODE_OPTIONS that make a Node process write a diagnostic report into `dir` on SIGUSR2. */
export function reportNodeOptions(dir: string): string {
  return `--report-on-signal --report-signal=SIGUSR2 --report-directory=${dir}`;
}
