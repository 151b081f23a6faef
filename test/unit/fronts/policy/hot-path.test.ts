/**
 * The policy front's warm path, which allocates little (bench/fronts: issue 4): the parser's
 * per-connection value reuse and byte-wise name matching, the cached answers (render.ts
 * answerFor), the one-object decision context (request.ts), and the session's one deadline
 * timer (a decision started while the timer is armed for an earlier one still gets its own
 * full deadline; late answers are dropped; bytes that arrive while deciding wait their turn).
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyParser, CACHED_VALUE_MAX_BYTES, type ParseEvent } from '../../../../src/fronts/policy/parser.js';
import { actionFor, answerFor, DUNNO_ANSWER, renderAction } from '../../../../src/fronts/policy/render.js';
import { classify, decisionContext, kindOf, type Classified } from '../../../../src/fronts/policy/request.js';
import type { Firewall } from '../../../../src/firewall/index.js';
import type { ClientContext, Decision, SmtpReply } from '../../../../src/firewall/types.js';
import { Abort } from '../../../../src/util/abort.js';
import { IP, useHarness } from '../../firewall/helpers.js';
import { PolicyClient, request, startFront, type Running } from './helpers.js';

const LIMITS = { maxLineBytes: 1_024, maxRequestBytes: 8_192 };

function requests(parser: PolicyParser, chunk: Buffer): ParseEvent[] {
  parser.push(chunk);
  const out: ParseEvent[] = [];
  for (let e = parser.next(); e !== undefined; e = parser.next()) {
    out.push(e);
    if (e.kind === 'error') break;
  }
  return out;
}

function attributesOf(events: ParseEvent[]): unknown[] {
  return events.map((e) => (e.kind === 'request' ? e.attributes : e.code));
}

describe('policy parser: values kept from one request to the next', () => {
  test('a value that changes is read anew, also when its length is the same; unchanged values stay right', () => {
    const parser = new PolicyParser(LIMITS);
    const one = (sender: string, ip: string): string => `request=smtpd_access_policy\nclient_address=${ip}\nsender=${sender}\nhelo_name=h.example\n\n`;
    assert.deepEqual(attributesOf(requests(parser, Buffer.from(one('a@x.example', '192.0.2.1') + one('a@x.example', '192.0.2.1') + one('b@x.example', '192.0.2.2') + one('a@x.example', '192.0.2.1')))), [
      { request: 'smtpd_access_policy', client_address: '192.0.2.1', sender: 'a@x.example', helo_name: 'h.example' },
      { request: 'smtpd_access_policy', client_address: '192.0.2.1', sender: 'a@x.example', helo_name: 'h.example' },
      { request: 'smtpd_access_policy', client_address: '192.0.2.2', sender: 'b@x.example', helo_name: 'h.example' },
      { request: 'smtpd_access_policy', client_address: '192.0.2.1', sender: 'a@x.example', helo_name: 'h.example' },
    ]);
  });

  test('the kept bytes are a copy: a received buffer written over later does not change what is read', () => {
    const parser = new PolicyParser(LIMITS);
    const buf = Buffer.from('sender=aaaa@x.example\n\n');
    assert.deepEqual(attributesOf(requests(parser, buf)), [{ sender: 'aaaa@x.example' }]);
    buf.write('sender=bbbb@x.example\n\n'); // same length, the same memory reused (as a pooled read buffer may be)
    assert.deepEqual(attributesOf(requests(parser, buf)), [{ sender: 'bbbb@x.example' }]);
    buf.write('sender=aaaa@x.example\n\n');
    assert.deepEqual(attributesOf(requests(parser, buf)), [{ sender: 'aaaa@x.example' }]);
  });

  test('UTF-8, invalid bytes, empty values and values past CACHED_VALUE_MAX_BYTES are read right every time', () => {
    const parser = new PolicyParser(LIMITS);
    const long = `${'x'.repeat(CACHED_VALUE_MAX_BYTES + 10)}@example.org`;
    const longOther = `${'y'.repeat(CACHED_VALUE_MAX_BYTES + 10)}@example.org`;
    const bad = Buffer.concat([Buffer.from('helo_name=a'), Buffer.from([0xff, 0xfe]), Buffer.from('b\n\n')]);
    for (let round = 0; round < 2; round++) {
      assert.deepEqual(attributesOf(requests(parser, Buffer.from(`sender=j\u00f6rg@example.org\nrecipient=\n\n`))), [{ sender: 'j\u00f6rg@example.org', recipient: '' }]);
      assert.deepEqual(attributesOf(requests(parser, bad)), [{ helo_name: 'a\ufffd\ufffdb' }]);
      assert.deepEqual(attributesOf(requests(parser, Buffer.from(`recipient=${long}\n\n`))), [{ recipient: long }]);
      assert.deepEqual(attributesOf(requests(parser, Buffer.from(`recipient=${longOther}\n\n`))), [{ recipient: longOther }]);
    }
  });

  test('a known attribute twice with different values is still a duplicate when one equals the previous request\'s', () => {
    const parser = new PolicyParser(LIMITS);
    assert.deepEqual(attributesOf(requests(parser, Buffer.from('client_address=192.0.2.1\n\n'))), [{ client_address: '192.0.2.1' }]);
    assert.deepEqual(attributesOf(requests(parser, Buffer.from('client_address=192.0.2.1\nclient_address=192.0.2.1\n\n'))), [{ client_address: '192.0.2.1' }]);
    assert.deepEqual(attributesOf(requests(parser, Buffer.from('client_address=192.0.2.1\nclient_address=192.0.2.9\n\n'))), ['duplicate']);
  });

  test('names are matched exactly: same length or same prefix but other bytes, other case: ignored', () => {
    const parser = new PolicyParser(LIMITS);
    const text = 'requesX=smtpd_access_policy\nRequest=y\nrecipient_count=0\nsender_x=z\nclient_addresS=192.0.2.9\nrequest=smtpd_access_policy\nclient_address=192.0.2.1\n\n';
    assert.deepEqual(attributesOf(requests(parser, Buffer.from(text))), [{ request: 'smtpd_access_policy', client_address: '192.0.2.1' }]);
  });
});

describe('policy render and request: the hot path', () => {
  const reply: SmtpReply = { code: 450, enhanced: '4.7.25', lines: ['[192.0.2.20] Rejected by Example mail gateway:', 'no reverse DNS. Details: http://x/ip/192.0.2.20?r=ABCDEFGH'] };
  const refusal = (r: SmtpReply | undefined): Decision => ({ action: 'reject', ip: '192.0.2.20', source: 'listing', verdict: 'fail', reason: 'no-ptr', ...(r === undefined ? {} : { reply: r }) });

  test('answerFor: DUNNO_ANSWER for accepts; a refusal\'s wire text, the same for the same reply; none without a reply', () => {
    const accept: Decision = { action: 'accept', ip: '192.0.2.10', source: 'check', verdict: 'pass', reason: 'confirmed' };
    assert.equal(answerFor(accept), DUNNO_ANSWER);
    assert.equal(DUNNO_ANSWER, renderAction('DUNNO'));
    const first = answerFor(refusal(reply));
    assert.equal(first, renderAction(actionFor(refusal(reply)) ?? ''));
    assert.equal(first, 'action=450 4.7.25 [192.0.2.20] Rejected by Example mail gateway: no reverse DNS. Details: http://x/ip/192.0.2.20?r=ABCDEFGH\n\n');
    assert.equal(answerFor(refusal(reply)), first);
    assert.equal(answerFor(refusal(undefined)), undefined);
  });

  test('renderAction and answerFor never let a CR, LF or non-ASCII character through', () => {
    assert.equal(renderAction('450 a\r\nb\u00e9'), 'action=450 a??b?\n\n');
    const hostile: SmtpReply = { code: 451, enhanced: '4.4.3', lines: ['x\ny', 'z\u0000'] };
    assert.equal(answerFor(refusal(hostile)), 'action=451 4.4.3 x?y z?\n\n');
  });

  test('kindOf agrees with classify; decisionContext carries the same fields, empty ones undefined', () => {
    const cases: Record<string, string>[] = [
      { request: 'x', client_address: '192.0.2.1' },
      { client_address: '192.0.2.1' },
      { request: 'smtpd_access_policy' },
      { request: 'smtpd_access_policy', client_address: '' },
      { request: 'smtpd_access_policy', client_address: '192.0.2.1', protocol_state: 'rcpt', helo_name: 'h', sender: '', recipient: 'postmaster@x' },
      { request: 'smtpd_access_policy', client_address: '2001:db8::1', protocol_state: 'VRFY' },
    ];
    const signal = new Abort();
    for (const attributes of cases) {
      const classified: Classified = classify(attributes);
      assert.equal(kindOf(attributes), classified.kind);
      if (classified.kind !== 'decide') continue;
      const ctx: ClientContext = decisionContext(attributes, signal);
      assert.equal(ctx.front, 'policy');
      assert.equal(ctx.signal, signal);
      const { front: _front, signal: _signal, ...rest } = ctx;
      const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
      assert.deepEqual(defined, classified.fields);
    }
  });
});

describe('policy session: one deadline timer', () => {
  const harness = useHarness('sqlite');
  const running: Running[] = [];
  afterEach(async () => {
    for (const r of running.splice(0)) await r.front.stop();
  });

  /** A firewall whose decide() answers `IP.pass` at once and holds every other address as `hold` says. */
  async function front(policy: Record<string, unknown>, hold: (ctx: ClientContext, real: Firewall) => Promise<Decision>): Promise<Running> {
    const env = await harness.env();
    const real = env.firewall;
    const wrapped = new Proxy(real, {
      get(target, prop, receiver): unknown {
        if (prop === 'decide') return (ctx: ClientContext) => (ctx.ip === IP.pass ? target.decide(ctx) : hold(ctx, target));
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const r = await startFront(env, policy, wrapped);
    running.push(r);
    return r;
  }

  test('a decision started while the timer runs for an earlier one gets its own whole deadline, then the grace', async () => {
    const aborted: number[] = [];
    const r = await front({ decisionTimeoutMs: 300, decisionGraceMs: 100 }, (ctx) => {
      ctx.signal?.addEventListener('abort', () => aborted.push(Date.now()));
      return new Promise(() => undefined);
    });
    const client = await PolicyClient.open(r.port);
    assert.equal(await client.ask({ client_address: IP.pass }), 'DUNNO'); // arms the timer for 300 ms
    await new Promise((resolve) => setTimeout(resolve, 200));
    const asked = Date.now();
    const answer = await client.ask({ client_address: IP.noPtr });
    const took = Date.now() - asked;
    assert.match(answer ?? '', /^451 4\.3\.0 /);
    assert.equal(aborted.length, 1);
    // Not at the first decision's deadline (100 ms after asking): its own 300 ms, then 100 ms of grace.
    assert.ok((aborted[0] ?? 0) - asked >= 290, `aborted after ${(aborted[0] ?? 0) - asked} ms`);
    assert.ok(took >= 390, `answered after ${took} ms`);
    assert.ok(took < 2_000, `answered after ${took} ms`);
    // The connection goes on, and the timer serves the next decisions.
    assert.equal(await client.ask({ client_address: IP.pass }), 'DUNNO');
    assert.match((await client.ask({ client_address: IP.noPtr })) ?? '', /^451 4\.3\.0 /);
    assert.equal(r.events.filter((e) => e === 'policy:decision-timeout').length, 2);
    client.close();
  });

  test('a decision answered after the front\'s own 451 is dropped: one answer per request, in order', async () => {
    let late: ((d: Decision) => void) | undefined;
    const r = await front({ decisionTimeoutMs: 100, decisionGraceMs: 50 }, (ctx, real) => {
      if (late === undefined) {
        return new Promise<Decision>((resolve) => {
          late = resolve;
        });
      }
      return real.decide({ ...ctx, ip: IP.noPtr });
    });
    const client = await PolicyClient.open(r.port);
    assert.match((await client.ask({ client_address: IP.noMatch })) ?? '', /^451 4\.3\.0 /);
    late?.({ action: 'accept', ip: IP.noMatch, source: 'check', verdict: 'pass', reason: 'confirmed' });
    assert.match((await client.ask({ client_address: IP.noMatch })) ?? '', /^450 4\.7\.25 \[192\.0\.2\.20\] /);
    assert.equal(await client.ask({ client_address: IP.pass }), 'DUNNO');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(client.received.split('\n\n').length - 1, 3, client.received);
    client.close();
  });

  test('a request that arrives while one is being decided waits for its turn, and both are answered in order', async () => {
    const held: (() => void)[] = [];
    const r = await front({}, (ctx, real) => new Promise<Decision>((resolve) => held.push(() => resolve(real.decide({ ...ctx, ip: IP.noPtr })))));
    const client = await PolicyClient.open(r.port);
    client.send(request({ client_address: IP.noMatch }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.send(request({ client_address: IP.pass }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(client.received, '', 'nothing answered while the first is decided');
    assert.equal(held.length, 1);
    held[0]?.();
    assert.match((await client.answer()) ?? '', /^450 4\.7\.25 /);
    assert.equal(await client.answer(), 'DUNNO');
    client.close();
  });
});
