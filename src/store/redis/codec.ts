/**
 * NAME
 *   store/redis/codec - records to and from the JSON text RedisStore keeps
 *
 * SYNOPSIS
 *   encodeRecord(record): string                                   JSON.stringify
 *   decodeListing / decodeEvidence / decodeAllow / decodeRequest / decodeContact (text, key)
 *   encodeAudit(entry without id): string; decodeAudit(id, text, key): AuditEntry
 *
 * DESCRIPTION
 *   Records are stored as JSON, whole, so they round-trip exactly: an optional field that was
 *   absent stays absent (JSON.stringify drops `undefined`), the evidence trace (JSON-safe by
 *   contract) comes back as it went in. Decoding checks the JSON parses to an object and that the
 *   fields the store itself relies on (keys, states, times) have the right types; the rest is
 *   trusted as written by encodeRecord. An audit entry is stored without its id: the id is the
 *   field name it is stored under (given by the write script).
 *
 * DIAGNOSTICS
 *   A value that fails these checks was not written by this store (or was damaged):
 *   BlockSmithError('BS_ERR_STORE_UNAVAILABLE', 'redis record <key> is not valid: <problem>').
 *
 * SEE ALSO
 *   store/types.ts (the records), store/redis/keys.ts (where they live).
 */
import { BlockSmithError } from '../../errors.js';
import type { AllowEntry, AuditEntry, ContactMessage, Evidence, Listing, WhitelistRequest } from '../types.js';

type FieldType = 'string' | 'number' | 'object';
type Shape = Readonly<Record<string, FieldType>>;

const EVIDENCE_SHAPE: Shape = { ref: 'string', at: 'number', front: 'string', ip: 'string', verdict: 'string', reason: 'string' };
const LISTING_SHAPE: Shape = {
  ip: 'string',
  state: 'string',
  verdict: 'string',
  reason: 'string',
  listedAt: 'number',
  listedBy: 'string',
  lastRejectAt: 'number',
  rejectCount: 'number',
  recheckDueAt: 'number',
  firstEvidence: 'object',
  latestEvidence: 'object',
};
const ALLOW_SHAPE: Shape = { id: 'string', range: 'string', note: 'string', author: 'string', createdAt: 'number' };
const REQUEST_SHAPE: Shape = {
  ref: 'string',
  range: 'string',
  domain: 'string',
  contact: 'string',
  why: 'string',
  state: 'string',
  createdAt: 'number',
};
const CONTACT_SHAPE: Shape = { id: 'string', at: 'number', email: 'string', subject: 'string', body: 'string' };
const AUDIT_SHAPE: Shape = { at: 'number', actor: 'string', action: 'string', target: 'string' };

function corrupt(key: string, problem: string, cause?: unknown): BlockSmithError {
  return new BlockSmithError('BS_ERR_STORE_UNAVAILABLE', `redis record ${key} is not valid: ${problem}`, { cause });
}

/** parseShaped - JSON text to an object whose listed fields have the listed types. */
function parseShaped(text: string, key: string, shape: Shape): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw corrupt(key, 'not JSON', err);
  }
  return shaped(value, key, shape);
}

/** shaped - an already parsed value, checked as parseShaped does (no second JSON round trip). */
function shaped(value: unknown, key: string, shape: Shape): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(key, 'not a JSON object');
  const record = value as Record<string, unknown>;
  for (const field in shape) {
    const type = shape[field];
    const got = record[field];
    const ok = type === 'object' ? typeof got === 'object' && got !== null : typeof got === type;
    if (!ok) throw corrupt(key, `field "${field}" is not a ${type}`);
  }
  return record;
}

/** encodeRecord - a record as JSON text (absent optional fields stay absent). */
export function encodeRecord(record: object): string {
  return JSON.stringify(record);
}

export function decodeEvidence(text: string, key: string): Evidence {
  return parseShaped(text, key, EVIDENCE_SHAPE) as unknown as Evidence;
}

export function decodeListing(text: string, key: string): Listing {
  const record = parseShaped(text, key, LISTING_SHAPE);
  // Checked in place: stringifying and parsing each evidence again tripled the cost of loading
  // the hot cache at start-up (every active listing is decoded).
  shaped(record.firstEvidence, `${key} firstEvidence`, EVIDENCE_SHAPE);
  shaped(record.latestEvidence, `${key} latestEvidence`, EVIDENCE_SHAPE);
  return record as unknown as Listing;
}

export function decodeAllow(text: string, key: string): AllowEntry {
  return parseShaped(text, key, ALLOW_SHAPE) as unknown as AllowEntry;
}

export function decodeRequest(text: string, key: string): WhitelistRequest {
  return parseShaped(text, key, REQUEST_SHAPE) as unknown as WhitelistRequest;
}

export function decodeContact(text: string, key: string): ContactMessage {
  return parseShaped(text, key, CONTACT_SHAPE) as unknown as ContactMessage;
}

/** encodeAudit - an audit entry without its id (the script assigns it). */
export function encodeAudit(entry: Omit<AuditEntry, 'id'>): string {
  const { at, actor, action, target, detail } = entry;
  return JSON.stringify(detail === undefined ? { at, actor, action, target } : { at, actor, action, target, detail });
}

/** decodeAudit - the stored entry with its id put back first. */
export function decodeAudit(id: string, text: string, key: string): AuditEntry {
  const record = parseShaped(text, key, AUDIT_SHAPE);
  return { id, ...record } as unknown as AuditEntry;
}
