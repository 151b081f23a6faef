/** Fuzz target web (test/fuzz/targets/web.ts), a short seeded run. */
import { target } from '../../fuzz/targets/web.js';
import { fuzzTest } from './helpers.js';

fuzzTest(target, 2000);
