/**
 * NAME
 *   store/redis/keys - the Redis key design of RedisStore, in one place
 *
 * SYNOPSIS
 *   const keys = new RedisKeys(prefix)
 *   keys.listing(ip), keys.listingsAll, keys.listingsByState(state), keys.listingsDue, …
 *   orderMember(time, id): string          `<16-digit time>|<id>`, sorts by time, then id
 *   memberId(member): string               the id part of an order member
 *   encodeCursor(member) / decodeCursor(text)   opaque page positions (base64url)
 *   timePad(time): string
 *
 * DESCRIPTION
 *   Every key RedisStore touches starts with the prefix (default `blocksmith:`), so several
 *   deployments or test runs can share one Redis. With `<p>` for the prefix:
 *
 *     <p>listing:<ip>             hash  json, state, member           one per listing
 *     <p>listings                 zset  (lex) members of every listing, `<listedAt>|<ip>`
 *     <p>listings:<state>         zset  (lex) the same members, per state (active/cleared/expired)
 *     <p>listings:due             zset  score recheckDueAt, member ip; active listings only
 *     <p>evidence:<ref>           string json, expires after EVIDENCE_RETENTION_MS (../retention.ts)
 *     <p>allow                    hash  id → json (the allowlist is small; read whole)
 *     <p>request:<ref>            hash  json, state, member
 *     <p>requests                 zset  (lex) `<createdAt>|<ref>`; <p>requests:<state> per state
 *     <p>contact:<id>             hash  json, member
 *     <p>contacts                 zset  (lex) `<at>|<id>`
 *     <p>audit:seq                string counter giving audit ids (12 digits)
 *     <p>audit:data               hash  id → json (without the id)
 *     <p>audit                    zset  (lex) `<at>|<id>`, capped at AUDIT_MAX_ENTRIES
 *     <p>stats:<hour>             hash  counter → count, expires after STATS_RETENTION_MS
 *     <p>stats:hours              zset  score hour, member hour: which hours have counters
 *     <p>lease:<name>             string `<expiresAt>\n<holder>`, PX ttl
 *     <p>events                   pub/sub channel: StoreEvent JSON plus the writer's node id
 *
 *   Order sets hold every member with score 0 and are read with ZRANGEBYLEX: the time is
 *   zero-padded to TIME_PAD_DIGITS so text order is time order, and ties fall to the id. A page
 *   cursor is the last member returned, base64url-encoded: opaque to callers, exact for us.
 *
 * DIAGNOSTICS
 *   decodeCursor throws RangeError on text that is not one of our cursors (a caller's bug).
 *
 * SEE ALSO
 *   store/redis/scripts.ts (the writes), docs/storage.md (## Redis).
 */
import type { ListingState, RequestState } from '../types.js';

/** Digits of a zero-padded time in an order member (ms since epoch fit in 16 digits). */
export const TIME_PAD_DIGITS = 16;
/** Separator between the padded time and the id in an order member. */
export const MEMBER_SEPARATOR = '|';
/** Longest cursor text accepted (characters); a member is a time, a separator and an id. */
export const CURSOR_MAX_CHARS = 1024;

export const LISTING_STATES: readonly ListingState[] = ['active', 'cleared', 'expired'];
export const REQUEST_STATES: readonly RequestState[] = ['pending', 'approved', 'denied'];

/** timePad - ms since epoch as TIME_PAD_DIGITS digits; negative or fractional times are clamped. */
export function timePad(time: number): string {
  const whole = Number.isFinite(time) && time > 0 ? Math.floor(time) : 0;
  return String(whole).padStart(TIME_PAD_DIGITS, '0');
}

/** orderMember - the member of an order set: padded time, separator, id. */
export function orderMember(time: number, id: string): string {
  return `${timePad(time)}${MEMBER_SEPARATOR}${id}`;
}

/** memberId - the id part of an order member. */
export function memberId(member: string): string {
  return member.slice(TIME_PAD_DIGITS + MEMBER_SEPARATOR.length);
}

/** encodeCursor - an order member as an opaque page cursor. */
export function encodeCursor(member: string): string {
  return Buffer.from(member, 'utf8').toString('base64url');
}

/** decodeCursor - back to the order member; RangeError when it is not one of ours. */
export function decodeCursor(text: string): string {
  if (typeof text !== 'string' || text.length === 0 || text.length > CURSOR_MAX_CHARS || !/^[A-Za-z0-9_-]+$/.test(text)) {
    throw new RangeError('page cursor is not valid');
  }
  const member = Buffer.from(text, 'base64url').toString('utf8');
  const time = member.slice(0, TIME_PAD_DIGITS);
  if (!/^[0-9]+$/.test(time) || time.length !== TIME_PAD_DIGITS || member[TIME_PAD_DIGITS] !== MEMBER_SEPARATOR) {
    throw new RangeError('page cursor is not valid');
  }
  return member;
}

/** RedisKeys - the key names under one prefix. */
export class RedisKeys {
  readonly listingsAll: string;
  readonly listingsDue: string;
  readonly allow: string;
  readonly requestsAll: string;
  readonly contacts: string;
  readonly auditSeq: string;
  readonly auditData: string;
  readonly auditOrder: string;
  readonly statsHours: string;
  readonly events: string;

  constructor(readonly prefix: string) {
    this.listingsAll = `${prefix}listings`;
    this.listingsDue = `${prefix}listings:due`;
    this.allow = `${prefix}allow`;
    this.requestsAll = `${prefix}requests`;
    this.contacts = `${prefix}contacts`;
    this.auditSeq = `${prefix}audit:seq`;
    this.auditData = `${prefix}audit:data`;
    this.auditOrder = `${prefix}audit`;
    this.statsHours = `${prefix}stats:hours`;
    this.events = `${prefix}events`;
  }

  listing(ip: string): string {
    return `${this.prefix}listing:${ip}`;
  }

  /** listingsByState - the per-state order set; any text is accepted so a bad state reaches the script's check. */
  listingsByState(state: string): string {
    return `${this.prefix}listings:${state}`;
  }

  evidence(ref: string): string {
    return `${this.prefix}evidence:${ref}`;
  }

  request(ref: string): string {
    return `${this.prefix}request:${ref}`;
  }

  requestsByState(state: string): string {
    return `${this.prefix}requests:${state}`;
  }

  contact(id: string): string {
    return `${this.prefix}contact:${id}`;
  }

  stats(hour: number): string {
    return `${this.prefix}stats:${hour}`;
  }

  lease(name: string): string {
    return `${this.prefix}lease:${name}`;
  }

  /** The audit keys in the order every write script takes them. */
  get auditKeys(): readonly [string, string, string] {
    return [this.auditData, this.auditOrder, this.auditSeq];
  }

  /** The three per-state listing sets, in LISTING_STATES order. */
  get listingStateKeys(): readonly string[] {
    return LISTING_STATES.map((s) => this.listingsByState(s));
  }

  get requestStateKeys(): readonly string[] {
    return REQUEST_STATES.map((s) => this.requestsByState(s));
  }
}
