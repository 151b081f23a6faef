/**
 * NAME
 *   firewall/password - console passwords: scrypt hashes, constant-time verification
 *
 * SYNOPSIS
 *   await hashPassword(password, params?): string        `scrypt$N$r$p$<salt>$<key>` (base64url)
 *   await verifyPassword(password, stored): boolean      false for a wrong password or a malformed hash
 *   await burnPassword(password, params?): void          the cost of one verification, for unknown names
 *   passwordProblem(password): string | undefined        why a new password is refused
 *   SCRYPT_DEFAULTS
 *
 * DESCRIPTION
 *   scrypt (RFC 7914) from node:crypto, asynchronous (libuv's thread pool: the event loop does
 *   not wait for it). Defaults N = 2^15, r = 8, p = 1 (OWASP's minimum is N = 2^17 with r = 8
 *   for p = 1 when memory allows; 2^15 is RFC 7914's interactive-login figure and costs 32 MiB
 *   and about 50 ms a hash here), a 16-byte random salt and a 32-byte key. The parameters are
 *   written into the hash, so raising them later leaves old hashes verifiable.
 *
 *   Verification derives the key with the stored parameters and compares with
 *   crypto.timingSafeEqual. A stored hash whose parameters are out of bounds (a damaged or
 *   hostile record) is not verified at all: false, without spending memory on it.
 *
 * LIMITS
 *   PASSWORD_MIN_CHARS (10), PASSWORD_MAX_BYTES (1,024: scrypt's first step is PBKDF2 over the
 *   whole password, so an unbounded one is CPU for free); stored N at most 2^20, r at most 32,
 *   p at most 16.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const SCRYPT_DEFAULTS: ScryptParams = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });
export const SALT_BYTES = 16;
export const KEY_BYTES = 32;
export const PASSWORD_MIN_CHARS = 10;
export const PASSWORD_MAX_BYTES = 1_024;
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;
/** scrypt needs 128 · N · r bytes; node refuses above maxmem (32 MiB by default), so give it room. */
const MEMORY_MARGIN_BYTES = 16 * 1024 * 1024;
const PREFIX = 'scrypt';

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 128 * params.N * params.r + MEMORY_MARGIN_BYTES };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_BYTES, options, (err, key) => (err === null ? resolve(key) : reject(err)));
  });
}

function paramsOk(params: ScryptParams): boolean {
  const { N, r, p } = params;
  return Number.isSafeInteger(N) && N >= 2 && N <= MAX_N && (N & (N - 1)) === 0 && Number.isSafeInteger(r) && r >= 1 && r <= MAX_R && Number.isSafeInteger(p) && p >= 1 && p <= MAX_P;
}

/** passwordProblem - why `password` cannot be a console password, or undefined. */
export function passwordProblem(password: string): string | undefined {
  if (typeof password !== 'string') return 'the password is not text';
  if ([...password].length < PASSWORD_MIN_CHARS) return `the password is shorter than ${PASSWORD_MIN_CHARS} characters`;
  if (Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES) return `the password is longer than ${PASSWORD_MAX_BYTES} bytes`;
  return undefined;
}

/** hashPassword - a new salted scrypt hash of `password`, parameters included. */
export async function hashPassword(password: string, params: ScryptParams = SCRYPT_DEFAULTS): Promise<string> {
  if (!paramsOk(params)) throw new RangeError(`scrypt parameters N=${params.N} r=${params.r} p=${params.p} are out of bounds`);
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params);
  return [PREFIX, params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

interface ParsedHash {
  readonly params: ScryptParams;
  readonly salt: Buffer;
  readonly key: Buffer;
}

function parseHash(stored: string): ParsedHash | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== PREFIX) return undefined;
  const [, n, r, p, salt, key] = parts as [string, string, string, string, string, string];
  if (![n, r, p].every((x) => /^[0-9]{1,8}$/.test(x))) return undefined;
  if (![salt, key].every((x) => /^[A-Za-z0-9_-]{1,128}$/.test(x))) return undefined;
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  if (!paramsOk(params)) return undefined;
  const keyBytes = Buffer.from(key, 'base64url');
  if (keyBytes.length !== KEY_BYTES) return undefined;
  return { params, salt: Buffer.from(salt, 'base64url'), key: keyBytes };
}

/** verifyPassword - whether `password` matches `stored`; false for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (parsed === undefined) return false;
  const key = await derive(password, parsed.salt, parsed.params);
  return timingSafeEqual(key, parsed.key);
}

/** burnPassword - spends what one verification spends, and answers nothing (unknown accounts). */
export async function burnPassword(password: string, params: ScryptParams = SCRYPT_DEFAULTS): Promise<void> {
  const key = await derive(password, randomBytes(SALT_BYTES), params);
  timingSafeEqual(key, randomBytes(KEY_BYTES));
}
