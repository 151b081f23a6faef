/**
 * Statistics and store outages on the SQLite store (the suite: outage.suite.ts), and the
 * evidence trace bound (no store).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IP } from './helpers.js';
import { trimTrace } from '../../../src/firewall/evidence.js';
import type { TraceStep } from '../../../src/check/types.js';
import { outageSuite } from './outage.suite.js';

outageSuite('sqlite');

describe('evidence trace bound', () => {
  test('a trace over evidenceTraceMaxBytes loses exchanges, then steps, and keeps its verdict', () => {
    const big = 'x'.repeat(5_000);
    const trace: TraceStep[] = [
      { step: 'normalise', input: IP.noMatch, ip: IP.noMatch },
      ...Array.from({ length: 10 }, (_, i): TraceStep => ({ step: 'forward', name: `n${i}.example`, qtype: 'A', outcome: 'no-match', addresses: [big], cnameChain: [], exchanges: [] })),
      { step: 'verdict', verdict: 'fail', reason: 'no-forward-match' },
    ];
    const out = trimTrace(trace, 12_000);
    assert.ok(Array.isArray(out));
    assert.ok(Buffer.byteLength(JSON.stringify(out)) <= 12_000);
    assert.deepEqual(out.at(-1), { step: 'verdict', verdict: 'fail', reason: 'no-forward-match' });
    assert.ok(out.some((s: unknown) => typeof s === 'object' && s !== null && (s as { step?: string }).step === 'trimmed'));
    assert.deepEqual(trimTrace(trace.slice(0, 1), 12_000), trace.slice(0, 1), 'a small trace is kept whole');
  });
});
