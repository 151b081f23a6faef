/**
 * NAME
 *   web/csrf - tokens that prove a form was shown by this portal to this browser
 *
 * SYNOPSIS
 *   const csrf = new Csrf({ ttlMs, now })
 *   const { cookie, token } = csrf.issue(request)    cookie: a Set-Cookie value or undefined (already set)
 *   csrf.verify(request, token): boolean
 *
 * DESCRIPTION
 *   Double submit, signed: the browser holds a random nonce in the cookie `bs_csrf`
 *   (HttpOnly, SameSite=Strict, Path=/, Secure over https); each form carries
 *   `<issued>.<mac>`, where mac = HMAC-SHA256(secret, nonce "." issued). A POST is accepted only
 *   with the cookie, a token whose MAC matches that cookie's nonce (compared in constant time)
 *   and an issue time no older than portal.csrfTokenTtlMs. Another site can neither read the
 *   token nor make the browser send the Strict cookie. Nothing is stored on the server.
 *
 *   The secret is 32 random bytes drawn when the portal starts: a restart invalidates open
 *   forms (the visitor gets the form again), which is the safe side.
 *
 *   Nonces are cut from a pool of CSPRNG bytes refilled NONCE_POOL_COUNT nonces at a time: one
 *   randomBytes() call per page costs more than the rest of the token (a first visit without the
 *   cookie gets a nonce on every page), and bytes handed out once are never handed out again.
 */
import { createHmac, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

export const CSRF_COOKIE = 'bs_csrf';
const NONCE_BYTES = 18;
const SECRET_BYTES = 32;
/** Nonces drawn from the CSPRNG per refill of the pool. */
const NONCE_POOL_COUNT = 256;
/** Longest cookie header looked at (a larger one is not ours to parse). */
const COOKIE_HEADER_MAX_CHARS = 8_192;

export interface CsrfOptions {
  readonly ttlMs: number;
  readonly now: () => number;
}

/** The value of one cookie from a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > COOKIE_HEADER_MAX_CHARS) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export class Csrf {
  private readonly secret = randomBytes(SECRET_BYTES);
  private readonly options: CsrfOptions;
  private readonly pool = Buffer.alloc(NONCE_BYTES * NONCE_POOL_COUNT);
  /** Next unused byte of the pool; at its end the pool is refilled. */
  private poolAt = this.pool.length;

  constructor(options: CsrfOptions) {
    this.options = options;
  }

  private mac(nonce: string, issued: string): string {
    return createHmac('sha256', this.secret).update(`${nonce}.${issued}`).digest('base64url');
  }

  /** A fresh nonce (base64url, 24 characters): bytes of the pool not used before. */
  private freshNonce(): string {
    if (this.poolAt + NONCE_BYTES > this.pool.length) {
      randomFillSync(this.pool);
      this.poolAt = 0;
    }
    const nonce = this.pool.toString('base64url', this.poolAt, this.poolAt + NONCE_BYTES);
    this.poolAt += NONCE_BYTES;
    return nonce;
  }

  private nonceOf(request: FastifyRequest): string | undefined {
    const value = readCookie(request.headers.cookie, CSRF_COOKIE);
    return value !== undefined && /^[A-Za-z0-9_-]{24}$/.test(value) ? value : undefined;
  }

  /** issue - a token for a form; a Set-Cookie value when the browser has no nonce yet. */
  issue(request: FastifyRequest): { readonly token: string; readonly cookie?: string } {
    let nonce = this.nonceOf(request);
    let cookie: string | undefined;
    if (nonce === undefined) {
      nonce = this.freshNonce();
      const secure = request.protocol === 'https' ? '; Secure' : '';
      cookie = `${CSRF_COOKIE}=${nonce}; Path=/; HttpOnly; SameSite=Strict${secure}`;
    }
    const issued = this.options.now().toString(36);
    return { token: `${issued}.${this.mac(nonce, issued)}`, ...(cookie === undefined ? {} : { cookie }) };
  }

  verify(request: FastifyRequest, token: unknown): boolean {
    const nonce = this.nonceOf(request);
    if (nonce === undefined || typeof token !== 'string' || token.length > 100) return false;
    const dot = token.indexOf('.');
    if (dot <= 0) return false;
    const issued = token.slice(0, dot);
    const at = parseInt(issued, 36);
    const age = this.options.now() - at;
    if (!/^[0-9a-z]{1,12}$/.test(issued) || !Number.isFinite(at) || age < 0 || age > this.options.ttlMs) return false;
    const given = Buffer.from(token.slice(dot + 1));
    const expected = Buffer.from(this.mac(nonce, issued));
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
