/**
 * NAME
 *   web/respond - sending portal pages: a whole page, the error pages, the limit page
 *
 * SYNOPSIS
 *   sendPage(reply, portal, title, main, status?)
 *   sendDocument(reply, document, status?)                a whole document already rendered (renderPage)
 *   sendError(reply, portal, status, message, extra?)
 *   sendLimited(reply, portal, kind, retryAfterMs)        429 with Retry-After, the limit in words
 *   readIp(text): { ok: true, ip, family, note?, address } | { ok: false, why }
 *   takeLimit(request, reply, portal, kind): boolean      false: the 429 page was sent
 *
 * DESCRIPTION
 *   Pages are text/html; charset=utf-8 and Cache-Control no-store (they show live state and
 *   carry CSRF tokens). Error pages never echo the request except through html escaping.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { normaliseAddress, type NormalisedAddress } from '../check/address.js';
import { isBlockSmithError } from '../errors.js';
import type { Portal } from './context.js';
import { html, type Html } from './html.js';
import { duration, renderPage } from './layout.js';
import { visitorAddress, type VisitorClass } from './limits.js';

const MS_PER_S = 1_000;

export function sendDocument(reply: FastifyReply, document: string, status = 200): FastifyReply {
  return reply.code(status).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(document);
}

export function sendPage(reply: FastifyReply, portal: Portal, title: string, main: Html, status = 200): FastifyReply {
  return sendDocument(reply, renderPage(portal, { title, main }), status);
}

export function sendError(reply: FastifyReply, portal: Portal, status: number, message: string, extra?: Html): FastifyReply {
  const { t } = portal;
  return sendPage(reply, portal, t.errors.title, html`<div class="status bad"><p>${message}</p></div>${extra}<p><a href="/">${t.errors.back}</a></p>`, status);
}

export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / MS_PER_S));
}

export function sendLimited(reply: FastifyReply, portal: Portal, kind: VisitorClass, retryAfterMs: number): FastifyReply {
  const { t } = portal;
  const seconds = retryAfterSeconds(retryAfterMs);
  void reply.header('retry-after', String(seconds));
  const main = html`<div class="status warn" role="status"><p><strong>${t.limits.text(seconds)}</strong></p><p>${t.limits.why(
    portal.limits.count(kind),
    duration(portal, portal.limits.windowMs),
  )}</p></div>`;
  return sendPage(reply, portal, t.limits.title, main, 429);
}

/** takeLimit - count this request against the visitor's budget; false when the 429 page was sent. */
export function takeLimit(request: FastifyRequest, reply: FastifyReply, portal: Portal, kind: VisitorClass): boolean {
  const verdict = portal.limits.take(kind, visitorAddress(request));
  if (verdict.ok) return true;
  void sendLimited(reply, portal, kind, verdict.retryAfterMs);
  return false;
}

export type IpInput =
  | { readonly ok: true; readonly ip: string; readonly family: 4 | 6; readonly note?: string; readonly address: NormalisedAddress }
  | { readonly ok: false; readonly why: string };

/** readIp - strict parse (check/address.ts): the only input the pages take for an address. */
export function readIp(text: unknown): IpInput {
  if (typeof text !== 'string') return { ok: false, why: 'no address given' };
  try {
    const a = normaliseAddress(text);
    return { ok: true, ip: a.ip, family: a.family, ...(a.note === undefined ? {} : { note: a.note }), address: a };
  } catch (err) {
    if (isBlockSmithError(err)) return { ok: false, why: err.message };
    throw err;
  }
}

/** The visitor's answer to a bad address: 400 with the reason, escaped. */
export function sendBadAddress(reply: FastifyReply, portal: Portal, why: string): FastifyReply {
  return sendError(reply, portal, 400, portal.t.errors.badAddress, html`<p>${portal.t.errors.badAddressWhy(why)}</p>`);
}
