/**
 * The firewall suites of test/unit/firewall (decide, lifecycle and allowlist, statistics and
 * outages) on RedisStore, against the machine's Redis (BLOCKSMITH_TEST_REDIS_URL, default
 * redis://127.0.0.1:6379): the same tests the unit run gives SQLite, not copies. Each env has its
 * own key prefix under helpers.REDIS_RUN_PREFIX, deleted when its last env closes (SCAN + DEL of
 * that prefix only; never FLUSHALL); the last test proves that nothing was left behind.
 *
 * The two-node tests (a second Firewall on the same prefix hears the first one's writes through
 * Redis pub/sub within a second) are in the lifecycle suite and so run on SQLite too, where the
 * second node polls the shared file.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { REDIS_RUN_PREFIX, deleteRedisPrefix, redisKeysUnder } from '../../unit/firewall/helpers.js';
import { decideSuite } from '../../unit/firewall/decide.suite.js';
import { lifecycleSuite } from '../../unit/firewall/lifecycle.suite.js';
import { outageSuite } from '../../unit/firewall/outage.suite.js';

decideSuite('redis');
lifecycleSuite('redis');
outageSuite('redis');

test('no Redis key of this run is left behind', async () => {
  assert.deepEqual(await redisKeysUnder(REDIS_RUN_PREFIX), []);
});

after(async () => {
  // Whatever a failed test left (normally nothing: each env deletes its own prefix).
  await deleteRedisPrefix(REDIS_RUN_PREFIX);
});
