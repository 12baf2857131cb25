// What the demo prints, and how it says that something went wrong.
import { styleText } from 'node:util';

export type Log = (line: string) => void;

export const say: Log = (line) => console.log(line);
export const ok = (text: string) => styleText('green', text);
export const bad = (text: string) => styleText('red', text);
export const warn = (text: string) => styleText(['yellow', 'bold'], text);
export const bold = (text: string) => styleText('bold', text);
export const dim = (text: string) => styleText('dim', text);
export const cyan = (text: string) => styleText('cyan', text);
export const seconds = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)} s` : 'no data');
export const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A beat failed: the message says what is wrong and what to do. */
export class StepError extends Error {}

/** What went wrong with a fetch, precisely (refused, timeout, host not found), in a few words. */
export function describeFetchError(error: unknown, timeoutMs: number): string {
  const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const code = err.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused (nothing listens there)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host not found (${code})`;
  if (code === 'ECONNRESET') return 'connection reset';
  return err.cause?.message ?? err.message ?? String(error);
}
