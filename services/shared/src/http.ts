// HTTP plumbing the three services share: the express app skeleton (health, JSON errors, request
// metrics), input validation, configuration from the environment, and graceful shutdown. Calls to
// other services: http-client.ts.
import { SpanStatusCode, trace } from '@opentelemetry/api';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import { STATUS_CODES, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { DEFAULT_MAX_IN_FLIGHT_REQUESTS, shedLoad } from './load-shedding.ts';
import { noteArrival, requestDurationMiddleware } from './request-metrics.ts';
import { runShutdownHooks } from './shutdown.ts';

/** An error whose message is safe to show to the client, with the status to answer. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

const MAX_ID = 1_000_000_000;

/** Parses a path id: a decimal integer from 1 to 1,000,000,000, nothing else. */
export function parseId(raw: string | undefined, what = 'id'): number {
  if (raw === undefined || !/^\d+$/.test(raw)) {
    throw new HttpError(400, `${what} must be a positive integer, got ${JSON.stringify(shortened(raw ?? ''))}`);
  }
  // Digits only, however many: a number, just out of range (Number() of a long one is huge or Infinity).
  const id = Number(raw);
  if (id < 1 || id > MAX_ID) throw new HttpError(400, `${what} must be between 1 and ${MAX_ID}, got ${shortened(raw)}`);
  return id;
}

/** Client input quoted in an error message, cut short: a path may be 16 kB long. */
export function shortened(text: string, max = 40): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}

const JSON_BODY_LIMIT = '16kb';

/**
 * The express app every service starts from: request-duration metrics on every route, JSON bodies
 * up to 16 kB, GET /healthz, load shedding past MAX_IN_FLIGHT_REQUESTS requests in flight
 * (load-shedding.ts; after /healthz, so that health probes are always answered), then the service's
 * own routes, then JSON answers for 404 and errors.
 */
export function createServiceApp(service: string, addRoutes: (app: Express) => void): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestDurationMiddleware());
  app.use(express.json({ limit: JSON_BODY_LIMIT }));
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(shedLoad(service, intFromEnv('MAX_IN_FLIGHT_REQUESTS', DEFAULT_MAX_IN_FLIGHT_REQUESTS, { min: 1, max: 1_000_000 })));
  addRoutes(app);
  app.use((req, _res, next) => next(new HttpError(404, `no route for ${req.method} ${req.path}`)));
  app.use(jsonErrorHandler);
  return app;
}

const jsonErrorHandler: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
  const { status, message } = describeError(err);
  if (status >= 500) {
    // The server span turns ERROR by itself on 5xx; the exception event says why.
    const span = trace.getActiveSpan();
    span?.recordException(err instanceof Error ? err : new Error(String(err)));
    span?.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  if (status === 500) console.error(err);
  if (res.headersSent) return;
  // A downstream service refused the call as overloaded (http-client.ts): so does this one.
  if (status === 503) res.set('retry-after', '1');
  res.status(status).json({ error: message });
};

function describeError(err: unknown): { status: number; message: string } {
  if (err instanceof HttpError) return { status: err.status, message: err.message };
  // express.json() (body-parser) marks its own errors with a 4xx status and a type.
  const parserError = err as { status?: unknown; type?: unknown; message?: unknown; body?: unknown };
  if (typeof parserError.status === 'number' && parserError.status >= 400 && parserError.status < 500) {
    if (parserError.type === 'entity.parse.failed') return { status: 400, message: parseFailure(parserError.body) };
    if (parserError.type === 'entity.too.large') {
      return { status: 413, message: `request body is larger than ${JSON_BODY_LIMIT}` };
    }
    return { status: parserError.status, message: String(parserError.message ?? 'bad request') };
  }
  return { status: 500, message: 'internal error' };
}

/**
 * Why express.json() could not parse a body. Its strict mode refuses JSON that is not an object or
 * array (`null`, `42`, `"rate"`) with the same error as malformed JSON; the raw body it carries
 * tells the two apart.
 */
function parseFailure(rawBody: unknown): string {
  try {
    JSON.parse(String(rawBody));
    return `body must be a JSON object, got ${shortened(String(rawBody).trim())}`;
  } catch {
    return 'request body is not valid JSON';
  }
}

/**
 * Express middleware for a route that reads a JSON body: without `content-type: application/json`
 * express.json() leaves the body unread, and the route would blame the body instead of the header.
 */
export const requireJsonContentType: RequestHandler = (req, _res, next) => {
  const given = req.get('content-type');
  if (given === undefined) return next(new HttpError(415, 'the content-type header is missing: send content-type: application/json'));
  // The media type as express.json() matches it: parameters (charset) aside, in any case.
  const mediaType = given.split(';')[0]!.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    return next(new HttpError(415, `content-type must be application/json, got ${JSON.stringify(shortened(given))}`));
  }
  next();
};

/** Reads a port or duration from the environment, rejecting anything that is not a whole number. */
export function intFromEnv(name: string, fallback: number, range: { min: number; max: number }): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new Error(`${name} must be an integer between ${range.min} and ${range.max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const SHUTDOWN_GRACE_MS = 10_000;

/** Writes a complete JSON error response straight to a socket and closes it. */
function answerOnSocket(socket: Duplex, status: number, message: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * What never reaches express is answered with a JSON error like everything else, instead of a bare
 * status line or a dropped connection: requests Node's HTTP parser refuses (a malformed request line
 * or header, an unknown method, headers over 16 kB), and CONNECT, which Node hands to its own event.
 */
function answerOutsideExpress(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket) =>
    error.code === 'HPE_HEADER_OVERFLOW'
      ? answerOnSocket(socket, 431, 'request headers are larger than 16 kB')
      : answerOnSocket(socket, 400, 'malformed HTTP request'),
  );
  server.on('connect', (_req, socket: Duplex) => answerOnSocket(socket, 405, 'CONNECT is not supported'));
}

/**
 * Listens on the port and stops gracefully on SIGTERM/SIGINT: stop accepting connections, let
 * in-flight requests finish (up to 10 s), flush spans and metrics, exit. The address is `host`,
 * else HOST, else every interface (as in a container; the native stack sets HOST=127.0.0.1).
 */
export function serve(app: Express, options: { name: string; port: number; host?: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = app.listen(options.port, options.host ?? (process.env.HOST || '0.0.0.0'), (error?: Error) => {
      if (error) return reject(error);
      const { port } = server.address() as AddressInfo;
      console.log(`${options.name} listening on port ${port}`);
      resolve(port);
    });
    // First among the request listeners: the request's arrival, from which its duration is timed.
    server.prependListener('request', noteArrival);
    answerOutsideExpress(server);
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      console.log(`${options.name} received ${signal}, shutting down`);
      const forceExit = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      forceExit.unref();
      // close() only drops the connections idle at that moment; a keep-alive connection whose
      // request finishes later would otherwise hold the server open for its whole idle timeout.
      const closeIdle = setInterval(() => server.closeIdleConnections(), 50);
      server.close(() => {
        clearInterval(closeIdle);
        void runShutdownHooks().finally(() => process.exit(0));
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
