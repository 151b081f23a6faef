/** Fuzz target config (test/fuzz/targets/config.ts), a short seeded run. */
import { target } from '../../fuzz/targets/config.js';
import { fuzzTest } from './helpers.js';

fuzzTest(target, 500);
