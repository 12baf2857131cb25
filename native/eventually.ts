import { setTimeout as sleep } from 'node:timers/promises';

export interface EventuallyOptions {
  /** An error after which waiting longer cannot help (nothing listens at all, say): fail at once. */
  giveUpOn?: (error: unknown) => boolean;
  /** Called after each failed attempt with what it returned or threw (progress output). */
  onRetry?: (attempt: number, last: unknown) => void;
}

/**
 * Polls fn until it returns a truthy value, or throws once the deadline has passed, naming what it
 * waited for and the last error fn threw.
 */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 5000,
  intervalMs = 50,
  options: EventuallyOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await fn();
      if (value) return value;
      last = undefined;
    } catch (error) {
      if (options.giveUpOn?.(error)) throw error;
      last = error;
    }
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ''}`);
    options.onRetry?.(attempt, last);
    await sleep(intervalMs);
  }
}
