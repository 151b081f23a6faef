/** Fuzz target dns-reply (test/fuzz/targets/dns-reply.ts), a short seeded run. */
import { target } from '../../fuzz/targets/dns-reply.js';
import { fuzzTest } from './helpers.js';

fuzzTest(target, 2000);
