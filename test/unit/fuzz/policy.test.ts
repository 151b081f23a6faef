/** Fuzz target policy (test/fuzz/targets/policy.ts), a short seeded run. */
import { target } from '../../fuzz/targets/policy.js';
import { fuzzTest } from './helpers.js';

fuzzTest(target, 5000);
