// A seeded generator of hostile HTTP requests for the fuzz test, and a raw-socket client to send
// them: raw, because fetch would refuse or repair most of what the generator makes (bad methods,
// malformed headers, lying lengths). Same seed, same cases: a failure prints its seed and case.
import { connect } from 'node:net';

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
}

export interface ServiceShape {
  /** The route with an id, e.g. /orders/ */
  idRoute: string;
  adminRoute?: string;
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
const METHODS = ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND'];
const BAD_METHODS = ['FOO', 'G E T', 'get', '', 'GET\u0000', '\u00ff\u00fe'];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin-1',
  '',
];

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

/** A body for PUT /admin/slow-path: valid settings, wrong types, malformed or oversized JSON. */
function adminBody(random: Random): string {
  return pick(random, [
    () => JSON.stringify({ rate: Math.round(random() * 100) / 100 }),
    () => JSON.stringify({ delayMs: Math.floor(random() * 70_000) }),
    () => JSON.stringify({ rate: pick(random, [-1, 2, 'x', null, true, [], {}, 1e308]), delayMs: pick(random, [-5, 1.5, '3000', 1e9]) }),
    () => JSON.stringify({ rate: 0.1, evil: true }),
    () => JSON.stringify(pick(random, [[], null, 'rate', 42, {}])),
    () => pick(random, ['{', '{"rate":', '{"rate": 0.1,}', "{'rate': 0.1}", '\u0000', '{"rate": NaN}']),
    () => `{"rate": 0.1, "x": "${'a'.repeat(20_000)}"}`, // over the 16 kB body limit
    () => `${'['.repeat(5000)}${']'.repeat(5000)}`,
    () => '',
  ])();
}

/** Generates `count` cases for one service from `seed`. */
export function generateCases(seed: number, count: number, shape: ServiceShape): FuzzCase[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, (_, index) => {
    const headerLines = ['host: 127.0.0.1', 'connection: close'];
    let method = 'GET';
    let target = path(random, shape);
    let body = '';
    let changesSettings = false;
    if (shape.adminRoute && chance(random, 0.25)) {
      method = chance(random, 0.9) ? 'PUT' : pick(random, ['GET', 'POST', 'DELETE']);
      target = shape.adminRoute;
      body = adminBody(random);
      changesSettings = method === 'PUT';
      headerLines.push(`content-type: ${pick(random, CONTENT_TYPES)}`);
    } else if (chance(random, 0.2)) {
      method = chance(random, 0.3) ? 'HEAD' : chance(random, 0.75) ? pick(random, METHODS) : pick(random, BAD_METHODS);
      if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
        body = chance(random, 0.5) ? '{"rate": 1}' : 'x'.repeat(Math.floor(random() * 30_000));
        headerLines.push(`content-type: ${pick(random, CONTENT_TYPES)}`);
      }
    }
    const tp = chance(random, 0.5) ? traceparent(random) : undefined;
    if (tp) headerLines.push(`traceparent: ${tp.value}`);
    if (chance(random, 0.2)) headerLines.push(`tracestate: ${pick(random, TRACESTATES())}`);
    if (chance(random, 0.2)) headerLines.push(`x-user-id: ${pick(random, ['alice', '', 'ü'.repeat(3000), 'x'.repeat(10_000), '<script>'])}`);
    if (chance(random, 0.05)) headerLines.push(`x-huge: ${'h'.repeat(17_000)}`); // over Node's 16 kB of headers
    if (chance(random, 0.05))
      headerLines.push(pick(random, ['bad header', 'x-fold: a\r\n folded', 'x-nul: a\u0000b', ': empty-name', 'content-length: abc', 'x-latin: \u00e9']));
    if (chance(random, 0.03)) headerLines.push(...Array.from({ length: 500 }, (_, i) => `x-many-${i}: ${i}`));
    const bytes = Buffer.from(body, 'utf8');
    if (body !== '' || method === 'PUT' || method === 'POST') {
      // Mostly honest lengths; sometimes chunked. A length longer than the body would only hang.
      if (chance(random, 0.1)) headerLines.push('transfer-encoding: chunked');
      else headerLines.push(`content-length: ${bytes.length}`);
    }
    const chunked = headerLines.includes('transfer-encoding: chunked');
    const sent = !chunked
      ? bytes
      : bytes.length === 0
        ? Buffer.from('0\r\n\r\n')
        : Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n0\r\n\r\n')]);
    return { index, method, target, headerLines, body: sent, traceparent: tp, changesSettings };
  });
}

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
  return `#${fuzzCase.index} ${JSON.stringify(short(fuzzCase.method))} ${short(fuzzCase.target)} [${shown.join(' | ')}] body ${fuzzCase.body.length} bytes`;
}
