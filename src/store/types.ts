/**
 * NAME
 *   store/types - the one storage interface of BlockSmith
 *
 * DESCRIPTION
 *   The firewall talks to storage only through `Store`. Two implementations: `store/sqlite`
 *   (one node, a file under ./data, the default) and `store/redis` (several nodes). One contract
 *   test suite (test/unit/store/contract.ts) runs against both.
 *
 *   The store is deliberately plain: it keeps records and applies each write atomically, the
 *   firewall owns the rules (when to list, clear, expire). Every write that changes what a
 *   decision would be (listing put or cleared, allow entry added or removed) is one atomic unit
 *   with its audit entry, is durable before the promise resolves, and is announced to every node
 *   through `subscribe` (the writer's own node included), so hot caches follow within a second.
 *
 *   Times are milliseconds since the epoch. Addresses are normalised text (check/address.ts);
 *   ranges are CIDR text as given by the operator, validated by the caller.
 *
 *   Errors: a store that cannot reach its backend rejects with BlockSmithError
 *   BS_ERR_STORE_UNAVAILABLE; a record that is not there is `undefined`, never an error.
 */
import type { Reason, Verdict } from '../check/types.js';

/** The fronts through which mail servers and people reach the firewall. */
export type Front = 'policy' | 'dnsbl' | 'gate' | 'api' | 'portal' | 'cli';

/** What was seen when a client was refused: logged, kept with the listing, found by reference. */
export interface Evidence {
  /** Short reference id (crypto-random, Crockford base32), e.g. `K7Q2M9PX`. */
  readonly ref: string;
  readonly at: number;
  readonly front: Front;
  readonly ip: string;
  readonly verdict: Verdict;
  readonly reason: Reason | 'listed' | 'manual';
  readonly helo?: string;
  readonly sender?: string;
  readonly recipient?: string;
  /** The SMTP reply given, first line. */
  readonly reply?: string;
  /** The check's names, for the portal. */
  readonly names?: readonly string[];
  /** The check's trace as JSON-safe data (already sanitised for length). */
  readonly trace?: unknown;
}

export type ListingState = 'active' | 'cleared' | 'expired';

/** Why a listing ended. */
export type ClearCause = 'dns-fixed' | 'unblock' | 'operator' | 'expired' | 'allowlisted';

export interface Listing {
  readonly ip: string;
  readonly state: ListingState;
  /** The verdict that listed it, or `manual` for an operator's listing. */
  readonly verdict: 'fail' | 'permerror' | 'manual';
  readonly reason: Reason | 'manual';
  readonly listedAt: number;
  /** Who listed it: `check` or an operator's account name. */
  readonly listedBy: string;
  readonly lastRejectAt: number;
  readonly rejectCount: number;
  /** No re-check before this time (re-check interval, never before the negative TTL ends). */
  readonly recheckDueAt: number;
  readonly firstEvidence: Evidence;
  readonly latestEvidence: Evidence;
  readonly note?: string;
  readonly clearedAt?: number;
  readonly clearedBy?: string;
  readonly clearCause?: ClearCause;
}

export interface AllowEntry {
  readonly id: string;
  /** An address or a CIDR range, IPv4 or IPv6. */
  readonly range: string;
  readonly note: string;
  readonly author: string;
  readonly createdAt: number;
  readonly expiresAt?: number;
  /** The whitelist request it came from, if any. */
  readonly requestRef?: string;
}

export type RequestState = 'pending' | 'approved' | 'denied';

export interface WhitelistRequest {
  readonly ref: string;
  readonly range: string;
  readonly domain: string;
  readonly contact: string;
  readonly rejectionRef?: string;
  readonly why: string;
  readonly state: RequestState;
  readonly createdAt: number;
  readonly decidedAt?: number;
  readonly decidedBy?: string;
  /** Shown to the requester when denied. */
  readonly decisionReason?: string;
  readonly allowId?: string;
  /** The visitor's address, for abuse handling (not shown publicly). */
  readonly fromIp?: string;
}

export interface ContactMessage {
  readonly id: string;
  readonly at: number;
  readonly email: string;
  readonly subject: string;
  readonly body: string;
  readonly name?: string;
  readonly ip?: string;
  readonly ref?: string;
}

export interface AuditEntry {
  readonly id: string;
  readonly at: number;
  /** `self-service`, `re-check`, `expiry`, `operator:<name>`, `cli`, `api:<key name>`. */
  readonly actor: string;
  /** LIST, CLEAR, EXPIRE, ALLOW-ADD, ALLOW-REMOVE, REQUEST-CREATE, REQUEST-APPROVE, REQUEST-DENY, CONTACT, … */
  readonly action: string;
  /** The IP, range or reference acted on. */
  readonly target: string;
  readonly detail?: string;
}

/** One hour's counters: name → count. Names are the firewall's (e.g. `decision.policy.reject`). */
export interface HourlyStats {
  /** Start of the hour, ms since epoch, UTC. */
  readonly hour: number;
  readonly counters: Readonly<Record<string, number>>;
}

/** What other nodes must hear about, to update their hot caches. */
export type StoreEvent =
  | { readonly type: 'listing'; readonly ip: string }
  | { readonly type: 'allow'; readonly id: string };

export interface ListingFilter {
  readonly state?: ListingState;
  /** An address or CIDR range the listing's IP lies in. */
  readonly within?: string;
  readonly reason?: Listing['reason'];
  readonly limit?: number;
  /** Opaque position from the previous page. */
  readonly after?: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Pass as `after` for the next page; absent on the last. */
  readonly next?: string;
}

export interface AuditFilter {
  readonly target?: string;
  readonly actor?: string;
  readonly action?: string;
  readonly since?: number;
  readonly limit?: number;
  readonly after?: string;
}

/** An operator's console account (the CLI's `user add`; firewall/accounts.ts). */
export interface OperatorAccount {
  /** Lower-case letters, digits, `.`, `_`, `-`; at most 64, starting with a letter or digit. */
  readonly name: string;
  /** `scrypt$<N>$<r>$<p>$<salt, base64url>$<key, base64url>` (firewall/password.ts). */
  readonly passwordHash: string;
  readonly createdAt: number;
  readonly passwordChangedAt: number;
}

/** A console session as stored: the token itself is never stored, only its SHA-256. */
export interface SessionRecord {
  /** SHA-256 of the session token, 64 lower-case hex digits. */
  readonly idHash: string;
  readonly account: string;
  /** The session's CSRF (synchronizer) token. */
  readonly csrf: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** Failed console logins counted under one key (`account:<name>`, `address:<ip>`) in a fixed window. */
export interface LoginFailures {
  readonly count: number;
  /** When the window ends and the count starts again from zero (ms since epoch). */
  readonly resetAt: number;
}

/** Options of Store.putListing. */
export interface PutListingOptions {
  /** Write only when the IP has no active listing (none, or one cleared or expired). */
  readonly unlessActive?: boolean;
}

export interface Store {
  /** Open the backend (migrations for SQLite); rejects with BS_ERR_STORE_UNAVAILABLE. */
  open(): Promise<void>;
  close(): Promise<void>;

  // Listings. `putListing` writes the listing and its audit entry as one atomic unit.
  getListing(ip: string): Promise<Listing | undefined>;
  /**
   * Writes the listing with its audit entry (and its event) as one atomic unit; resolves true.
   * With `{ unlessActive: true }` the write is conditional, checked in the same atomic unit:
   * when the IP's stored listing is active, nothing at all is written (no record, no audit
   * entry, no event) and it resolves false (a manual listing of an IP that is listed already:
   * one store call instead of a read and then a write).
   */
  putListing(listing: Listing, audit: Omit<AuditEntry, 'id'>, options?: PutListingOptions): Promise<boolean>;
  /** Active listings in batches, for loading the hot cache at start-up. */
  activeListings(batch: (listings: readonly Listing[]) => void, batchSize?: number): Promise<void>;
  listListings(filter: ListingFilter): Promise<Page<Listing>>;
  /** Active listings whose recheckDueAt ≤ now, oldest first. */
  dueForRecheck(now: number, limit: number): Promise<readonly Listing[]>;

  // Evidence by reference id (also for rejections that did not list, e.g. from a listing).
  putEvidence(evidence: Evidence): Promise<void>;
  getEvidence(ref: string): Promise<Evidence | undefined>;

  // Allowlist. Add and remove carry their audit entry, atomically.
  putAllow(entry: AllowEntry, audit: Omit<AuditEntry, 'id'>): Promise<void>;
  removeAllow(id: string, audit: Omit<AuditEntry, 'id'>): Promise<boolean>;
  getAllow(id: string): Promise<AllowEntry | undefined>;
  /** Every entry, expired ones included (the caller filters by time). */
  allAllows(): Promise<readonly AllowEntry[]>;

  // Whitelist requests.
  putRequest(request: WhitelistRequest, audit: Omit<AuditEntry, 'id'>): Promise<void>;
  getRequest(ref: string): Promise<WhitelistRequest | undefined>;
  listRequests(state: RequestState | undefined, limit: number, after?: string): Promise<Page<WhitelistRequest>>;
  /** Approve: the request's new state and its allow entry, one atomic unit. */
  approveRequest(request: WhitelistRequest, allow: AllowEntry, audit: Omit<AuditEntry, 'id'>): Promise<void>;

  // Contact messages.
  putContact(message: ContactMessage, audit: Omit<AuditEntry, 'id'>): Promise<void>;
  listContacts(limit: number, after?: string): Promise<Page<ContactMessage>>;

  // Audit log (entries are also written by the calls above).
  listAudit(filter: AuditFilter): Promise<Page<AuditEntry>>;

  // Statistics: add to hourly counters (the firewall batches; one call per flush).
  addStats(hour: number, increments: Readonly<Record<string, number>>): Promise<void>;
  stats(fromHour: number, toHour: number): Promise<readonly HourlyStats[]>;

  // Operator accounts and console sessions (firewall/accounts.ts). Shared by every node.
  /** Create an account with its audit entry; false (nothing written) when the name exists. */
  addAccount(account: OperatorAccount, audit: Omit<AuditEntry, 'id'>): Promise<boolean>;
  /**
   * Replace an existing account (a new password) with its audit entry, and end every session
   * of it, one atomic unit; false (nothing written) when the account does not exist.
   */
  putAccount(account: OperatorAccount, audit: Omit<AuditEntry, 'id'>): Promise<boolean>;
  getAccount(name: string): Promise<OperatorAccount | undefined>;
  /** Remove an account and every session of it, with its audit entry; false (no audit) when absent. */
  removeAccount(name: string, audit: Omit<AuditEntry, 'id'>): Promise<boolean>;
  /** Every account, by name. */
  listAccounts(): Promise<readonly OperatorAccount[]>;
  /** Store a session (and its audit entry, e.g. LOGIN); sessions past expiresAt may be dropped. */
  putSession(session: SessionRecord, audit: Omit<AuditEntry, 'id'>): Promise<void>;
  /** The session; may still return one past its expiresAt (the caller compares times). */
  getSession(idHash: string): Promise<SessionRecord | undefined>;
  /** End a session with its audit entry (e.g. LOGOUT); false (no audit) when it is not there. */
  removeSession(idHash: string, audit: Omit<AuditEntry, 'id'>): Promise<boolean>;
  /**
   * Count one failed login under each key, with one audit entry (LOGIN-FAIL), atomically: a
   * key whose window has ended (resetAt <= now) or that has none starts a new window of
   * windowMs at `now` with count 1. Returns each key's count and resetAt after it, in order.
   */
  addLoginFailure(keys: readonly string[], now: number, windowMs: number, audit: Omit<AuditEntry, 'id'>): Promise<readonly LoginFailures[]>;
  /** A key's failures in its current window; undefined when none or the window ended (resetAt <= now). */
  loginFailures(key: string, now: number): Promise<LoginFailures | undefined>;
  /** Forget a key's failures (a successful login, a new password). */
  clearLoginFailures(key: string): Promise<void>;
  /** An audit entry on its own (an action that changes no record, e.g. LOGIN-THROTTLED). */
  putAudit(audit: Omit<AuditEntry, 'id'>): Promise<void>;

  /**
   * A lease for cluster-wide background work (re-checks, expiry): true when `holder` holds
   * `name` until now + ttlMs (acquired or renewed), false when another holder does.
   */
  lease(name: string, holder: string, ttlMs: number): Promise<boolean>;

  /**
   * Hear about changes from every node (this one included). Returns the unsubscribe. `local` is
   * true for a change this store instance wrote itself (the writer knows what it wrote).
   */
  subscribe(listener: (event: StoreEvent, local: boolean) => void): () => void;
}
