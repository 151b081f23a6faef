/**
 * NAME
 *   fronts/api/routes/public-forms - whitelist requests and messages to the operator
 *
 * SYNOPSIS
 *   POST /api/v1/whitelist-requests          { range, domain, contact, why, rejectionRef? } → 201 (rate: form)
 *   GET  /api/v1/whitelist-requests/:ref     its state, as the requester may see it (rate: read)
 *   POST /api/v1/contact                     { email, subject, body, name?, ip?, ref? } → 201 (rate: form)
 *
 * DESCRIPTION
 *   The firewall stores each with its audit entry (actor `self-service`); the requester's
 *   address is kept with a request (fromIp) for abuse handling and never shown publicly. The
 *   answer to a new request is its reference, which the requester keeps to follow it.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { addRoute, type ApiPluginOptions } from '../route.js';
import { addressRange, errorSchema, FIELD_MAX_CHARS, ipAddress, reference, refParams, requestStatusSchema, TEXT_MAX_CHARS } from '../schemas.js';
import { requestStatus } from '../views.js';

const domainName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/, 'a domain name');

export const whitelistRequestBody = z.strictObject({
  range: addressRange,
  domain: domainName,
  contact: z.email().max(FIELD_MAX_CHARS),
  why: z.string().trim().min(1, 'say why').max(TEXT_MAX_CHARS),
  rejectionRef: reference.optional(),
});

export const contactBody = z.strictObject({
  email: z.email().max(FIELD_MAX_CHARS),
  subject: z.string().trim().min(1).max(FIELD_MAX_CHARS),
  body: z.string().trim().min(1).max(TEXT_MAX_CHARS),
  name: z.string().trim().min(1).max(FIELD_MAX_CHARS).optional(),
  /** The address the message is about. */
  ip: ipAddress.optional(),
  /** The reference of a rejection. */
  ref: reference.optional(),
});

const createdRequest = z.object({ ref: z.string(), state: z.literal('pending'), statusUrl: z.string() });
const createdContact = z.object({ id: z.string(), at: z.number() });

export const publicFormRoutes: FastifyPluginAsync<ApiPluginOptions> = (app, opts) => {
  const { front, deps } = opts;
  const { firewall } = front;

  addRoute(app, deps, {
    method: 'POST',
    url: '/api/v1/whitelist-requests',
    summary: 'Ask the operator to allow an address or range',
    tag: 'public',
    operator: false,
    rate: 'form',
    body: whitelistRequestBody,
    responses: {
      201: { description: 'stored, pending the operator', schema: createdRequest },
      400: { description: 'a field is missing or malformed', schema: errorSchema },
      429: { description: 'rate-limited', schema: errorSchema },
    },
    handler: async ({ body, client, reply }) => {
      const request = await firewall.requestWhitelist({
        range: body.range,
        domain: body.domain,
        contact: body.contact,
        why: body.why,
        fromIp: client,
        ...(body.rejectionRef === undefined ? {} : { rejectionRef: body.rejectionRef }),
      });
      void reply.code(201);
      return { ref: request.ref, state: 'pending', statusUrl: `/api/v1/whitelist-requests/${request.ref}` };
    },
  });

  addRoute(app, deps, {
    method: 'GET',
    url: '/api/v1/whitelist-requests/:ref',
    summary: 'The state of a whitelist request',
    tag: 'public',
    operator: false,
    rate: 'read',
    params: refParams,
    responses: {
      200: { description: 'its state (and the reason when denied)', schema: requestStatusSchema },
      404: { description: 'no request with this reference', schema: errorSchema },
    },
    handler: async ({ params }) => {
      const request = await firewall.records.request(params.ref);
      if (request === undefined) throw new ApiError('BS_API_NOT_FOUND', `no whitelist request ${params.ref}`);
      return requestStatus(request);
    },
  });

  addRoute(app, deps, {
    method: 'POST',
    url: '/api/v1/contact',
    summary: 'A message to the operator',
    tag: 'public',
    operator: false,
    rate: 'form',
    body: contactBody,
    responses: {
      201: { description: 'stored for the operator', schema: createdContact },
      400: { description: 'a field is missing or malformed', schema: errorSchema },
      429: { description: 'rate-limited', schema: errorSchema },
    },
    handler: async ({ body, reply }) => {
      const message = await firewall.contact({
        email: body.email,
        subject: body.subject,
        body: body.body,
        ...(body.name === undefined ? {} : { name: body.name }),
        ...(body.ip === undefined ? {} : { ip: body.ip }),
        ...(body.ref === undefined ? {} : { ref: body.ref }),
      });
      void reply.code(201);
      return { id: message.id, at: message.at };
    },
  });
  return Promise.resolve();
};
