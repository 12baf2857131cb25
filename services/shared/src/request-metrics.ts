// Request duration for every service, from one express middleware: the histogram
// `http.request.duration` in seconds (Prometheus: http_request_duration_seconds_bucket/_sum/_count)
// with http.request.method, http.route and http.response.status_code, and an exemplar per bucket
// that points at the request's trace.
//
// - The duration is timed with performance.now(), from the request's arrival to the response's
//   'close', the interval of the http instrumentation's server span, so span metrics agree with the
//   histogram: serve() notes the arrival on the server's 'request' event (noteArrival), where the
//   span starts (elsewhere, a test's own server, timing starts here), and this middleware's 'close'
//   listener is put first, before the one that ends the span, so the span is still open when the
//   histogram marks it as an exemplar.
// - The exemplar points at the request's HTTP server span, taken when the request ENTERS the
//   middleware: the 'close' callback runs in whatever context emitted the event. The http
//   instrumentation publishes its server span in the context as RPC metadata; that one is used,
//   because a middleware before this one may have made a span of its own the active one. Without
//   RPC metadata the active span is used.
// - http.route is the express route template (req.baseUrl + req.route.path), read when the
//   response has finished; requests no route matched (404s, for instance) get "unmatched", so
//   raw URLs never become label values. A route in a mounted router whose error is answered by an
//   app-level error handler loses its mount prefix (express restores req.baseUrl on the way out).
// - The same listener hands a matched route to the http instrumentation, through the RPC metadata
//   where the express instrumentation would put it: the instrumentation's own 'close' listener,
//   which runs next, names the server span after it ("GET /orders/:id") and sets http.route. So
//   the express instrumentation, its spans and the ESM loader hook it needs are not loaded at all.
// - /healthz is not measured (option excludePaths): health probes every few seconds would pile up
//   in the fastest bucket and dilute the latency story; the http instrumentation does not trace
//   them either, so they could not carry an exemplar anyway.
// - A request whose client went away before the response finished is not measured.
import { context, metrics, trace, type Histogram } from '@opentelemetry/api';
import { getRPCMetadata, RPCType } from '@opentelemetry/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { IncomingMessage } from 'node:http';

export const HTTP_REQUEST_DURATION = 'http.request.duration';

/**
 * Bucket boundaries in seconds: fine-grained up to 100 ms, then coarser. The slow path takes a
 * little over 3 s, so 3 s sits in the middle of (2.5, 3.5] rather than on a bound: with a bound at
 * exactly 3 s the slow requests would land in the bucket above, and histogram_quantile would read
 * the p99 as about 3.9 s.
 */
export const HTTP_REQUEST_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3.5, 5, 7.5, 10,
]);

/** http.route of requests no route matched. */
export const UNMATCHED_ROUTE = 'unmatched';

const DEFAULT_EXCLUDED_PATHS: readonly string[] = ['/healthz'];

const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', 'QUERY']);

const METER_NAME = '@spike-to-trace/shared';

export interface RequestDurationOptions {
  /**
   * Where durations go. Default: `http.request.duration` of the global MeterProvider, made at the
   * first request (telemetry.ts registers one whose histograms keep exemplars).
   */
  histogram?: Histogram;
  /** Request paths not measured. Default ["/healthz"]. */
  excludePaths?: readonly string[];
}

/** The histogram options of `http.request.duration`. */
export const HTTP_REQUEST_DURATION_OPTIONS = {
  description: 'Duration of HTTP server requests.',
  unit: 's',
  advice: { explicitBucketBoundaries: [...HTTP_REQUEST_DURATION_BUCKETS] },
};

/** http.request.method as the semantic conventions want it: known methods, else _OTHER. */
function methodOf(req: Request): string {
  const method = req.method;
  if (KNOWN_METHODS.has(method)) return method;
  const upper = method.toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : '_OTHER';
}

function routeOf(req: Request): string {
  const route = req.route as { path?: unknown } | undefined;
  if (route === undefined || route.path === undefined) return UNMATCHED_ROUTE;
  const path = typeof route.path === 'string' ? route.path : String(route.path);
  return req.baseUrl + path;
}

/**
 * Express middleware recording `http.request.duration` (seconds) with exemplars. Mount it first,
 * before any router, so the duration covers the whole request.
 */
const arrivals = new WeakMap<IncomingMessage, number>();

/** Notes when a request arrived at the server, before express ran (a 'request' listener). */
export function noteArrival(req: IncomingMessage): void {
  arrivals.set(req, performance.now());
}

export function requestDurationMiddleware(options: RequestDurationOptions = {}): RequestHandler {
  const excluded = new Set(options.excludePaths ?? DEFAULT_EXCLUDED_PATHS);
  let histogram = options.histogram;

  return function recordRequestDuration(req: Request, res: Response, next: NextFunction): void {
    if (excluded.has(req.path)) {
      next();
      return;
    }
    const start = arrivals.get(req) ?? performance.now();
    const active = context.active();
    const rpcMetadata = getRPCMetadata(active);
    const serverSpan = rpcMetadata?.span;
    // Usually the server span is the active one already: a new context only when it is not.
    const requestContext = serverSpan === undefined || trace.getSpan(active) === serverSpan ? active : trace.setSpan(active, serverSpan);
    res.prependOnceListener('close', () => {
      const route = routeOf(req);
      if (rpcMetadata?.type === RPCType.HTTP && route !== UNMATCHED_ROUTE) rpcMetadata.route = route;
      if (!res.writableFinished) return; // the client went away before the response was complete
      histogram ??= metrics.getMeter(METER_NAME).createHistogram(HTTP_REQUEST_DURATION, HTTP_REQUEST_DURATION_OPTIONS);
      const attributes = { 'http.request.method': methodOf(req), 'http.route': route, 'http.response.status_code': res.statusCode };
      histogram.record((performance.now() - start) / 1000, attributes, requestContext);
    });
    next();
  };
}
