// A seeded generator of hostile HTTP requests for the fuzz test, and a raw-socket client to send
// them: raw, because fetch would refuse or repair most of what the generator makes (bad methods,
// malformed headers, lying lengths). Same seed, same cases: a failure prints its seed and case.
// Each case also knows what it is wrong in, and so how the service must answer it: that model lives
// in http-fuzz-expectations.ts, which this file imports to tag each case as it makes it.
import { connect } from 'node:net';
import {
  BAD_METHODS,
  BODY_LIMIT,
  type BodyKind,
  type CaseClass,
  countedHeaderBytes,
  expectations,
  HEADER_LIMIT,
  type JsonBody,
  REFUSED_HEADER_LINES,
  routeOf,
  type ServiceShape,
} from './http-fuzz-expectations.ts';

/** mulberry32: a small, well-known 32-bit PRNG; good enough to pick cases, and reproducible. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzCase {
  index: number;
  method: string;
  target: string;
  /** Raw header lines, exactly as sent (they may be malformed on purpose). */
  headerLines: string[];
  body: Buffer;
  /** The traceparent sent, with what a W3C-conforming extractor must make of it. */
  traceparent?: { value: string; valid: boolean; traceId?: string; parentId?: string };
  /** A PUT to /admin/slow-path, which changes the service: the test runs these one at a time. */
  changesSettings: boolean;
  /** What the request is wrong in, in the order the service meets it; ['valid request'] if nothing. */
  classes: CaseClass[];
  /** The statuses it may be answered with: those of the first class, which decides. */
  expected: number[];
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chance = (random: Random, p: number) => random() < p;
const hex = (random: Random, length: number) => Array.from({ length }, () => '0123456789abcdef'[Math.floor(random() * 16)]).join('');
const repeat = (random: Random, text: string, max: number) => text.repeat(1 + Math.floor(random() * max));

const IDS = [
  '1',
  '42',
  '9999',
  '10000',
  '123456',
  '0',
  '-1',
  '1.5',
  '1e3',
  '0x10',
  '99999999999',
  '99999999999999999999', // digits only, too many of them: out of range, not "not an integer"
  '00000000042', // leading zeros: 42
  '1000000001',
  '',
  'abc',
  '%00',
  '%zz',
  '%F0%9F%92%A5',
  '..%2F..%2Fetc%2Fpasswd',
  ' 1',
  '1;DROP TABLE',
  '٣',
];
const SUFFIXES = ['', '/', '//', '/extra', '?', '?a=1&a=2', '?a[b][c]=1', '#frag', '?%zz', '/../healthz'];
const OTHER_PATHS = ['/', '/healthz', '//', '/admin', '/admin/slow-path/', '*', 'http://evil.example/x', '/%', '/.env', '/favicon.ico'];
const METHODS = ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND'];
/** JSON's media type as express.json() matches it: in any case, with any parameters; latin-1 it refuses. */
const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json; charset=latin-1'];
/** Other content types; undefined sends no content-type at all. */
const OTHER_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', undefined];

/** A traceparent, valid or malformed in one of the ways the W3C spec names, and its verdict. */
function traceparent(random: Random): NonNullable<FuzzCase['traceparent']> {
  const traceId = hex(random, 32);
  const parentId = hex(random, 16);
  const valid = (value: string) => ({ value, valid: true, traceId, parentId });
  const invalid = (value: string) => ({ value, valid: false, traceId, parentId });
  switch (Math.floor(random() * 14)) {
    case 0:
      return valid(`00-${traceId}-${parentId}-01`);
    case 1:
      return valid(`00-${traceId}-${parentId}-00`);
    case 2:
      return valid(`cc-${traceId}-${parentId}-01-what-the-future-adds`); // a future version: extra fields allowed
    case 3:
      return invalid(`00-${traceId}-${parentId}-01-extra`); // version 00 has exactly four fields
    case 4:
      return invalid(`ff-${traceId}-${parentId}-01`); // version ff is forbidden
    case 5:
      return invalid(`00-${'0'.repeat(32)}-${parentId}-01`);
    case 6:
      return invalid(`00-${traceId}-${'0'.repeat(16)}-01`);
    case 7:
      return invalid(`00-${traceId.slice(0, 31)}-${parentId}-01`);
    case 8:
      return invalid(`00-${traceId}-${parentId}0-01`);
    case 9:
      return invalid(`00-${traceId.toUpperCase().replace(/^[0-9]/, 'A')}-${parentId}-01`);
    case 10:
      return invalid(`00-${traceId}-${parentId}-0g`);
    case 11:
      return invalid(`00-${traceId}-${parentId}-01${repeat(random, '-x', 2000)}`); // huge
    case 12:
      return invalid(`${traceId}`);
    default:
      return invalid(`00_${traceId}_${parentId}_01`);
  }
}

const TRACESTATES = () => ['rojo=00f067aa0ba902b7', 'a=b,'.repeat(100), `k=${'v'.repeat(4000)}`, '=,=,=', 'ä=ö', 'x'.repeat(600)];

function path(random: Random, shape: ServiceShape): string {
  if (chance(random, 0.15)) return pick(random, OTHER_PATHS);
  if (chance(random, 0.03)) return `${shape.idRoute}${'9'.repeat(5000 + Math.floor(random() * 15000))}`; // an oversized request line
  const query = chance(random, 0.2) ? `?${Array.from({ length: 1 + Math.floor(random() * 5) }, () => `${hex(random, 3)}=${pick(random, IDS)}`).join('&')}` : '';
  const route = chance(random, 0.1) ? shape.idRoute.toUpperCase() : shape.idRoute;
  return `${route}${pick(random, IDS)}${pick(random, SUFFIXES)}${query}`;
}

/** A body for PUT /admin/slow-path, or any method that carries one: settings valid or not, other JSON, broken JSON. */
function jsonBody(random: Random): JsonBody {
  const body = (text: string, kind: BodyKind): JsonBody => ({ text, kind });
  return pick(random, [
    () => body(JSON.stringify({ rate: Math.round(random() * 100) / 100 }), 'settings'),
    () => {
      const delayMs = Math.floor(random() * 70_000);
      return body(JSON.stringify({ delayMs }), delayMs <= 60_000 ? 'settings' : 'invalid settings');
    },
    () =>
      body(JSON.stringify({ rate: pick(random, [-1, 2, 'x', null, true, [], {}, 1e308]), delayMs: pick(random, [-5, 1.5, '3000', 1e9]) }), 'invalid settings'),
    () => body(pick(random, ['{"rate": 0.1, "evil": true}', '{}']), 'invalid settings'), // an unknown field; no field
    () => body(pick(random, ['null', '42']), 'bare value'),
    () => body(pick(random, ['"rate"', ' true']), 'bare value'),
    () => body(pick(random, ['[]', '[0.5]', `${'['.repeat(5000)}${']'.repeat(5000)}`]), 'array'),
    () => body(pick(random, ['{', '{"rate":', '{"rate": 0.1,}', "{'rate': 0.1}", '\u0000', '{"rate": NaN}', ' ']), 'malformed'),
    () => body('x'.repeat(pick(random, [BODY_LIMIT, BODY_LIMIT + 1, 30_000])), 'malformed'), // at the limit, then over it
    () => body(`{"rate": 0.5}${' '.repeat(BODY_LIMIT)}`, 'settings'), // valid, but over the limit
    // 22 bytes around the padding: exactly the limit, one byte over, far over.
    () => body(`{"rate": 0.1, "x": "${'a'.repeat(BODY_LIMIT - 22 + pick(random, [0, 1, 5000]))}"}`, 'invalid settings'),
    () => body('', 'empty'),
  ])();
}

/** Mostly JSON's content type, so that express.json() reads the body. */
const contentType = (random: Random) => (chance(random, 0.8) ? pick(random, JSON_TYPES) : pick(random, OTHER_TYPES));

/** Generates `count` cases for one service from `seed`. */
export function generateCases(seed: number, count: number, shape: ServiceShape): FuzzCase[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, (_, index) => generateCase(random, index, shape));
}

function generateCase(random: Random, index: number, shape: ServiceShape): FuzzCase {
  const headerLines = ['host: 127.0.0.1', 'connection: close'];
  let method = 'GET';
  let target = path(random, shape);
  let body: JsonBody = { text: '', kind: 'empty' };
  let type: string | undefined;
  if (shape.adminRoute && chance(random, 0.25)) {
    method = chance(random, 0.85) ? 'PUT' : pick(random, ['GET', 'HEAD', 'POST', 'DELETE']);
    target = pick(random, [shape.adminRoute, `${shape.adminRoute}/`, shape.adminRoute.toUpperCase(), `${shape.adminRoute}?x=1`]);
    type = contentType(random);
    if (method !== 'HEAD') body = jsonBody(random);
  } else if (chance(random, 0.35)) {
    // A body on any route: express.json() reads it before routing, whatever the method.
    method = pick(random, ['POST', 'PUT', 'PATCH', 'GET', 'DELETE']);
    type = contentType(random);
    body = jsonBody(random);
  } else if (chance(random, 0.3)) {
    // A quarter each: HEAD, CONNECT (answered outside express, in http.ts), another method, a malformed one.
    method = pick(random, ['HEAD', 'CONNECT', pick(random, METHODS), pick(random, BAD_METHODS)]);
  }
  if (type !== undefined) headerLines.push(`content-type: ${type}`);
  const tp = chance(random, 0.5) ? traceparent(random) : undefined;
  if (tp) headerLines.push(`traceparent: ${tp.value}`);
  if (chance(random, 0.2)) headerLines.push(`tracestate: ${pick(random, TRACESTATES())}`);
  if (chance(random, 0.2)) headerLines.push(`x-user-id: ${pick(random, ['alice', '', 'ü'.repeat(3000), 'x'.repeat(10_000), '<script>'])}`);
  if (chance(random, 0.05)) headerLines.push(`x-huge: ${'h'.repeat(17_000)}`); // over Node's 16 KiB of headers
  if (chance(random, 0.06)) headerLines.push(pick(random, [...REFUSED_HEADER_LINES, 'x-latin: \u00e9'])); // the last one Node takes
  if (chance(random, 0.03)) headerLines.push(...Array.from({ length: 500 }, (_, i) => `x-many-${i}: ${i}`));
  const bytes = Buffer.from(body.text, 'utf8');
  const sendsBody = body.text !== '' || method === 'PUT' || method === 'POST';
  if (sendsBody) {
    // Mostly honest lengths; sometimes chunked. A length longer than the body would only hang.
    if (chance(random, 0.1)) headerLines.push('transfer-encoding: chunked');
    else headerLines.push(`content-length: ${bytes.length}`);
  }
  // Headers that end exactly at Node's limit, or one byte under it.
  const padding = HEADER_LIMIT - pick(random, [0, 1]) - countedHeaderBytes(target, headerLines) - 'x-pad'.length;
  if (chance(random, 0.04) && padding > 0) headerLines.push(`x-pad: ${'p'.repeat(padding)}`);
  const chunked = headerLines.includes('transfer-encoding: chunked');
  const sent = !chunked
    ? bytes
    : bytes.length === 0
      ? Buffer.from('0\r\n\r\n')
      : Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n0\r\n\r\n')]);
  const changesSettings = method === 'PUT' && routeOf(method, target, shape)?.route === 'admin';
  const { classes, expected } = expectations({ method, target, headerLines, contentType: type, body, sendsBody }, shape);
  return { index, method, target, headerLines, body: sent, traceparent: tp, changesSettings, classes, expected };
}

// ---- sending a case and reading its answer ----------------------------------------------------

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends one case over its own connection and reads the answer until the server closes it. */
export function sendRaw(port: number, fuzzCase: FuzzCase, timeoutMs = 20_000): Promise<RawResponse | { noAnswer: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {}); // the server may close before reading an oversized request; judged on what arrived
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('latin1');
      const parsed = parseResponse(raw, fuzzCase.method === 'HEAD');
      resolve(parsed ?? { noAnswer: raw.slice(0, 200) || '(connection closed without an answer)' });
    });
    socket.write(
      Buffer.concat([Buffer.from(`${fuzzCase.method} ${fuzzCase.target} HTTP/1.1\r\n${fuzzCase.headerLines.join('\r\n')}\r\n\r\n`, 'utf8'), fuzzCase.body]),
    );
  });
}

function parseResponse(raw: string, head: boolean): RawResponse | undefined {
  const end = raw.indexOf('\r\n\r\n');
  const status = /^HTTP\/1\.1 (\d{3})/.exec(raw);
  if (end < 0 || !status) return undefined;
  const headers: Record<string, string> = {};
  for (const line of raw.slice(0, end).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = head ? '' : raw.slice(end + 4);
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { status: Number(status[1]), headers, body: Buffer.from(body, 'latin1').toString('utf8') };
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, lineEnd), 16);
    if (!(size > 0)) return out;
    out += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
}

/** The request as one line, shortened, for a failure message. */
export function describeCase(fuzzCase: FuzzCase): string {
  const short = (text: string) => (text.length > 120 ? `${text.slice(0, 120)}… (${text.length} chars)` : text);
  const headers = fuzzCase.headerLines.slice(2);
  const shown = [...headers.slice(0, 6).map(short), ...(headers.length > 6 ? [`… ${headers.length - 6} more`] : [])];
  const what = `${fuzzCase.classes.join(' + ')}, expects ${fuzzCase.expected.join(' or ')}`;
  return `#${fuzzCase.index} (${what}) ${JSON.stringify(short(fuzzCase.method))} ${short(fuzzCase.target)} [${shown.join(' | ')}] body ${fuzzCase.body.length} bytes`;
}
