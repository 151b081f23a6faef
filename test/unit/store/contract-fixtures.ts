/**
 * NAME
 *   test/unit/store/contract-fixtures - records, unique keys and small helpers for the store contract
 *
 * SYNOPSIS
 *   const keys = new UniqueKeys()
 *   keys.v4Net() / keys.v6Net()                 a fresh /24 or /64 nobody else in this run uses
 *   keys.id(prefix)                             a fresh id or reference
 *   keys.hour()                                 a fresh start of an hour (ms, UTC)
 *   makeEvidence(ip, full), makeListing(ip, opts), makeAllow(keys, full), makeRequest(keys, full),
 *   makeContact(keys, full), makeAudit(target, opts)
 *   collectPages(fetch)                         every page until `next` is absent
 *   waitFor(predicate, timeoutMs)               polls until true; false on timeout
 *
 * DESCRIPTION
 *   Backend-neutral: nothing here knows SQLite or Redis. Keys are built from a per-process random
 *   seed plus a counter, so a backend shared by several tests (or runs) does not leak records
 *   from one test into another's assertions. Listings default to a re-check time far in the
 *   future so that only the dueForRecheck test's own listings are ever due.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

import { normaliseAddress } from '../../../src/check/address.js';
import type {
  AllowEntry,
  AuditEntry,
  ContactMessage,
  Evidence,
  Listing,
  Page,
  WhitelistRequest,
} from '../../../src/store/types.js';

export const HOUR_MS = 3_600_000;
/** Default re-check time of fixture listings: 2100-01-01, never due in a test. */
export const FAR_FUTURE_MS = Date.UTC(2100, 0, 1);
/** Base time of fixture records: 2024-01-01. */
export const BASE_MS = Date.UTC(2024, 0, 1);
/** Upper bound on pages collectPages follows before it gives up (a cursor loop is a bug). */
const MAX_PAGES = 10_000;
const WAIT_STEP_MS = 10;
const SEED_RANGE = 0xffff;
const V4_OCTET = 256;

/** UniqueKeys - per-run unique networks, ids and hours. */
/** freshDbPaths - a new database path per call, under one temporary directory removed after the file's tests. */
export function freshDbPaths(name: string): () => string {
  const root = mkdtempSync(join(tmpdir(), `blocksmith-${name}-`));
  after(() => rmSync(root, { recursive: true, force: true }));
  let count = 0;
  return () => {
    count += 1;
    return join(root, `t${count}`, 'blocksmith.db');
  };
}

export class UniqueKeys {
  private readonly seed = randomInt(1, SEED_RANGE);
  private counter = 0;

  private next(): number {
    this.counter += 1;
    return (this.seed + this.counter) % SEED_RANGE;
  }

  /** v4Net - `10.a.b` (a /24 prefix without the last octet); append `.n`. */
  v4Net(): { prefix: string; cidr: string; ip: (n: number) => string } {
    const b = this.next();
    const prefix = `10.${Math.floor(b / V4_OCTET)}.${b % V4_OCTET}`;
    return { prefix, cidr: `${prefix}.0/24`, ip: (n) => `${prefix}.${n}` };
  }

  /** v6Net - a /64 under 2001:db8::/32; `ip(n)` gives normalised text. */
  v6Net(): { cidr: string; ip: (n: number) => string } {
    const a = this.seed.toString(16);
    const b = (this.next() + 1).toString(16);
    const base = `2001:db8:${a}:${b}`;
    return {
      cidr: normaliseAddress(`${base}::`).ip + '/64',
      ip: (n) => normaliseAddress(`${base}::${n.toString(16)}`).ip,
    };
  }

  /** id - a unique id or reference with a readable prefix. */
  id(prefix: string): string {
    return `${prefix}${this.next().toString(36).toUpperCase()}${randomBytes(4).toString('hex').toUpperCase()}`;
  }

  /** hour - a unique, whole UTC hour well in the past, with room for a few hours after it. */
  hour(): number {
    const HOURS_APART = 16;
    return Date.UTC(2001, 0, 1) + (this.next() * HOURS_APART + randomInt(0, 2)) * HOUR_MS;
  }
}

export function makeEvidence(ip: string, ref: string, full: boolean, at: number = BASE_MS): Evidence {
  if (!full) return { ref, at, front: 'dnsbl', ip, verdict: 'permerror', reason: 'no-ptr' };
  return {
    ref,
    at,
    front: 'policy',
    ip,
    verdict: 'fail',
    reason: 'no-forward-match',
    helo: 'mail.example.net',
    sender: 'alice@example.net',
    recipient: 'bob@example.org',
    reply: '450 4.7.25 [' + ip + '] no forward-confirmed reverse DNS',
    names: ['mail.example.net', 'host-1.example.net'],
    trace: { steps: [{ step: 'ptr', rcode: 'NOERROR', ttl: 300, names: ['mail.example.net'] }], ok: false, n: null },
  };
}

export interface ListingOptions {
  readonly state?: Listing['state'];
  readonly reason?: Listing['reason'];
  readonly recheckDueAt?: number;
  readonly full?: boolean;
  readonly rejectCount?: number;
}

export function makeListing(ip: string, keys: UniqueKeys, opts: ListingOptions = {}): Listing {
  const state = opts.state ?? 'active';
  const first = makeEvidence(ip, keys.id('E'), opts.full ?? false);
  const base: Listing = {
    ip,
    state,
    verdict: opts.reason === 'manual' ? 'manual' : 'fail',
    reason: opts.reason ?? 'no-forward-match',
    listedAt: BASE_MS,
    listedBy: 'check',
    lastRejectAt: BASE_MS + 1000,
    rejectCount: opts.rejectCount ?? 1,
    recheckDueAt: opts.recheckDueAt ?? FAR_FUTURE_MS,
    firstEvidence: first,
    latestEvidence: opts.full ? makeEvidence(ip, keys.id('E'), true, BASE_MS + 1000) : first,
  };
  if (opts.full || state !== 'active') {
    return {
      ...base,
      note: 'listed by hand: spam run',
      ...(state !== 'active' ? { clearedAt: BASE_MS + 5000, clearedBy: 'operator:eve', clearCause: 'operator' as const } : {}),
    };
  }
  return base;
}

export function makeAllow(keys: UniqueKeys, range: string, full: boolean): AllowEntry {
  const base: AllowEntry = { id: keys.id('A'), range, note: 'partner relay', author: 'operator:eve', createdAt: BASE_MS };
  return full ? { ...base, expiresAt: BASE_MS + 30 * 24 * HOUR_MS, requestRef: keys.id('R') } : base;
}

export function makeRequest(keys: UniqueKeys, range: string, full: boolean, createdAt: number = BASE_MS): WhitelistRequest {
  const base: WhitelistRequest = {
    ref: keys.id('R'),
    range,
    domain: 'example.net',
    contact: 'postmaster@example.net',
    why: 'our ISP will not set a PTR record',
    state: 'pending',
    createdAt,
  };
  if (!full) return base;
  return {
    ...base,
    rejectionRef: keys.id('E'),
    state: 'denied',
    decidedAt: createdAt + 1000,
    decidedBy: 'operator:eve',
    decisionReason: 'fix your DNS instead',
    allowId: keys.id('A'),
    fromIp: '198.51.100.7',
  };
}

export function makeContact(keys: UniqueKeys, full: boolean, at: number = BASE_MS): ContactMessage {
  const base: ContactMessage = { id: keys.id('C'), at, email: 'someone@example.net', subject: 'Blocked?', body: 'Line 1\nLine 2 ✓' };
  return full ? { ...base, name: 'Some One', ip: '203.0.113.9', ref: keys.id('E') } : base;
}

export function makeAudit(
  target: string,
  opts: { action?: string; actor?: string; at?: number; detail?: string } = {},
): Omit<AuditEntry, 'id'> {
  const base = { at: opts.at ?? BASE_MS, actor: opts.actor ?? 'cli', action: opts.action ?? 'LIST', target };
  return opts.detail === undefined ? base : { ...base, detail: opts.detail };
}

/** collectPages - follows `next` until it is absent; returns every page. */
export async function collectPages<T>(fetch: (after: string | undefined) => Promise<Page<T>>): Promise<Page<T>[]> {
  const pages: Page<T>[] = [];
  let after: string | undefined;
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = await fetch(after);
    pages.push(page);
    if (page.next === undefined) return pages;
    after = page.next;
  }
  throw new Error(`more than ${MAX_PAGES} pages: the cursor does not advance`);
}

/** waitFor - polls `predicate` every few ms; true once it holds, false after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (predicate()) return true;
    await sleep(WAIT_STEP_MS);
  }
  return predicate();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
