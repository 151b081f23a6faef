/**
 * NAME
 *   store/sqlite/rows - records to SQLite rows (bind parameters) and back
 *
 * SYNOPSIS
 *   listingParams(l) / listingFrom(row)     and likewise for evidence, allow, request, contact,
 *   auditParams(id, a) / auditFrom(row)
 *
 * DESCRIPTION
 *   One place that knows column names. `…Params` return objects for named bind parameters
 *   (`@ip`, …) with every key present (an absent optional field becomes NULL); `…From` return
 *   records in which a NULL column is an ABSENT field (never a key holding undefined), so a
 *   record read back is deep-equal to the one written. Evidence is kept as JSON text (the
 *   listing's first and latest evidence, and the evidence table's body); JSON.stringify drops
 *   absent fields, so they stay absent.
 *
 *   The store trusts its own file: enumerated columns (state, reason, …) are cast, not
 *   re-validated. A column that is not valid JSON surfaces as a driver-style failure of the read.
 */
import type {
  AllowEntry,
  AuditEntry,
  ClearCause,
  ContactMessage,
  Evidence,
  Listing,
  ListingState,
  RequestState,
  WhitelistRequest,
} from '../types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Bind = Record<string, string | number | null>;

export interface ListingRow {
  readonly ip: string;
  readonly state: string;
  readonly verdict: string;
  readonly reason: string;
  readonly listed_at: number;
  readonly listed_by: string;
  readonly last_reject_at: number;
  readonly reject_count: number;
  readonly recheck_due_at: number;
  readonly first_evidence: string;
  readonly latest_evidence: string;
  readonly note: string | null;
  readonly cleared_at: number | null;
  readonly cleared_by: string | null;
  readonly clear_cause: string | null;
}

export function listingParams(l: Listing): Bind {
  return {
    ip: l.ip,
    state: l.state,
    verdict: l.verdict,
    reason: l.reason,
    listed_at: l.listedAt,
    listed_by: l.listedBy,
    last_reject_at: l.lastRejectAt,
    reject_count: l.rejectCount,
    recheck_due_at: l.recheckDueAt,
    first_evidence: JSON.stringify(l.firstEvidence),
    latest_evidence: JSON.stringify(l.latestEvidence),
    note: l.note ?? null,
    cleared_at: l.clearedAt ?? null,
    cleared_by: l.clearedBy ?? null,
    clear_cause: l.clearCause ?? null,
  };
}

export function listingFrom(r: ListingRow): Listing {
  const l: Mutable<Listing> = {
    ip: r.ip,
    state: r.state as ListingState,
    verdict: r.verdict as Listing['verdict'],
    reason: r.reason as Listing['reason'],
    listedAt: r.listed_at,
    listedBy: r.listed_by,
    lastRejectAt: r.last_reject_at,
    rejectCount: r.reject_count,
    recheckDueAt: r.recheck_due_at,
    firstEvidence: JSON.parse(r.first_evidence) as Evidence,
    latestEvidence: JSON.parse(r.latest_evidence) as Evidence,
  };
  if (r.note !== null) l.note = r.note;
  if (r.cleared_at !== null) l.clearedAt = r.cleared_at;
  if (r.cleared_by !== null) l.clearedBy = r.cleared_by;
  if (r.clear_cause !== null) l.clearCause = r.clear_cause as ClearCause;
  return l;
}

export interface EvidenceRow {
  readonly body: string;
}

export function evidenceParams(e: Evidence): Bind {
  return { ref: e.ref, at: e.at, ip: e.ip, body: JSON.stringify(e) };
}

export function evidenceFrom(r: EvidenceRow): Evidence {
  return JSON.parse(r.body) as Evidence;
}

export interface AllowRow {
  readonly id: string;
  readonly range: string;
  readonly note: string;
  readonly author: string;
  readonly created_at: number;
  readonly expires_at: number | null;
  readonly request_ref: string | null;
}

export function allowParams(a: AllowEntry): Bind {
  return {
    id: a.id,
    range: a.range,
    note: a.note,
    author: a.author,
    created_at: a.createdAt,
    expires_at: a.expiresAt ?? null,
    request_ref: a.requestRef ?? null,
  };
}

export function allowFrom(r: AllowRow): AllowEntry {
  const a: Mutable<AllowEntry> = { id: r.id, range: r.range, note: r.note, author: r.author, createdAt: r.created_at };
  if (r.expires_at !== null) a.expiresAt = r.expires_at;
  if (r.request_ref !== null) a.requestRef = r.request_ref;
  return a;
}

export interface RequestRow {
  readonly ref: string;
  readonly range: string;
  readonly domain: string;
  readonly contact: string;
  readonly rejection_ref: string | null;
  readonly why: string;
  readonly state: string;
  readonly created_at: number;
  readonly decided_at: number | null;
  readonly decided_by: string | null;
  readonly decision_reason: string | null;
  readonly allow_id: string | null;
  readonly from_ip: string | null;
}

export function requestParams(q: WhitelistRequest): Bind {
  return {
    ref: q.ref,
    range: q.range,
    domain: q.domain,
    contact: q.contact,
    rejection_ref: q.rejectionRef ?? null,
    why: q.why,
    state: q.state,
    created_at: q.createdAt,
    decided_at: q.decidedAt ?? null,
    decided_by: q.decidedBy ?? null,
    decision_reason: q.decisionReason ?? null,
    allow_id: q.allowId ?? null,
    from_ip: q.fromIp ?? null,
  };
}

export function requestFrom(r: RequestRow): WhitelistRequest {
  const q: Mutable<WhitelistRequest> = {
    ref: r.ref,
    range: r.range,
    domain: r.domain,
    contact: r.contact,
    why: r.why,
    state: r.state as RequestState,
    createdAt: r.created_at,
  };
  if (r.rejection_ref !== null) q.rejectionRef = r.rejection_ref;
  if (r.decided_at !== null) q.decidedAt = r.decided_at;
  if (r.decided_by !== null) q.decidedBy = r.decided_by;
  if (r.decision_reason !== null) q.decisionReason = r.decision_reason;
  if (r.allow_id !== null) q.allowId = r.allow_id;
  if (r.from_ip !== null) q.fromIp = r.from_ip;
  return q;
}

export interface ContactRow {
  readonly id: string;
  readonly at: number;
  readonly email: string;
  readonly subject: string;
  readonly body: string;
  readonly name: string | null;
  readonly ip: string | null;
  readonly ref: string | null;
}

export function contactParams(c: ContactMessage): Bind {
  return {
    id: c.id,
    at: c.at,
    email: c.email,
    subject: c.subject,
    body: c.body,
    name: c.name ?? null,
    ip: c.ip ?? null,
    ref: c.ref ?? null,
  };
}

export function contactFrom(r: ContactRow): ContactMessage {
  const c: Mutable<ContactMessage> = { id: r.id, at: r.at, email: r.email, subject: r.subject, body: r.body };
  if (r.name !== null) c.name = r.name;
  if (r.ip !== null) c.ip = r.ip;
  if (r.ref !== null) c.ref = r.ref;
  return c;
}

export interface AuditRow {
  readonly id: string;
  readonly at: number;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly detail: string | null;
}

export function auditParams(id: string, a: Omit<AuditEntry, 'id'>): Bind {
  return { id, at: a.at, actor: a.actor, action: a.action, target: a.target, detail: a.detail ?? null };
}

export function auditFrom(r: AuditRow): AuditEntry {
  const a: Mutable<AuditEntry> = { id: r.id, at: r.at, actor: r.actor, action: r.action, target: r.target };
  if (r.detail !== null) a.detail = r.detail;
  return a;
}
