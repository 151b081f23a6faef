/** Batched evidence and refusal episodes on the store of BLOCKSMITH_TEST_STORE (the suite: batching.suite.ts). */
import { batchingSuite } from './batching.suite.js';
import { defaultStoreKind } from './helpers.js';

batchingSuite(defaultStoreKind());
