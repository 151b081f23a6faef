/**
 * NAME
 *   firewall/operator - the operator's actions and the public forms, through the store
 *
 * SYNOPSIS
 *   listIp(core, ip, note, actor): Promise<Listing>                         one conditional store write
 *   clearIp(core, ip, note, actor): Promise<Listing | undefined>
 *   addAllow(core, range, note, actor, expiresAt?): Promise<AllowEntry>     throws BS_ERR_CIDR_INVALID
 *   removeAllow(core, id, actor): Promise<boolean>
 *   editAllow(core, id, { range, note, expiresAt? }, actor): Promise<AllowEntry | undefined>
 *   requestWhitelist(core, input): Promise<WhitelistRequest>                 throws BS_ERR_CIDR_INVALID
 *   approveRequest(core, ref, actor, expiresAt?): Promise<RequestOutcome>
 *   denyRequest(core, ref, actor, reason): Promise<RequestOutcome>
 *   contact(core, input): Promise<ContactMessage>
 *
 * DESCRIPTION
 *   Every action is one store write with its audit entry, awaited: when the store cannot take
 *   it the promise rejects with its error (BS_ERR_STORE_UNAVAILABLE), nothing is queued, and
 *   the hot cache is not changed (an operator's action must never seem done and then vanish).
 *   Once written, it takes effect in this node's hot cache at once; other nodes follow through
 *   the store's events.
 *
 *   A manual listing has verdict and reason `manual`, is never re-checked (recheckDueAt is
 *   core.ts NEVER) and is cleared only by an operator or by expiry. Clearing forgets the
 *   checker's cached verdict, so the next connection is checked afresh (and listed again if its
 *   DNS still fails; the allowlist is the way to let a failing IP in).
 *
 *   Form text (request fields, contact messages) is cut to FORM_FIELD_MAX_CHARS and
 *   FORM_TEXT_MAX_CHARS here as a last line of defence; the portal validates it first.
 *
 * LIMITS
 *   FORM_FIELD_MAX_CHARS (254: an e-mail address), FORM_TEXT_MAX_CHARS (4,000).
 */
import { randomUUID } from 'node:crypto';
import { normaliseAddress } from '../check/address.js';
import { BypassList } from '../check/bypass.js';
import type { AllowEntry, ContactMessage, Listing, WhitelistRequest } from '../store/types.js';
import { NEVER, evidenceLimits, type Core } from './core.js';
import { buildEvidence } from './evidence.js';
import { newReference } from './reference.js';

export const FORM_FIELD_MAX_CHARS = 254;
export const FORM_TEXT_MAX_CHARS = 4_000;

function field(text: string): string {
  return text.slice(0, FORM_FIELD_MAX_CHARS);
}

function body(text: string): string {
  return text.slice(0, FORM_TEXT_MAX_CHARS);
}

/** Conditional writes tried by listIp before it writes the note of an active listing unconditionally. */
const LIST_TRIES = 3;

/**
 * listIp - list an address by hand (or update the note of its active listing). The new listing
 * is written only if the IP has no active listing, checked by the store in the same write
 * (`unlessActive`): one store call, no read first. When one is active, its note is written
 * instead (read, then write, as an edit); when that listing ended in between, the conditional
 * write is tried again (LIST_TRIES in all; the last note write is unconditional).
 */
export async function listIp(core: Core, input: string, note: string, actor: string): Promise<Listing> {
  const ip = normaliseAddress(input).ip;
  const noteText = body(note);
  for (let attempt = 1; ; attempt++) {
    const now = core.now();
    const audit = { at: now, actor, action: 'LIST', target: ip, detail: noteText };
    const evidence = buildEvidence({ ref: newReference(), at: now, front: 'cli', ip, verdict: 'fail', reason: 'manual' }, evidenceLimits(core.config));
    const listing: Listing = {
      ip,
      state: 'active',
      verdict: 'manual',
      reason: 'manual',
      listedAt: now,
      listedBy: actor,
      lastRejectAt: now,
      rejectCount: 0,
      recheckDueAt: NEVER,
      firstEvidence: evidence,
      latestEvidence: evidence,
      note: noteText,
    };
    if (await core.own.putListing(core.store, listing, audit, { unlessActive: true })) {
      core.hot.putListing(listing);
      core.stats.count('listing.created.manual');
      core.log({ event: 'LIST', ip, detail: `manual by ${actor}` });
      return listing;
    }
    // Listed already: only its note changes.
    const existing = await core.store.getListing(ip);
    if (existing?.state !== 'active' && attempt < LIST_TRIES) continue;
    const noted: Listing = existing?.state === 'active' ? { ...existing, note: noteText } : listing;
    await core.own.putListing(core.store, noted, audit);
    core.hot.putListing(noted);
    if (noted === listing) core.stats.count('listing.created.manual');
    core.log({ event: 'LIST', ip, detail: `manual by ${actor}` });
    return noted;
  }
}

/** clearIp - end an active listing by hand; undefined when there is none. */
export async function clearIp(core: Core, input: string, note: string, actor: string): Promise<Listing | undefined> {
  const ip = normaliseAddress(input).ip;
  const existing = await core.store.getListing(ip);
  if (existing === undefined || existing.state !== 'active') {
    core.hot.removeListing(ip);
    return undefined;
  }
  const now = core.now();
  const cleared: Listing = { ...existing, state: 'cleared', clearedAt: now, clearedBy: actor, clearCause: 'operator', note: body(note) };
  await core.own.putListing(core.store, cleared, { at: now, actor, action: 'CLEAR', target: ip, detail: body(note) });
  core.hot.removeListing(ip);
  core.checker.forget(ip);
  core.stats.count('listing.cleared.operator');
  core.log({ event: 'CLEAR', ip, detail: `operator ${actor}` });
  return cleared;
}

/** addAllow - an allow entry for an address or CIDR range, with an optional expiry. */
export async function addAllow(core: Core, range: string, note: string, actor: string, expiresAt?: number, requestRef?: string): Promise<AllowEntry> {
  new BypassList([range]); // throws BS_ERR_CIDR_INVALID
  const entry: AllowEntry = {
    id: randomUUID(),
    range,
    note: body(note),
    author: actor,
    createdAt: core.now(),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(requestRef === undefined ? {} : { requestRef }),
  };
  await core.store.putAllow(entry, { at: entry.createdAt, actor, action: 'ALLOW-ADD', target: range, detail: entry.note });
  core.hot.putAllow(entry);
  core.log({ event: 'ALLOW-ADD', detail: `${range} by ${actor}` });
  return entry;
}

export async function removeAllow(core: Core, id: string, actor: string): Promise<boolean> {
  const entry = await core.store.getAllow(id);
  const removed = await core.store.removeAllow(id, { at: core.now(), actor, action: 'ALLOW-REMOVE', target: entry?.range ?? id, detail: id });
  core.hot.removeAllow(id);
  if (removed) core.log({ event: 'ALLOW-REMOVE', detail: `${entry?.range ?? id} by ${actor}` });
  return removed;
}

/**
 * editAllow - change an allow entry's range, note or expiry in place (same id, author, creation
 * time and request): one store write with its ALLOW-EDIT audit entry; undefined when the entry
 * is gone. Throws BS_ERR_CIDR_INVALID.
 */
export async function editAllow(
  core: Core,
  id: string,
  change: { readonly range: string; readonly note: string; readonly expiresAt?: number },
  actor: string,
): Promise<AllowEntry | undefined> {
  new BypassList([change.range]); // throws BS_ERR_CIDR_INVALID
  const existing = await core.store.getAllow(id);
  if (existing === undefined) return undefined;
  const { expiresAt: _old, ...kept } = existing;
  const entry: AllowEntry = { ...kept, range: change.range, note: body(change.note), ...(change.expiresAt === undefined ? {} : { expiresAt: change.expiresAt }) };
  const detail = body(`${existing.range} -> ${entry.range}; expires ${entry.expiresAt === undefined ? 'never' : new Date(entry.expiresAt).toISOString()}; ${entry.note}`);
  await core.store.putAllow(entry, { at: core.now(), actor, action: 'ALLOW-EDIT', target: entry.range, detail });
  core.hot.putAllow(entry);
  core.log({ event: 'ALLOW-EDIT', detail: `${entry.range} by ${actor}` });
  return entry;
}

export interface WhitelistRequestInput {
  readonly range: string;
  readonly domain: string;
  readonly contact: string;
  readonly why: string;
  readonly rejectionRef?: string;
  readonly fromIp?: string;
}

export async function requestWhitelist(core: Core, input: WhitelistRequestInput): Promise<WhitelistRequest> {
  new BypassList([input.range]); // throws BS_ERR_CIDR_INVALID
  const request: WhitelistRequest = {
    ref: newReference(),
    range: input.range,
    domain: field(input.domain),
    contact: field(input.contact),
    why: body(input.why),
    state: 'pending',
    createdAt: core.now(),
    ...(input.rejectionRef === undefined ? {} : { rejectionRef: field(input.rejectionRef) }),
    ...(input.fromIp === undefined ? {} : { fromIp: field(input.fromIp) }),
  };
  await core.store.putRequest(request, { at: request.createdAt, actor: 'self-service', action: 'REQUEST-CREATE', target: request.ref, detail: request.range });
  core.log({ event: 'REQUEST-CREATE', ref: request.ref });
  return request;
}

export type RequestOutcome =
  | { readonly outcome: 'approved'; readonly request: WhitelistRequest; readonly allow: AllowEntry }
  | { readonly outcome: 'denied'; readonly request: WhitelistRequest }
  | { readonly outcome: 'not-found' }
  | { readonly outcome: 'already-decided'; readonly request: WhitelistRequest };

/** approveRequest - the allow entry and the request's new state, one atomic store write. */
export async function approveRequest(core: Core, ref: string, actor: string, expiresAt?: number): Promise<RequestOutcome> {
  const request = await core.store.getRequest(ref);
  if (request === undefined) return { outcome: 'not-found' };
  if (request.state !== 'pending') return { outcome: 'already-decided', request };
  const now = core.now();
  const allow: AllowEntry = {
    id: randomUUID(),
    range: request.range,
    note: `whitelist request ${ref} (${request.domain})`,
    author: actor,
    createdAt: now,
    requestRef: ref,
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
  const approved: WhitelistRequest = { ...request, state: 'approved', decidedAt: now, decidedBy: actor, allowId: allow.id };
  await core.store.approveRequest(approved, allow, { at: now, actor, action: 'REQUEST-APPROVE', target: ref, detail: request.range });
  core.hot.putAllow(allow);
  core.log({ event: 'REQUEST-APPROVE', ref, detail: `${request.range} by ${actor}` });
  return { outcome: 'approved', request: approved, allow };
}

export async function denyRequest(core: Core, ref: string, actor: string, reason: string): Promise<RequestOutcome> {
  const request = await core.store.getRequest(ref);
  if (request === undefined) return { outcome: 'not-found' };
  if (request.state !== 'pending') return { outcome: 'already-decided', request };
  const now = core.now();
  const denied: WhitelistRequest = { ...request, state: 'denied', decidedAt: now, decidedBy: actor, decisionReason: body(reason) };
  await core.store.putRequest(denied, { at: now, actor, action: 'REQUEST-DENY', target: ref, detail: body(reason) });
  core.log({ event: 'REQUEST-DENY', ref, detail: `by ${actor}` });
  return { outcome: 'denied', request: denied };
}

/** A contact message as the portal hands it over: the store's record without id and time. */
export type ContactInput = Omit<ContactMessage, 'id' | 'at'>;

export async function contact(core: Core, input: ContactInput): Promise<ContactMessage> {
  const message: ContactMessage = {
    id: randomUUID(),
    at: core.now(),
    email: field(input.email),
    subject: field(input.subject),
    body: body(input.body),
    ...(input.name === undefined ? {} : { name: field(input.name) }),
    ...(input.ip === undefined ? {} : { ip: field(input.ip) }),
    ...(input.ref === undefined ? {} : { ref: field(input.ref) }),
  };
  await core.store.putContact(message, { at: message.at, actor: 'self-service', action: 'CONTACT', target: message.ref ?? message.email, detail: message.subject });
  core.log({ event: 'CONTACT', ...(message.ref === undefined ? {} : { ref: message.ref }) });
  return message;
}
