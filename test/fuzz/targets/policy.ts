/**
 * Fuzz target: the policy front's request reader (fronts/policy/parser.ts PolicyParser) and
 * what the session does next with a request (request.ts classify, addressProblem; render.ts
 * renderAction).
 *
 * Inputs: whole connections' worth of bytes (up to a few KiB), delivered in random chunks, under
 * random limits: generated requests (known and unknown names, CR, NUL, '=', non-UTF-8, empty
 * lines), mutated valid requests, and random bytes.
 *
 * Contract checked:
 *   - push/next never throw; after an error, next() keeps returning that same error;
 *   - the events do not depend on how the bytes were cut into chunks;
 *   - a request holds known attribute names only, string values without LF or NUL, and its
 *     `bytes` is within maxRequestBytes; the requests' bytes never exceed what was pushed;
 *   - an error code is one of the documented ones;
 *   - a request written by a well-behaved client (the generator's own encoder) reads back as
 *     written (round trip);
 *   - classify() and addressProblem() never throw; a `decide` has a non-empty ip;
 *   - renderAction(anything) is one printable ASCII line `action=…` and an empty line.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { KNOWN_ATTRIBUTES, PolicyParser, type ParseEvent, type ParserLimits } from '../../../src/fronts/policy/parser.js';
import { addressProblem, classify } from '../../../src/fronts/policy/request.js';
import { renderAction } from '../../../src/fronts/policy/render.js';
import { bytes, chunks, mutated, splitPoints, type FuzzTarget } from '../harness.js';

const CODES = new Set(['line-too-long', 'request-too-long', 'nul', 'no-equals', 'bad-name', 'duplicate', 'empty-request']);
const KNOWN: ReadonlySet<string> = new Set(KNOWN_ATTRIBUTES);

const SEEDS = [
  'request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=192.0.2.1\nclient_name=mail.example.com\nhelo_name=mail.example.com\nsender=a@example.com\nrecipient=b@example.net\n\n',
  'request=smtpd_access_policy\r\nprotocol_state=CONNECT\r\nclient_address=2001:db8::1\r\n\r\nrequest=smtpd_access_policy\r\nclient_address=192.0.2.2\r\n\r\n',
  'request=smtpd_access_policy\nclient_address=::ffff:192.0.2.3\nsender=\nrecipient=\xc3\xa9@example.org\nccert_subject=x=y\n\n',
].map((s) => Buffer.from(s, 'latin1'));

const name = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...KNOWN_ATTRIBUTES) },
  { weight: 1, arbitrary: fc.constantFrom('client_name', 'queue_id', 'size', 'ccert_subject', 'x') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);
const value = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('smtpd_access_policy', 'RCPT', 'connect', '192.0.2.1', '2001:db8::1', '::ffff:1.2.3.4', '1.2.3', 'a@b', '', '=') },
  { weight: 2, arbitrary: fc.string({ maxLength: 40, unit: 'grapheme' }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20, unit: 'binary' }) },
);
const line = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(name, value).map(([n, v]) => `${n}=${v}`) },
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);
const generated = fc
  .tuple(fc.array(line, { maxLength: 30 }), fc.constantFrom('\n', '\r\n'))
  .map(([lines, eol]) => Buffer.from(lines.join(eol) + eol, 'utf8'));

/** A well-behaved request: distinct known names, values without LF/CR/NUL, then an empty line. */
const wellFormed = fc
  .uniqueArray(fc.tuple(fc.constantFrom(...KNOWN_ATTRIBUTES), fc.string({ maxLength: 40, unit: 'grapheme' }).map((s) => s.replace(/[\r\n\0]/g, ''))), {
    minLength: 1,
    maxLength: 6,
    selector: ([n]) => n,
  })
  .map((pairs) => Object.fromEntries(pairs) as Record<string, string>);

const limits = fc.record({
  maxLineBytes: fc.constantFrom(8, 40, 256, 2_048),
  maxRequestBytes: fc.constantFrom(16, 200, 1_024, 10_240),
});

type Input =
  | { readonly kind: 'bytes'; readonly input: Buffer; readonly split: readonly number[]; readonly limits: ParserLimits }
  | { readonly kind: 'round-trip'; readonly attributes: Record<string, string>; readonly split: readonly number[] }
  | { readonly kind: 'render'; readonly action: string };

const arbitrary: fc.Arbitrary<Input> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('bytes' as const), input: generated, split: splitPoints, limits }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('bytes' as const), input: mutated(SEEDS), split: splitPoints, limits }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('bytes' as const), input: bytes(600), split: splitPoints, limits }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('round-trip' as const), attributes: wellFormed, split: splitPoints }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('render' as const), action: fc.string({ maxLength: 600, unit: 'binary' }) }) },
);

/** Every event the parser gives for `parts`, pushed one after another, until its first error. */
function events(parts: readonly Buffer[], l: ParserLimits): ParseEvent[] {
  const parser = new PolicyParser(l);
  const out: ParseEvent[] = [];
  for (const part of parts) {
    parser.push(part);
    for (let e = parser.next(); e !== undefined; e = parser.next()) {
      out.push(e);
      if (e.kind === 'error') {
        assert.deepEqual(parser.next(), e, 'a failed parser keeps its error');
        parser.push(Buffer.from('request=x\n\n'));
        assert.deepEqual(parser.next(), e, 'a failed parser ignores more bytes');
        return out;
      }
    }
  }
  return out;
}

function checkEvents(list: readonly ParseEvent[], pushed: number, l: ParserLimits): void {
  let consumed = 0;
  for (const e of list) {
    if (e.kind === 'error') {
      assert.ok(CODES.has(e.code), `documented error code, got ${e.code}`);
      continue;
    }
    assert.ok(e.bytes > 0 && e.bytes <= l.maxRequestBytes, `request bytes ${e.bytes} within the limit`);
    consumed += e.bytes;
    for (const [key, v] of Object.entries(e.attributes)) {
      assert.ok(KNOWN.has(key), `only known attributes are kept, got ${key}`);
      assert.equal(typeof v, 'string');
      assert.ok(!v.includes('\n') && !v.includes('\0'), 'no LF or NUL in a value');
    }
    const c = classify(e.attributes);
    if (c.kind === 'decide') {
      assert.ok(c.fields.ip.length > 0);
      const problem = addressProblem(c.fields.ip);
      assert.ok(problem === undefined || typeof problem === 'string');
    }
  }
  assert.ok(consumed <= pushed, 'requests never take more bytes than were pushed');
}

function encode(attributes: Record<string, string>): Buffer {
  return Buffer.from(Object.entries(attributes).map(([k, v]) => `${k}=${v}\n`).join('') + '\n', 'utf8');
}

export const target: FuzzTarget<Input> = {
  name: 'policy',
  parser: 'fronts/policy parser.ts PolicyParser + request.ts classify + render.ts renderAction',
  arbitrary,
  check(input) {
    if (input.kind === 'render') {
      const out = renderAction(input.action);
      assert.ok(out.startsWith('action=') && out.endsWith('\n\n'));
      const body = out.slice(0, -2);
      assert.ok(/^[\x20-\x7e]*$/.test(body), 'one printable ASCII line');
      return;
    }
    if (input.kind === 'round-trip') {
      const wire = encode(input.attributes);
      const l = { maxLineBytes: 4_096, maxRequestBytes: 65_536 };
      const got = events(chunks(wire, input.split), l);
      assert.equal(got.length, 1);
      const e = got[0];
      assert.ok(e !== undefined && e.kind === 'request', `a request, got ${JSON.stringify(e)}`);
      assert.deepEqual({ ...e.attributes }, input.attributes);
      assert.equal(e.bytes, wire.length);
      return;
    }
    const whole = events([input.input], input.limits);
    checkEvents(whole, input.input.length, input.limits);
    const split = events(chunks(input.input, input.split), input.limits);
    assert.deepEqual(split, whole, 'the same events however the bytes are cut');
  },
};
