/**
 * NAME
 *   config/sections/listen - the `listen` setting every front shares
 *
 * DESCRIPTION
 *   A front listens on each `host:port` of its list (`[v6]:port` for IPv6); an empty list turns
 *   the front off. Hosts are IP literals: a front binds where the operator says, never where a
 *   name happens to resolve at start-up. Parsed into host and port in fronts/listen.ts.
 */
import { z } from 'zod';

/** `127.0.0.1:10045`, `[::1]:10045`; port 0 asks the kernel for a free one (tests). */
export const listenAddress = z
  .string()
  .max(64)
  .regex(/^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/, 'host:port with an IP literal host ([v6]:port for IPv6)');

export function listenList(defaults: readonly string[]): z.ZodDefault<z.ZodArray<typeof listenAddress>> {
  return z.array(listenAddress).max(16).default([...defaults]);
}
