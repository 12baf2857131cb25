// Optional protection of the endpoints that change a service's behaviour for everyone (inventory's
// PUT /admin/slow-path). With ADMIN_TOKEN set, such a request must carry `Authorization: Bearer
// <token>`, else it is answered 401; without ADMIN_TOKEN (the default: in a workshop everyone may
// flip the slow path) nothing is checked. The tokens are compared in constant time: their SHA-256
// digests, so that neither the contents nor the length of the token leak through the timing.
import type { RequestHandler } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from './http.ts';

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Express middleware: passes everything when `token` is empty or unset. */
export function requireAdminToken(token: string | undefined): RequestHandler {
  if (!token) return (_req, _res, next) => next();
  const expected = digest(token);
  return (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const given = /^Bearer (.+)$/.exec(header)?.[1] ?? '';
    next(timingSafeEqual(digest(given), expected) ? undefined : new HttpError(401, 'this endpoint needs Authorization: Bearer <ADMIN_TOKEN>'));
  };
}
