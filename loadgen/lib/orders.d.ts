// Types of orders.js for the TypeScript side (demo/load.ts, the tests).
import type { Env } from './scenarios.js';

export type TraceparentMode = 'sampled' | 'unsampled' | 'off';

export interface OrderRequest {
  orderId: number;
  /** /orders/<orderId> */
  path: string;
  flow: 'valid' | 'error_path';
  errorPath: boolean;
  /** 200 for a valid order, 502 on the error path. */
  expectedStatus: number;
  /** x-user-id, and traceparent unless the mode is "off". */
  headers: Record<string, string>;
  /** The trace id of the traceparent sent; undefined when the mode is "off". */
  traceId: string | undefined;
  /** The parent id of that traceparent: the id of k6's client span; undefined when the mode is "off". */
  parentId: string | undefined;
}

export declare const MAX_CATALOG_ID: number;
export declare const MAX_ERROR_ID: number;
export declare const USERS: number;
export declare const TRACEPARENT_MODES: readonly TraceparentMode[];
export declare function errorEvery(errorShare: number): number;
export declare function errorEveryFromEnv(env: Env): number;
export declare function traceparentModeFromEnv(env: Env): TraceparentMode;
export declare function isErrorPath(iteration: number, every: number): boolean;
export declare function orderRequest(iteration: number, options: { errorEvery: number; traceparent?: TraceparentMode }): OrderRequest;
