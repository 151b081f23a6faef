/** Fuzz target proxy (test/fuzz/targets/proxy.ts), a short seeded run. */
import { target } from '../../fuzz/targets/proxy.js';
import { fuzzTest } from './helpers.js';

fuzzTest(target, 5000);
