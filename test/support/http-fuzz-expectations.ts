// The expected-status model of the fuzz test: what a generated request may be wrong in (its defect
// classes), what each class is answered with, and the function that derives a case's classes and
// expected statuses. The statuses are those Node 24's HTTP parser (llhttp), express.json() and the
// services' routes give, measured request by request. The classes are the order in which a service
// meets a request's defects: Node's parser reads the request line, then the headers; CONNECT leaves
// express; express.json() reads the body; the routes come last. The first defect met decides the
// answer, so a case lists all of its classes in that order, and expects the statuses of the first.
// The generator (http-fuzz.ts) imports this file to tag its cases; this file imports nothing from it.

/** The routes of one service, which the generator aims at and the model answers for. */
export interface ServiceShape {
  /** The route with an id, e.g. /orders/ */
  idRoute: string;
  adminRoute?: string;
  /** The answer to an id above pricing's catalog (9999): the documented error path. */
  errorPathStatus?: number;
}

/**
 * What a generated request may be wrong in, with the status each gets when it decides, as Node 24's
 * HTTP parser (llhttp), express 5 and the services answer. Node meets the request line first, then
 * the headers, then express.json() the body, then the routes.
 */
export const DEFECT_STATUSES = {
  /** An unknown or lower-case method, or a space or non-ASCII byte in the target. */
  'malformed request line': [400],
  /** The target plus every header's name and value reaching 16 KiB (Node's limit). */
  'header overflow': [431],
  /** A header line Node's parser refuses. */
  'malformed header line': [400],
  /** Node hands CONNECT to its own event, where the services refuse it. */
  CONNECT: [405],
  /** A JSON body in a charset other than UTF-8 (express.json() refuses it before reading). */
  'unsupported charset': [415],
  'body too large': [413],
  'malformed JSON body': [400],
  /** Valid JSON, not an object: express.json()'s strict mode refuses a bare value, the settings route an array. */
  'JSON not an object': [400],
  'unknown route': [404],
  'bad id': [400],
  'id out of range': [400],
  /** PUT /admin/slow-path without content-type: application/json. */
  'wrong content type': [415],
  /** Settings the slow path refuses: out of range, of the wrong type, unknown or missing fields. */
  'invalid settings': [400],
} as const;

export type Defect = keyof typeof DEFECT_STATUSES;
/** The error path is no defect but its own answer; a request without either is valid. */
export type CaseClass = Defect | 'error path' | 'valid request';

/** Methods Node's parser refuses: unknown, lower-case, empty, with a space, a NUL or non-ASCII bytes. */
export const BAD_METHODS = ['FOO', 'G E T', 'get', '', 'GET\u0000', '\u00ff\u00fe'];
/**
 * Header lines Node's parser refuses: no colon, obs-fold (a continuation line, RFC 9112 5.2), a NUL,
 * no name, a content-length that is no number. (UTF-8 in a value it takes: `x-latin`, `x-user-id`.)
 */
export const REFUSED_HEADER_LINES = ['bad header', 'x-fold: a\r\n folded', 'x-nul: a\u0000b', ': empty-name', 'content-length: abc'];
/**
 * Node's header limit, 16 KiB, refused when reached: it counts the request target and each header's
 * name and value, not the method, the version, the ': ' or the line ends (measured).
 */
export const HEADER_LIMIT = 16 * 1024;
/** express.json()'s limit ('16kb'): a body of exactly this many bytes is still read. */
export const BODY_LIMIT = 16 * 1024;

/** What a body meant as JSON is, as the slow-path settings see it. */
export type BodyKind = 'settings' | 'invalid settings' | 'array' | 'bare value' | 'malformed' | 'empty';
export interface JsonBody {
  text: string;
  kind: BodyKind;
}

/** A request as the generator made it, before it is framed (chunked or not) for the wire. */
export interface GeneratedRequest {
  method: string;
  target: string;
  headerLines: string[];
  contentType: string | undefined;
  body: JsonBody;
  /** Announced by a content-length or chunked: express.json() reads only such a body. */
  sendsBody: boolean;
}

/** A class the request is in, and the statuses it gets if it decides. */
type Met = { caseClass: CaseClass; statuses: readonly number[] };
const defect = (caseClass: Defect): Met => ({ caseClass, statuses: DEFECT_STATUSES[caseClass] });

/** The request's classes, in the order the service meets them, and the statuses the first decides. */
export function expectations(request: GeneratedRequest, shape: ServiceShape): { classes: CaseClass[]; expected: number[] } {
  const met = [
    ...requestLineDefects(request),
    ...headerDefects(request),
    ...(request.method === 'CONNECT' ? [defect('CONNECT')] : []),
    ...bodyDefects(request),
    ...routeClasses(request, shape),
  ];
  if (met.length === 0) return { classes: ['valid request'], expected: [200] };
  return { classes: met.map((m) => m.caseClass), expected: [...met[0]!.statuses] };
}

function requestLineDefects({ method, target }: GeneratedRequest): Met[] {
  // The target may hold visible ASCII only: a space ends it early (an id of ' 1'), a UTF-8 byte
  // (an id of '٣') is refused, though Node takes UTF-8 in a header value.
  return BAD_METHODS.includes(method) || /[^\x21-\x7e]/.test(target) ? [defect('malformed request line')] : [];
}

/** Bytes of a header line Node counts against its limit: the name and the value, without ': '. */
function countedBytes(line: string): number {
  const colon = line.indexOf(':');
  return Buffer.byteLength(line.slice(0, colon)) + Buffer.byteLength(line.slice(colon + 1).replace(/^[ \t]+/, ''));
}

/** The bytes Node counts against HEADER_LIMIT: the target and the header lines its parser takes. */
export const countedHeaderBytes = (target: string, lines: string[]) =>
  lines.filter((line) => !REFUSED_HEADER_LINES.includes(line)).reduce((sum, line) => sum + countedBytes(line), Buffer.byteLength(target));

/** Header overflow and a refused header line, in the order the parser meets them (lines in order). */
function headerDefects({ target, headerLines }: GeneratedRequest): Met[] {
  const overflow = countedHeaderBytes(target, headerLines) >= HEADER_LIMIT;
  const refusedAt = headerLines.findIndex((line) => REFUSED_HEADER_LINES.includes(line));
  if (refusedAt < 0) return overflow ? [defect('header overflow')] : [];
  if (!overflow) return [defect('malformed header line')];
  const before = countedHeaderBytes(target, headerLines.slice(0, refusedAt));
  if (before >= HEADER_LIMIT) return [defect('header overflow'), defect('malformed header line')];
  if (before + Buffer.byteLength(headerLines[refusedAt]!) < HEADER_LIMIT) return [defect('malformed header line'), defect('header overflow')];
  // The parser counts part of the refused line before refusing it: which comes first is not worth modelling.
  return [{ caseClass: 'malformed header line', statuses: [400, 431] }, defect('header overflow')];
}

const isJson = (type: string | undefined) => (type ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';

/** What express.json() refuses, in its order: the charset before reading, the size before parsing. */
function bodyDefects({ contentType, body, sendsBody }: GeneratedRequest): Met[] {
  if (!sendsBody || !isJson(contentType)) return [];
  const charset = /charset=([^;\s]+)/i.exec(contentType!)?.[1] ?? 'utf-8';
  return [
    ...(charset.toLowerCase().startsWith('utf-') ? [] : [defect('unsupported charset')]),
    ...(Buffer.byteLength(body.text) > BODY_LIMIT ? [defect('body too large')] : []),
    ...(body.kind === 'malformed' ? [defect('malformed JSON body')] : []),
    // Its strict mode takes objects and arrays only; an empty body it reads as {}.
    ...(body.kind === 'bare value' ? [defect('JSON not an object')] : []),
  ];
}

/**
 * The route express 5 picks: matched case-insensitively with one optional trailing slash, on the
 * path alone (an absolute-form target's authority, the query and a '#fragment' aside); HEAD takes
 * the GET route. The id route is found whatever the method, because express decodes its id before
 * it looks at the method. No route answers OPTIONS: express's automatic answer would come after the
 * services' catch-all 404, which answers first.
 */
export function routeOf(method: string, target: string, shape: ServiceShape): { route: 'health' | 'admin' } | { route: 'id'; id: string } | undefined {
  const path = target.replace(/^[a-z]+:\/\/[^/]*/i, '').split(/[?#]/)[0]!;
  const matches = (route: string) => new RegExp(`^${route}/?$`, 'i').test(path);
  if (isReading(method) && matches('/healthz')) return { route: 'health' };
  if (shape.adminRoute && (isReading(method) || method === 'PUT') && matches(shape.adminRoute)) return { route: 'admin' };
  const id = new RegExp(`^${shape.idRoute}([^/]+)/?$`, 'i').exec(path)?.[1];
  return id === undefined ? undefined : { route: 'id', id };
}

const isReading = (method: string) => method === 'GET' || method === 'HEAD';

function routeClasses(request: GeneratedRequest, shape: ServiceShape): Met[] {
  const found = routeOf(request.method, request.target, shape);
  if (!found) return [defect('unknown route')];
  if (found.route === 'id') return idClasses(found.id, request.method, shape);
  return found.route === 'admin' && request.method === 'PUT' ? settingsDefects(request) : [];
}

/** An id express cannot decode is a 400 for every method; then only GET and HEAD have the route, and parseId judges. */
function idClasses(raw: string, method: string, shape: ServiceShape): Met[] {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    return [defect('bad id')];
  }
  if (!isReading(method)) return [defect('unknown route')];
  if (!/^\d+$/.test(id)) return [defect('bad id')];
  const value = Number(id);
  if (value < 1 || value > 1_000_000_000) return [defect('id out of range')];
  return value > 9999 && shape.errorPathStatus ? [{ caseClass: 'error path', statuses: [shape.errorPathStatus] }] : [];
}

/** PUT /admin/slow-path: the content type, then the settings (a body that is not JSON is not read as JSON). */
function settingsDefects({ contentType, body }: GeneratedRequest): Met[] {
  if (!isJson(contentType)) return [defect('wrong content type')];
  if (body.kind === 'array') return [defect('JSON not an object')];
  return body.kind === 'invalid settings' || body.kind === 'empty' ? [defect('invalid settings')] : [];
}

/** The classes a service's cases can be in. */
export function possibleClasses(shape: ServiceShape): CaseClass[] {
  const adminOnly: CaseClass[] = shape.adminRoute ? [] : ['wrong content type', 'invalid settings'];
  const classes: CaseClass[] = [...(Object.keys(DEFECT_STATUSES) as Defect[]), ...(shape.errorPathStatus ? ['error path' as const] : []), 'valid request'];
  return classes.filter((c) => !adminOnly.includes(c));
}
