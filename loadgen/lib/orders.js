// The requests of the load, as plain rules: which order an iteration asks for and with which
// headers. No k6 import here, so that k6 (loadgen/main.js) and Node (the demo's built-in load loop,
// demo/load.ts) send exactly the same requests.
//
//   GET /orders/<id>   valid ids 1..9999 (pricing knows them: 200); error-path ids 10000..99999
//                      (pricing answers 500, order 502)
//   x-user-id          user-1 .. user-50
//   traceparent        a fresh W3C trace context per request (see traceparent.js), unless "off"
//
// Every n-th iteration goes to the error path, n = round(1 / ERROR_SHARE), the first one (iteration
// 0) included: deterministic, so that even a short smoke run exercises it.
import { DEFAULT_ERROR_SHARE, numberFromEnv } from './scenarios.js';
import { newTraceparent } from './traceparent.js';

/** @typedef {Record<string, string | undefined>} Env */
/** @typedef {'sampled' | 'unsampled' | 'off'} TraceparentMode */

/** Pricing knows items 1..9999; anything above is the error path. */
export const MAX_CATALOG_ID = 9999;
/** The highest error-path id. */
export const MAX_ERROR_ID = 99999;
/** Requests carry x-user-id user-1 .. user-<USERS>. */
export const USERS = 50;
/** @type {readonly TraceparentMode[]} */
export const TRACEPARENT_MODES = Object.freeze(['sampled', 'unsampled', 'off']);

/** 0..n-1 */
function randomInt(n) {
  return Math.floor(Math.random() * n);
}

/**
 * Every how many iterations one goes to the error path; 0 for never.
 * @param {number} errorShare  0..1
 */
export function errorEvery(errorShare) {
  return errorShare > 0 ? Math.max(1, Math.round(1 / errorShare)) : 0;
}

/**
 * ERROR_SHARE from the environment (default DEFAULT_ERROR_SHARE) as an errorEvery() interval.
 * @param {Env} env
 */
export function errorEveryFromEnv(env) {
  return errorEvery(numberFromEnv(env, 'ERROR_SHARE', DEFAULT_ERROR_SHARE, { min: 0, max: 1 }));
}

/**
 * TRACEPARENT from the environment: sampled (default), unsampled or off; anything else throws.
 * @param {Env} env
 * @returns {TraceparentMode}
 */
export function traceparentModeFromEnv(env) {
  const mode = env.TRACEPARENT || 'sampled';
  if (!TRACEPARENT_MODES.includes(/** @type {TraceparentMode} */ (mode))) {
    throw new Error(`TRACEPARENT must be sampled, unsampled or off, got ${JSON.stringify(mode)}`);
  }
  return /** @type {TraceparentMode} */ (mode);
}

/**
 * Does this iteration (0-based, counted over the whole run) go to the error path?
 * @param {number} iteration
 * @param {number} every  from errorEvery()
 */
export function isErrorPath(iteration, every) {
  return every > 0 && iteration % every === 0;
}

/**
 * The request of one iteration: { orderId, path, flow, errorPath, expectedStatus, headers, traceId,
 * parentId }. traceId and parentId (the id of the client span the traceparent names) are undefined
 * when the mode is "off" (the services' own sampler then picks a trace id).
 * @param {number} iteration
 * @param {{ errorEvery: number, traceparent?: TraceparentMode }} options
 */
export function orderRequest(iteration, options) {
  const errorPath = isErrorPath(iteration, options.errorEvery);
  const orderId = errorPath ? MAX_CATALOG_ID + 1 + randomInt(MAX_ERROR_ID - MAX_CATALOG_ID) : 1 + randomInt(MAX_CATALOG_ID);
  const mode = options.traceparent ?? 'sampled';
  /** @type {Record<string, string>} */
  const headers = { 'x-user-id': `user-${1 + randomInt(USERS)}` };
  let traceId;
  let parentId;
  if (mode !== 'off') {
    const context = newTraceparent(mode === 'sampled');
    headers.traceparent = context.header;
    traceId = context.traceId;
    parentId = context.parentId;
  }
  return {
    orderId,
    path: `/orders/${orderId}`,
    flow: errorPath ? 'error_path' : 'valid',
    errorPath,
    expectedStatus: errorPath ? 502 : 200,
    headers,
    traceId,
    parentId,
  };
}
