// Types of traceparent.js for the TypeScript side (the tests).
export interface TraceContext {
  traceId: string;
  parentId: string;
  header: string;
}
export declare function newTraceparent(sampled?: boolean): TraceContext;
export declare function parseTraceparent(header: string): { traceId: string; parentId: string; flags: string } | undefined;
