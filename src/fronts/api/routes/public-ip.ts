/**
 * NAME
 *   fronts/api/routes/public-ip - an address's status, a live check, a self-service unblock
 *
 * SYNOPSIS
 *   GET  /api/v1/ip/:ip            listed or not, why, since when, the reference (rate: read)
 *   GET  /api/v1/check/:ip         firewall.test(): the whole trace and what the firewall would answer (rate: check)
 *   POST /api/v1/ip/:ip/unblock    firewall.unblock() as `self-service` from the client's address (rate: check)
 *
 * DESCRIPTION
 *   The live check refuses addresses that are not mail clients on the internet: loopback,
 *   RFC 1918, link-local, CGNAT, ULA, multicast and the like (BS_API_TARGET_RESERVED), and this
 *   node's bypass ranges (BS_API_TARGET_BYPASSED). Their PTR records live in internal DNS
 *   views; the public must not be able to read those through us. The documentation ranges
 *   (RFC 5737, RFC 3849) are checked like any address (tests and demos use them).
 *
 *   A check stops when the client goes away (its signal), and in any case at check.deadlineMs.
 *
 *   Unblock outcomes are 200 with `outcome`, except the firewall's rate limit: 429 with
 *   Retry-After (firewall.unblockPerIpCount / unblockPerRequesterCount per unblockWindowMs).
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { isReservedTarget } from '../../reserved-targets.js';
import { normaliseClient } from '../client.js';
import { ApiError } from '../errors.js';
import { retryAfterSeconds } from '../guards.js';
import { addRoute, type ApiPluginOptions } from '../route.js';
import { checkAnswerSchema, errorSchema, ipParams, ipStatusSchema, unblockAnswerSchema } from '../schemas.js';
import { allowFor, checkView, ipStatus, wouldReply } from '../views.js';


/** An AbortSignal that fires when the client disconnects before the answer is sent. */
function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

const UNBLOCK_MESSAGES = {
  cleared: 'The listing is cleared: the reverse DNS check passes now. Mail from this address is accepted from now on.',
  'still-failing': 'Not cleared: the reverse DNS check still fails. Fix the step named here, then try again.',
  'operator-listed': 'This address was blocked by the operator by hand; only the operator can clear it (use the contact form).',
  'not-listed': 'This address is not listed: nothing to unblock.',
} as const;

export const publicIpRoutes: FastifyPluginAsync<ApiPluginOptions> = (app, opts) => {
  const { front, deps, bypass, now } = opts;
  const { firewall, config } = front;
  const nameMax = config.firewall.replyNameMaxChars;

  addRoute(app, deps, {
    method: 'GET',
    url: '/api/v1/ip/:ip',
    summary: 'Status of one address',
    description:
      'Whether the address is listed, why (verdict, reason, the failing step in words), since when, when a re-check is due, ' +
      'the reference of its latest evidence and its last rejection; whether an allow entry or a bypass range covers it.',
    tag: 'public',
    operator: false,
    rate: 'read',
    params: ipParams,
    responses: { 200: { description: 'the status', schema: ipStatusSchema }, 400: { description: 'not an address', schema: errorSchema } },
    handler: ({ params }) => ipStatus({ firewall, config, bypass, now }, normaliseClient(params.ip)),
  });

  addRoute(app, deps, {
    method: 'GET',
    url: '/api/v1/check/:ip',
    summary: 'Live reverse DNS check of one address, with its trace',
    description:
      'Runs the FCrDNS check now, bypassing every cache, and returns every step (PTR, names, forward look-ups, the raw DNS ' +
      'exchanges), the verdict, and what this node would do: accept, or the SMTP reply it would give. Changes nothing.',
    tag: 'public',
    operator: false,
    rate: 'check',
    params: ipParams,
    responses: {
      200: { description: 'the check', schema: checkAnswerSchema },
      400: { description: 'not an address', schema: errorSchema },
      422: { description: 'a reserved, internal or bypassed address: not checked', schema: errorSchema },
      429: { description: 'rate-limited', schema: errorSchema },
    },
    handler: async ({ params, reply }) => {
      const ip = normaliseClient(params.ip);
      const family = ipaddr.parse(ip).kind() === 'ipv4' ? 'IPv4' : 'IPv6';
      if (isReservedTarget(ip)) throw new ApiError('BS_API_TARGET_RESERVED', `${ip} is a reserved or internal ${family} address, not a mail client: not checked`);
      const range = bypass.match(ip);
      if (range !== undefined) throw new ApiError('BS_API_TARGET_BYPASSED', `${ip} is in a bypass range of this node (${range}): it is never checked`);
      const result = await firewall.test(ip, { signal: clientGone(reply) });
      const allow = allowFor(await firewall.records.allows(), ip, now());
      const would = allow === undefined ? wouldReply(config.firewall, result) : { action: 'accept' as const, wouldReject: false };
      return { ...checkView(result, nameMax), ...would, ...(allow === undefined ? {} : { allowlisted: allow.range }) };
    },
  });

  addRoute(app, deps, {
    method: 'POST',
    url: '/api/v1/ip/:ip/unblock',
    summary: 'Self-service unblock: re-check now, clear the listing if it passes',
    description:
      'A fresh check bypassing every cache; a listing made by the check is cleared at once when it passes. A listing made ' +
      'by an operator is not cleared this way. Rate-limited per target address and per requesting client.',
    tag: 'public',
    operator: false,
    rate: 'check',
    params: ipParams,
    body: z.strictObject({}).optional(),
    responses: {
      200: { description: 'what happened (outcome)', schema: unblockAnswerSchema },
      400: { description: 'not an address', schema: errorSchema },
      429: { description: 'rate-limited (Retry-After)', schema: errorSchema },
      503: { description: 'the store cannot be reached: nothing was cleared', schema: errorSchema },
    },
    handler: async ({ params, reply, client }) => {
      const result = await firewall.unblock(params.ip, { actor: 'self-service', fromIp: client, signal: clientGone(reply) });
      switch (result.outcome) {
        case 'rate-limited':
          throw new ApiError('BS_API_RATE_LIMITED', `too many unblock attempts for ${result.ip} or from this client; try again later`, {
            'retry-after': retryAfterSeconds(result.retryAfterMs),
          });
        case 'cleared':
          return { outcome: result.outcome, ip: result.ip, verdict: result.check.verdict, reason: result.check.reason, message: UNBLOCK_MESSAGES.cleared };
        case 'still-failing':
          return {
            outcome: result.outcome,
            ip: result.ip,
            verdict: result.verdict,
            reason: result.reason,
            step: result.step,
            message: UNBLOCK_MESSAGES['still-failing'],
            check: checkView(result.check, nameMax),
          };
        default:
          return { outcome: result.outcome, ip: result.ip, message: UNBLOCK_MESSAGES[result.outcome] };
      }
    },
  });
  return Promise.resolve();
};
