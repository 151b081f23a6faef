/**
 * Fuzz target: the SMTP gate's command side (fronts/smtp-gate): command-reader.ts (CommandReader,
 * parseCommand, pathArgument) feeding dialogue.ts (RefusedDialogue), whose refusals come from
 * firewall/reply.ts buildReply with a hostile PTR name.
 *
 * Inputs: a client's bytes (commands from a grammar with hostile arguments, LF/CRLF/CR line ends,
 * NUL, non-UTF-8; mutated sessions; random bytes) delivered in random chunks, under a random line
 * limit, against a dialogue that refuses at connect or at RCPT, whose RCPT decision rejects,
 * accepts or throws.
 *
 * Contract checked:
 *   - the reader never throws, stays failed after line-too-long, gives the same events however
 *     the bytes are cut, returns lines without LF and within maxLineBytes, and never keeps more
 *     than maxLineBytes + 1 bytes while waiting for an LF;
 *   - well-formed command lines read back exactly;
 *   - every reply of the dialogue is SMTP: lines of at most 512 octets with CRLF (RFC 5321
 *     §4.5.3.1.5), printable ASCII, `ddd-` … `ddd ` with one code; nothing after a closing reply.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normaliseAddress } from '../../../src/check/address.js';
import { buildReply, portalLink } from '../../../src/firewall/reply.js';
import type { Decision } from '../../../src/firewall/types.js';
import { CommandReader, pathArgument, type ReadEvent } from '../../../src/fronts/smtp-gate/command-reader.js';
import { RefusedDialogue } from '../../../src/fronts/smtp-gate/dialogue.js';
import { bytes, chunks, mutated, splitPoints, type FuzzTarget } from '../harness.js';

const HOST = 'gate.example.net';
const REPLY_LINE_MAX_OCTETS = 512;

const verb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('EHLO', 'HELO', 'MAIL', 'RCPT', 'DATA', 'RSET', 'NOOP', 'QUIT', 'STARTTLS', 'VRFY', 'AUTH', 'BDAT', 'ehlo', 'Mail', 'GET', 'Host:', '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
);
const hostile = fc.oneof(
  fc.string({ maxLength: 60, unit: 'grapheme' }),
  fc.string({ maxLength: 30, unit: 'binary' }),
  fc.constantFrom('<>', '<a@b>', 'a@b', '<a<b>', '<@x,@y:a@b>', '\0', '\r', 'x\rQUIT', '"a b"@c', '<' + 'x'.repeat(600) + '>'),
);
const args = fc.oneof(
  fc.tuple(fc.constantFrom('FROM:', 'TO:', 'from : ', 'To:', 'FROM', ''), hostile, fc.constantFrom('', ' SIZE=10', ' BODY=8BITMIME', ' x')).map(([k, a, p]) => `${k}${a}${p}`),
  hostile,
);
const commandLine = fc.tuple(verb, fc.constantFrom(' ', '', '  '), args).map(([v, s, a]) => `${v}${s}${a}`);
const session = fc
  .tuple(fc.array(commandLine, { maxLength: 20 }), fc.constantFrom('\r\n', '\n', '\r'))
  .map(([lines, eol]) => Buffer.from(lines.join(eol) + eol, 'utf8'));

const SEEDS = [
  'EHLO mail.example.com\r\nMAIL FROM:<a@example.com> SIZE=100\r\nRCPT TO:<postmaster@example.net>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nRSET\r\nQUIT\r\n',
  'HELO x\nMAIL FROM:<>\nRCPT TO:<\xc3\xa9@example.org>\nNOOP\nSTARTTLS\nGET / HTTP/1.1\r\n',
  'ehlo a\r\nmail from: <a@b>\r\nrcpt to: c@d\r\nVRFY root\r\nquit\r\n',
].map((s) => Buffer.from(s, 'latin1'));

const ptrName = fc.oneof(fc.domain(), fc.string({ maxLength: 300, unit: 'grapheme' }), fc.string({ maxLength: 40, unit: 'binary' }));
const refusal = fc
  .record({
    kind: fc.constantFrom('soft' as const, 'hard' as const, 'temp' as const),
    ip: fc.oneof(fc.ipV4(), fc.ipV6()),
    reason: fc.constantFrom('no-ptr' as const, 'no-valid-ptr' as const, 'no-forward-match' as const, 'forward-nodata' as const, 'manual' as const, 'dns-temp-ptr' as const),
    name: fc.option(ptrName, { nil: undefined }),
    organisation: fc.oneof(fc.constant('Example Org'), fc.string({ maxLength: 120, unit: 'grapheme' })),
    base: fc.oneof(fc.constant('https://portal.example.net/'), fc.webUrl()),
    ref: fc.stringMatching(/^[A-Z0-9]{8}$/),
    nameMaxChars: fc.constantFrom(20, 72, 253),
  })
  .map((r): Decision & { reply: NonNullable<Decision['reply']> } => {
    const ip = normaliseAddress(r.ip);
    const url = portalLink(r.base, ip.ip, r.ref);
    const reply = buildReply({ kind: r.kind, ip: ip.ip, family: ip.family, reason: r.reason, name: r.name, url, organisation: r.organisation, nameMaxChars: r.nameMaxChars });
    return { action: r.kind === 'hard' ? 'reject' : 'defer', ip: ip.ip, source: 'check', verdict: 'fail', reason: r.reason, reply, ref: r.ref, url };
  });

interface Input {
  readonly input: Buffer;
  readonly split: readonly number[];
  readonly maxLineBytes: number;
  readonly rejectAtConnect: boolean;
  readonly refusal: Decision & { reply: NonNullable<Decision['reply']> };
  readonly rcpt: 'reject' | 'accept' | 'throw';
  readonly maxCommandsCount: number;
}

const arbitrary: fc.Arbitrary<Input> = fc.record({
  input: fc.oneof({ weight: 5, arbitrary: session }, { weight: 3, arbitrary: mutated(SEEDS) }, { weight: 2, arbitrary: bytes(600) }),
  split: splitPoints,
  maxLineBytes: fc.constantFrom(16, 100, 512, 2_048),
  rejectAtConnect: fc.boolean(),
  refusal,
  rcpt: fc.constantFrom('reject' as const, 'accept' as const, 'throw' as const),
  maxCommandsCount: fc.constantFrom(3, 20, 100),
});

/** checkReply - one reply as it goes on the wire. */
function checkReply(text: string): void {
  assert.ok(text.length > 0 && text.endsWith('\r\n'), `a reply ends with CRLF: ${JSON.stringify(text)}`);
  const lines = text.slice(0, -2).split('\r\n');
  const code = lines[0]?.slice(0, 3) ?? '';
  assert.match(code, /^[2-5]\d\d$/);
  lines.forEach((line, i) => {
    assert.ok(Buffer.byteLength(line, 'latin1') + 2 <= REPLY_LINE_MAX_OCTETS, `a reply line of ${line.length + 2} octets`);
    assert.ok(/^[\x20-\x7e]*$/.test(line), `printable ASCII: ${JSON.stringify(line)}`);
    assert.equal(line.slice(0, 3), code, 'one code for every line');
    assert.equal(line[3], i === lines.length - 1 ? ' ' : '-', 'continuation marks');
  });
}

function readAll(parts: readonly Buffer[], maxLineBytes: number): ReadEvent[] {
  const reader = new CommandReader({ maxLineBytes });
  const out: ReadEvent[] = [];
  for (const part of parts) {
    reader.push(part);
    for (let e = reader.next(); e !== undefined; e = reader.next()) {
      out.push(e);
      if (e.kind === 'error') {
        reader.push(Buffer.from('QUIT\r\n'));
        assert.deepEqual(reader.next(), e, 'a failed reader keeps its error');
        return out;
      }
    }
    assert.ok(reader.bufferedBytes <= maxLineBytes + 1, `waiting with ${reader.bufferedBytes} bytes kept`);
  }
  return out;
}

/**
 * reference - the lines RFC 5321 framing gives, written the simple way: split at LF, a CR before
 * it dropped (else the line ends in a bare LF); a line (or an unfinished tail, a trailing CR not
 * counted) over maxLineBytes is line-too-long.
 */
function reference(input: Buffer, maxLineBytes: number): { kind: string; line?: string; bareLf?: boolean }[] {
  const out: { kind: string; line?: string; bareLf?: boolean }[] = [];
  let from = 0;
  for (let lf = input.indexOf(0x0a); lf !== -1; lf = input.indexOf(0x0a, from)) {
    const bareLf = lf === from || input[lf - 1] !== 0x0d;
    const end = bareLf ? lf : lf - 1;
    if (end - from > maxLineBytes) return [...out, { kind: 'error' }];
    out.push({ kind: 'command', line: input.toString('utf8', from, end), bareLf });
    from = lf + 1;
  }
  const tail = input.length - from - (input[input.length - 1] === 0x0d && input.length > from ? 1 : 0);
  if (tail > maxLineBytes) out.push({ kind: 'error' });
  return out;
}

export const target: FuzzTarget<Input> = {
  name: 'smtp',
  parser: 'fronts/smtp-gate command-reader.ts CommandReader/parseCommand/pathArgument + dialogue.ts RefusedDialogue',
  arbitrary,
  async: true,
  async check(input) {
    const whole = readAll([input.input], input.maxLineBytes);
    const split = readAll(chunks(input.input, input.split), input.maxLineBytes);
    // The error's detail says how many bytes had arrived: only its code must agree.
    const shape = (list: readonly ReadEvent[]): unknown[] => list.map((e) => (e.kind === 'error' ? e.code : e));
    assert.deepEqual(shape(split), shape(whole), 'the same commands however the bytes are cut');
    for (const e of whole) {
      if (e.kind !== 'command') continue;
      assert.ok(!e.line.includes('\n') && Buffer.byteLength(e.line) <= input.maxLineBytes * 3, 'a line without LF');
      for (const keyword of ['FROM', 'TO'] as const) {
        const path = pathArgument(e.command.args, keyword);
        assert.ok(path === undefined || !/[<>]/.test(path));
      }
    }
    assert.deepEqual(
      whole.map((e) => (e.kind === 'command' ? { kind: e.kind, line: e.line, bareLf: e.bareLf } : { kind: e.kind })),
      reference(input.input, input.maxLineBytes),
      'the reader agrees with the line model',
    );
    const dialogue = new RefusedDialogue({
      host: HOST,
      refusal: input.refusal,
      rejectAtConnect: input.rejectAtConnect,
      maxCommandsCount: input.maxCommandsCount,
      decideRcpt: (fields) => {
        assert.ok(fields.recipient.length > 0);
        if (input.rcpt === 'throw') return Promise.reject(new Error('firewall down'));
        if (input.rcpt === 'accept') return Promise.resolve({ action: 'accept', ip: input.refusal.ip, source: 'postmaster', verdict: 'pass', reason: 'always-accept' } as Decision);
        return Promise.resolve(input.refusal);
      },
    });
    const greeting = dialogue.greeting();
    checkReply(greeting.text);
    if (greeting.close) return;
    for (const e of whole) {
      if (e.kind !== 'command') break;
      const answer = await dialogue.handle(e.command);
      checkReply(answer.text);
      if (answer.close) break;
    }
    const evidence = dialogue.evidence;
    for (const r of evidence.recipients) assert.equal(typeof r, 'string');
  },
};
