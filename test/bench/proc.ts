// What the kernel says about a process (Linux /proc): resident memory now and at its peak, and CPU
// time used, for the benchmarks' per-component figures.
import { readFileSync } from 'node:fs';

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
