/** RefusalEpisodes: ended episodes are dropped as new ones start, so they hold no memory. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RefusalEpisodes, type Episode } from '../../../src/firewall/episodes.js';
import type { Evidence } from '../../../src/store/types.js';
import type { ClientContext } from '../../../src/firewall/types.js';

const WINDOW_MS = 60_000;
const config = {};
const ctx = { front: 'policy', helo: 'h', sender: 's', recipient: 'r' } as unknown as ClientContext;

function episode(at: number, ref: string): Episode {
  return {
    config, front: 'policy', helo: 'h', sender: 's', recipient: 'r', verdict: 'fail', reason: 'no-ptr', kind: 'hard',
    ref, url: `https://example.test/r/${ref}`, reply: { code: 550, enhanced: '5.7.1', lines: [ref] } as unknown as Episode['reply'],
    evidence: { at, ref } as unknown as Evidence, detail: 'fail no-ptr', until: at + WINDOW_MS,
  };
}

test('a stream of new refused addresses keeps only the episodes of the last window', () => {
  const episodes = new RefusalEpisodes({ windowMs: WINDOW_MS, maxCount: 10_000 });
  // One new address a second for ten minutes: 600 episodes started, at most a window's worth alive.
  for (let s = 0; s < 600; s++) {
    episodes.start(`10.0.${Math.floor(s / 250)}.${s % 250}`, episode(s * 1000, `R${s}`));
    assert.ok(episodes.size <= WINDOW_MS / 1000 + 1, `${episodes.size} episodes kept at ${s} s`);
  }
  assert.equal(episodes.size, 60);
  // The ones in the window are still found; an ended one is gone.
  const now = 599_000;
  assert.equal(episodes.find(config, '10.0.2.99', ctx, 'fail', 'no-ptr', 'hard', now)?.ref, 'R599');
  assert.equal(episodes.find(config, '10.0.2.40', ctx, 'fail', 'no-ptr', 'hard', now)?.ref, 'R540');
  assert.equal(episodes.find(config, '10.0.2.39', ctx, 'fail', 'no-ptr', 'hard', now), undefined);
});

test('restarting an episode moves it to the end, so an older one still leads and is dropped first', () => {
  const episodes = new RefusalEpisodes({ windowMs: WINDOW_MS, maxCount: 10_000 });
  episodes.start('192.0.2.1', episode(0, 'A'));
  episodes.start('192.0.2.2', episode(10_000, 'B'));
  episodes.start('192.0.2.1', episode(30_000, 'A2'));
  episodes.start('192.0.2.3', episode(70_000, 'C')); // B's window (to 70 s) has ended
  assert.equal(episodes.size, 2);
  assert.equal(episodes.find(config, '192.0.2.1', ctx, 'fail', 'no-ptr', 'hard', 70_000)?.ref, 'A2');
  assert.equal(episodes.find(config, '192.0.2.2', ctx, 'fail', 'no-ptr', 'hard', 70_000), undefined);
});

test('the count bound still holds inside one window', () => {
  const episodes = new RefusalEpisodes({ windowMs: WINDOW_MS, maxCount: 5 });
  for (let i = 0; i < 20; i++) episodes.start(`198.51.100.${i}`, episode(i, `R${i}`));
  assert.equal(episodes.size, 5);
  assert.equal(episodes.find(config, '198.51.100.19', ctx, 'fail', 'no-ptr', 'hard', 20)?.ref, 'R19');
});
