/**
 * NAME
 *   firewall/reference - short, unguessable reference ids for rejections and requests
 *
 * SYNOPSIS
 *   newReference(): string          e.g. `K7Q2M9PX`
 *   isReference(text: string): boolean
 *
 * DESCRIPTION
 *   A reference is REFERENCE_BYTES (5) bytes from crypto.randomBytes written as REFERENCE_CHARS (8)
 *   characters of Crockford's base32 (0-9, A-Z without I, L, O, U): 40 bits, easy to read aloud
 *   and to type from a bounce. The random bytes come from a pool refilled by one randomBytes
 *   call per POOL_REFERENCES references (each byte used once, then zeroed). It is in every reply URL and names the evidence kept.
 *
 *   Uniqueness is not checked against the store: at a million references a day for a year the
 *   chance that any two collide is about 1 - e^(-n²/2^41) ≈ 6 % over the whole year, and a
 *   collision only makes an old piece of evidence be replaced by a newer one of another IP.
 *   Unguessable enough for its purpose: a reference shows what the reply already told the peer.
 */
import { randomBytes } from 'node:crypto';

/** Crockford's base32 alphabet. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const REFERENCE_BYTES = 5;
export const REFERENCE_CHARS = 8;
const BITS_PER_CHAR = 5;
const BITS_PER_BYTE = 8;

/** References drawn from one crypto.randomBytes call (a call costs about a microsecond). */
const POOL_REFERENCES = 256;
let pool = Buffer.alloc(0);
let poolAt = 0;

/** newReference - 8 Crockford base32 characters from 40 random bits. */
export function newReference(): string {
  if (poolAt + REFERENCE_BYTES > pool.length) {
    pool = randomBytes(REFERENCE_BYTES * POOL_REFERENCES);
    poolAt = 0;
  }
  // 40 bits fit a double exactly; read them as one number. Each pool byte is used once.
  let value = 0;
  for (let i = 0; i < REFERENCE_BYTES; i++) value = value * 2 ** BITS_PER_BYTE + (pool[poolAt + i] ?? 0);
  pool.fill(0, poolAt, poolAt + REFERENCE_BYTES);
  poolAt += REFERENCE_BYTES;
  let out = '';
  for (let i = 0; i < REFERENCE_CHARS; i++) {
    out = (ALPHABET[value % 2 ** BITS_PER_CHAR] ?? '0') + out;
    value = Math.floor(value / 2 ** BITS_PER_CHAR);
  }
  return out;
}

/** isReference - true for text shaped like a reference (exact length, alphabet, upper case). */
export function isReference(text: string): boolean {
  return text.length === REFERENCE_CHARS && /^[0-9A-HJKMNP-TV-Z]+$/.test(text);
}
