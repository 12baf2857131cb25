// Types of client-spans.js for the TypeScript side (the tests).
import type { Env } from './scenarios.js';

export interface ClientSpan {
  traceId: string;
  spanId: string;
  name: string;
  startMs: number;
  endMs: number;
  attributes: Record<string, string | number>;
  error?: string;
}

export declare const MAX_SPANS_PER_EXPORT: number;
export declare const MAX_SPAN_WAIT_MS: number;
export declare function tracesEndpointFromEnv(env: Env): string | undefined;
export declare function exportTraceRequest(serviceName: string, spans: readonly ClientSpan[]): { resourceSpans: unknown[] };
export declare class SpanBuffer {
  constructor(options: { serviceName: string; send: (body: string) => void; now?: () => number });
  spans: ClientSpan[];
  add(span: ClientSpan, remainingMs?: number): void;
  flush(): void;
}
export declare function remainingMs(scenario: { startTime: number; progress: number }, now: number): number;
