import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls fn until it returns a truthy value, or throws once the deadline has passed, naming what it
 * waited for and the last error fn threw.
 */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 5000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(intervalMs);
  }
}
