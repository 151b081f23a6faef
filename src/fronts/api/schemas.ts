/**
 * NAME
 *   fronts/api/schemas - the zod schemas of the API: what it takes, and what it answers
 *
 * DESCRIPTION
 *   Input schemas are strict (an unknown field is a 400, not silently dropped) and bounded (every
 *   string has a maximum). The response schemas describe the answers for the OpenAPI document and
 *   the tests, which parse every answer they get with them; they are not enforced at run time.
 *
 *   Text limits match the firewall's (firewall/operator.ts: 254 for a field, 4,000 for a text),
 *   so what the API accepts is stored whole, never cut without the client knowing.
 *
 *   Times are milliseconds since the epoch (UTC), as the store keeps them. Where a time is
 *   given (expiresAt, from, to, since) an ISO 8601 date-time with an offset is accepted too.
 */
import { z } from 'zod';
import { isAddressOrRange } from '../../config/sections/http.js';

/** An e-mail address, a domain, a subject: one field. */
export const FIELD_MAX_CHARS = 254;
/** A note, a reason, a message body. */
export const TEXT_MAX_CHARS = 4_000;
/** Opaque page positions as the store makes them. */
export const CURSOR_MAX_CHARS = 512;
export const PAGE_MAX_COUNT = 1_000;
export const PAGE_DEFAULT_COUNT = 100;

// ---- inputs ----------------------------------------------------------------------------------

export const ipAddress = z.union([z.ipv4(), z.ipv6()], { error: 'an IPv4 or IPv6 address' });

export const addressRange = z.string().min(1).max(64).refine(isAddressOrRange, 'an IPv4/IPv6 address or CIDR range');

/** A reference (firewall/reference.ts): 8 Crockford base32 characters; lower case is accepted. */
export const reference = z
  .string()
  .regex(/^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{8}$/, 'a reference: 8 characters of 0-9 A-Z without I, L, O, U')
  .transform((ref) => ref.toUpperCase());

export const noteText = z.string().trim().min(1, 'a note is required').max(TEXT_MAX_CHARS);

/** A time: milliseconds since the epoch, or ISO 8601 with an offset (`2030-01-01T00:00:00Z`). */
export const timeInput = z
  .union([z.number().int().min(0), z.iso.datetime({ offset: true })])
  .transform((value) => (typeof value === 'number' ? value : Date.parse(value)));

/** The same in a query string (always text there). */
export const timeQuery = z
  .union([z.string().regex(/^\d{1,16}$/), z.iso.datetime({ offset: true })])
  .transform((value) => (/^\d+$/.test(value) ? Number(value) : Date.parse(value)));

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(PAGE_MAX_COUNT).default(PAGE_DEFAULT_COUNT),
  after: z.string().min(1).max(CURSOR_MAX_CHARS).optional(),
};

export const ipParams = z.strictObject({ ip: ipAddress });
export const refParams = z.strictObject({ ref: reference });

export const listingState = z.enum(['active', 'cleared', 'expired']);
export const listingReason = z.enum(['no-ptr', 'no-valid-ptr', 'no-forward-match', 'forward-nodata', 'manual']);
export const requestState = z.enum(['pending', 'approved', 'denied']);

// ---- answers ---------------------------------------------------------------------------------

export const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});

const verdict = z.enum(['pass', 'fail', 'permerror', 'temperror', 'skipped']);

export const evidenceSchema = z.object({
  ref: z.string(),
  at: z.number(),
  front: z.string(),
  ip: z.string(),
  verdict,
  reason: z.string(),
  helo: z.string().optional(),
  sender: z.string().optional(),
  recipient: z.string().optional(),
  reply: z.string().optional(),
  names: z.array(z.string()).optional(),
  trace: z.unknown().optional(),
});

export const listingSchema = z.object({
  ip: z.string(),
  state: listingState,
  verdict: z.enum(['fail', 'permerror', 'manual']),
  reason: z.string(),
  listedAt: z.number(),
  listedBy: z.string(),
  lastRejectAt: z.number(),
  rejectCount: z.number(),
  recheckDueAt: z.number(),
  firstEvidence: evidenceSchema,
  latestEvidence: evidenceSchema,
  note: z.string().optional(),
  clearedAt: z.number().optional(),
  clearedBy: z.string().optional(),
  clearCause: z.enum(['dns-fixed', 'unblock', 'operator', 'expired', 'allowlisted']).optional(),
});

export const allowEntrySchema = z.object({
  id: z.string(),
  range: z.string(),
  note: z.string(),
  author: z.string(),
  createdAt: z.number(),
  expiresAt: z.number().optional(),
  requestRef: z.string().optional(),
  /** Past its expiresAt: kept, no longer applied. */
  expired: z.boolean(),
});

export const whitelistRequestSchema = z.object({
  ref: z.string(),
  range: z.string(),
  domain: z.string(),
  contact: z.string(),
  rejectionRef: z.string().optional(),
  why: z.string(),
  state: requestState,
  createdAt: z.number(),
  decidedAt: z.number().optional(),
  decidedBy: z.string().optional(),
  decisionReason: z.string().optional(),
  allowId: z.string().optional(),
  fromIp: z.string().optional(),
});

/** What the requester sees of a request: no contact, no address, no operator names. */
export const requestStatusSchema = z.object({
  ref: z.string(),
  state: requestState,
  range: z.string(),
  domain: z.string(),
  createdAt: z.number(),
  decidedAt: z.number().optional(),
  decisionReason: z.string().optional(),
});

export const auditEntrySchema = z.object({
  id: z.string(),
  at: z.number(),
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  detail: z.string().optional(),
});

export function pageOf<T extends z.ZodType>(item: T): z.ZodObject<{ items: z.ZodArray<T>; next: z.ZodOptional<z.ZodString> }> {
  return z.object({ items: z.array(item), next: z.string().optional() });
}

export const smtpReplySchema = z.object({
  code: z.number(),
  enhanced: z.string(),
  lines: z.array(z.string()),
  /** The reply as one line, `550 5.7.25 ...`. */
  text: z.string(),
});

/** A live check as the public sees it (firewall.test's result, every field JSON data). */
export const checkViewSchema = z.object({
  ip: z.string(),
  family: z.union([z.literal(4), z.literal(6)]),
  verdict,
  reason: z.string(),
  /** The failing step in plain words (as in the SMTP reply). */
  step: z.string(),
  ptrName: z.string().optional(),
  names: z.array(z.string()),
  invalidNames: z.array(z.object({ name: z.string(), why: z.string() })),
  notEvaluated: z.array(z.string()),
  confirmed: z.array(z.string()),
  otherAddresses: z.array(z.string()),
  flags: z.record(z.string(), z.union([z.boolean(), z.string()])),
  generic: z.object({ level: z.string(), name: z.string().optional(), evidence: z.array(z.string()) }),
  trace: z.array(z.record(z.string(), z.unknown())),
  checkedAt: z.number(),
  durationMs: z.number(),
});

export const checkAnswerSchema = checkViewSchema.extend({
  /** What the firewall would do with a client at this address now. */
  action: z.enum(['accept', 'reject', 'defer']),
  /** Report-only mode: accepted, but a refusing verdict. */
  wouldReject: z.boolean(),
  /** An allow entry covers the address: accepted whatever the check says. */
  allowlisted: z.string().optional(),
  /** The SMTP reply a refused client would get (the real one adds the reference ?r=…). */
  reply: smtpReplySchema.optional(),
});

export const ipStatusSchema = z.object({
  ip: z.string(),
  listed: z.boolean(),
  /** `none` when the address was never listed. */
  state: z.enum(['active', 'cleared', 'expired', 'none']),
  verdict: z.enum(['fail', 'permerror', 'manual']).optional(),
  reason: z.string().optional(),
  step: z.string().optional(),
  since: z.number().optional(),
  /** No re-check (and no self-service unblock effect) is due before this; null: never (an operator's listing). */
  recheckDueAt: z.number().nullable().optional(),
  /** The reference of the listing's latest evidence. */
  ref: z.string().optional(),
  lastRejection: z.object({ at: z.number(), ref: z.string(), reply: z.string().optional() }).optional(),
  rejectCount: z.number().optional(),
  clearedAt: z.number().optional(),
  clearCause: z.string().optional(),
  /** Self-service unblock: `available` (a check listing), `operator-only` (a hand listing), `not-listed`. */
  unblock: z.enum(['available', 'operator-only', 'not-listed']),
  allowlisted: z.boolean(),
  allowRange: z.string().optional(),
  bypassed: z.boolean(),
  bypassRange: z.string().optional(),
});

export const unblockAnswerSchema = z.object({
  outcome: z.enum(['cleared', 'still-failing', 'operator-listed', 'not-listed']),
  ip: z.string(),
  verdict: verdict.optional(),
  reason: z.string().optional(),
  step: z.string().optional(),
  message: z.string(),
  check: checkViewSchema.optional(),
});

export const statsAnswerSchema = z.object({
  from: z.number(),
  to: z.number(),
  totals: z.record(z.string(), z.number()),
  hours: z.array(z.object({ hour: z.number(), counters: z.record(z.string(), z.number()) })),
});
