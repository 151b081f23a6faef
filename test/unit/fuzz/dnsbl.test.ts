/** Fuzz target dnsbl (test/fuzz/targets/dnsbl.ts), a short seeded run. */
import { target } from '../../fuzz/targets/dnsbl.js';
import { fuzzTest } from './helpers.js';

fuzzTest(target, 2000);
