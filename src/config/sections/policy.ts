/**
 * NAME
 *   config/sections/policy - the Postfix/Exim policy service front (fronts/policy)
 */
import { z } from 'zod';
import { listenList } from './listen.js';

/** Not 10023 (postgrey), 10040 (postfwd), 12525 (policyd-weight), 10031 (policyd/cluebringer). */
export const DEFAULT_POLICY_LISTEN = '127.0.0.1:10045';

export const policySchema = z
  .strictObject({
    /** TCP addresses; empty = no TCP listener. */
    listen: listenList([DEFAULT_POLICY_LISTEN]),
    /** A unix socket path as well (for Postfix's unix: or a chroot); empty = none. */
    socket: z.string().max(104).default(''),
    /** postfix: persistent connections, many requests each; exim: one request per connection, then close. */
    mode: z.enum(['postfix', 'exim']).default('postfix'),
  })
  .prefault({});

export const POLICY_DESCRIPTIONS = {
  section: 'The policy service Postfix (check_policy_service) and Exim (${readsocket}) ask (docs/postfix.md, docs/exim.md).',
  keys: {
    'policy.listen': 'TCP addresses as host:port ([v6]:port); empty turns the TCP listener off',
    'policy.socket': 'a unix socket path to listen on as well; empty = none',
    'policy.mode': 'postfix (persistent connections) or exim (one request per connection)',
  },
} as const;

export type PolicyConfig = z.infer<typeof policySchema>;
