/**
 * NAME
 *   fronts/api/auth - operator API keys: made, hashed, checked in constant time
 *
 * SYNOPSIS
 *   newApiKey(): string                         `bsk_` + 43 base64url characters (256 random bits)
 *   hashApiKey(key): string                     SHA-256, lower-case hex (what the config holds)
 *   new ApiKeys(entries).verify(header): string | undefined     the key's name
 *   bearerToken(header): string | undefined
 *
 * DESCRIPTION
 *   The configuration holds only `{ name, sha256 }` (config/sections/http.ts): a leaked config
 *   file gives nobody a key. A request's key is hashed and compared with every configured hash
 *   by crypto.timingSafeEqual, all of them every time (no early exit), so neither the answer
 *   time nor the position of a match tells anything about the keys. Hashing first gives equal
 *   lengths for the comparison whatever was sent. Keys have 256 random bits, so a plain hash
 *   (no salt, no stretching) is enough: there is nothing to guess from a dictionary.
 *
 *   A header that is not `Bearer <token>` (RFC 6750 §2.1), or a token longer than
 *   API_KEY_MAX_CHARS, is no key: nothing is hashed.
 *
 * LIMITS
 *   API_KEY_MAX_CHARS (256).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyEntry } from '../../config/sections/http.js';

export const API_KEY_PREFIX = 'bsk_';
export const API_KEY_RANDOM_BYTES = 32;
export const API_KEY_MAX_CHARS = 256;

export function newApiKey(): string {
  return API_KEY_PREFIX + randomBytes(API_KEY_RANDOM_BYTES).toString('base64url');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The token of `Authorization: Bearer <token>` (RFC 6750 b64token characters), else undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length > API_KEY_MAX_CHARS + 16) return undefined;
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  const token = m?.[1];
  return token === undefined || token.length > API_KEY_MAX_CHARS ? undefined : token;
}

export class ApiKeys {
  private readonly entries: ReadonlyArray<{ readonly name: string; readonly hash: Buffer }>;

  constructor(entries: readonly ApiKeyEntry[]) {
    this.entries = entries.map((e) => ({ name: e.name, hash: Buffer.from(e.sha256, 'hex') }));
  }

  get count(): number {
    return this.entries.length;
  }

  /** The name of the key in `Authorization`, or undefined when there is none or it is unknown. */
  verify(header: string | undefined): string | undefined {
    const token = bearerToken(header);
    if (token === undefined) return undefined;
    const presented = createHash('sha256').update(token, 'utf8').digest();
    let found: string | undefined;
    for (const entry of this.entries) {
      // Every entry is compared, match or not: the time does not depend on which one matches.
      if (timingSafeEqual(presented, entry.hash) && found === undefined) found = entry.name;
    }
    return found;
  }
}
