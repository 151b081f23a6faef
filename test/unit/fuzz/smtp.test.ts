/** Fuzz target smtp (test/fuzz/targets/smtp.ts), a short seeded run. */
import { target } from '../../fuzz/targets/smtp.js';
import { fuzzTest } from './helpers.js';

fuzzTest(target, 2000);
