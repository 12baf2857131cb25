// Load shedding: past its capacity a service answers what it can and refuses the rest at once, with
// 503 and Retry-After, instead of queueing work it cannot finish in time.
//
// Without it, a service driven past its CPU (a workshop laptop slower than ours, a rate turned up)
// serves every request late: Node's event loop queues them all, latencies and the number of requests
// in flight grow together, until the callers' deadlines fire (order's 5 s to inventory and pricing,
// k6's 10 s) and requests fail slowly, one cascade of 502/504s and timeouts after another, while the
// p99 panel climbs to the deadline. A cap on the requests in flight bounds that queue: at the cap the
// ones in flight are served at a latency the callers accept, and the rest get 503 within
// microseconds. Order passes a downstream 503 on as its own 503 (http-client.ts), so k6 and the
// dashboard see one clear status: refused, overloaded.
import type { RequestHandler } from 'express';

/**
 * Requests a service works on at once by default. At 500 req/s with the slow path at 2 %, order has
 * some 85 in flight (rate × mean latency), the demo's 20 % slow path at 10 req/s some 7: 200 leaves
 * room for both, and caps the queue at well under a second of work at the rates this machine holds.
 */
export const DEFAULT_MAX_IN_FLIGHT_REQUESTS = 200;

/** How long a refused caller should wait before it tries again (Retry-After, seconds). */
const RETRY_AFTER_S = 1;

/**
 * Express middleware: counts the requests in flight (from here until their response closes) and
 * answers one with 503, Retry-After and a JSON error when `maxInFlight` are already in flight. It
 * answers itself, the cheapest way, rather than through the error handler: a refusal must cost next
 * to nothing, or refusing becomes the overload.
 */
export function shedLoad(service: string, maxInFlight: number): RequestHandler {
  let inFlight = 0;
  return (_req, res, next) => {
    if (inFlight >= maxInFlight) {
      res
        .status(503)
        .set('retry-after', String(RETRY_AFTER_S))
        .json({ error: `${service} is overloaded: ${inFlight} requests in flight, at most ${maxInFlight}; retry later` });
      return;
    }
    inFlight++;
    res.once('close', () => inFlight--);
    next();
  };
}
