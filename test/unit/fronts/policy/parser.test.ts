/**
 * fronts/policy/parser without sockets: framing, limits and each coded error, fed whole and
 * byte by byte.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyParser, type ParseEvent } from '../../../../src/fronts/policy/parser.js';

const LIMITS = { maxLineBytes: 256, maxRequestBytes: 1_024 };

function all(input: string | Buffer, limits = LIMITS, byteByByte = false): ParseEvent[] {
  const parser = new PolicyParser(limits);
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const out: ParseEvent[] = [];
  const drain = (): void => {
    for (let e = parser.next(); e !== undefined; e = parser.next()) {
      out.push(e);
      if (e.kind === 'error') return;
    }
  };
  if (byteByByte) {
    for (let i = 0; i < bytes.length; i++) {
      parser.push(bytes.subarray(i, i + 1));
      drain();
      if (out.at(-1)?.kind === 'error') break;
    }
  } else {
    parser.push(bytes);
    drain();
  }
  return out;
}

describe('policy parser', () => {
  test('one request: the known attributes kept, unknown ones ignored, LF and CRLF alike', () => {
    for (const eol of ['\n', '\r\n']) {
      for (const byteByByte of [false, true]) {
        const text = ['request=smtpd_access_policy', 'protocol_state=RCPT', 'client_address=192.0.2.1', 'ccert_subject=x=y', 'sender=a@b', ''].join(eol) + eol;
        const events = all(text, LIMITS, byteByByte);
        assert.deepEqual(events, [
          {
            kind: 'request',
            attributes: { request: 'smtpd_access_policy', protocol_state: 'RCPT', client_address: '192.0.2.1', sender: 'a@b' },
            bytes: Buffer.byteLength(text),
          },
        ]);
      }
    }
  });

  test('pipelined requests come out one by one, in order; a partial one waits', () => {
    const parser = new PolicyParser(LIMITS);
    parser.push(Buffer.from('request=a\n\nrequest=b\n\nrequest=c\n'));
    const first = parser.next();
    const second = parser.next();
    assert.equal(first?.kind === 'request' && first.attributes.request, 'a');
    assert.equal(second?.kind === 'request' && second.attributes.request, 'b');
    assert.equal(parser.next(), undefined);
    assert.equal(parser.inRequest, true);
    parser.push(Buffer.from('\n'));
    const third = parser.next();
    assert.equal(third?.kind === 'request' && third.attributes.request, 'c');
    assert.equal(parser.inRequest, false);
  });

  test('a value is UTF-8; a value may hold "=" and be empty', () => {
    const [event] = all('sender=j\u00f6rg@example.org\nrecipient=\nhelo_name=a=b\n\n');
    assert.deepEqual(event?.kind === 'request' && event.attributes, { sender: 'j\u00f6rg@example.org', recipient: '', helo_name: 'a=b' });
  });

  const errors: readonly [string, string | Buffer, string][] = [
    ['a line over maxLineBytes, before its LF arrives', `helo_name=${'x'.repeat(300)}`, 'line-too-long'],
    ['a request over maxRequestBytes in short lines', 'x=1\n'.repeat(300), 'request-too-long'],
    ['a NUL byte in a value', 'helo_name=a\0b\n\n', 'nul'],
    ['a NUL byte in a name', 'he\0lo=a\n\n', 'nul'],
    ['a line without "="', 'request=smtpd_access_policy\nhello\n\n', 'no-equals'],
    ['an empty name', '=value\n\n', 'bad-name'],
    ['a name with a control character', 'na\x01me=v\n\n', 'bad-name'],
    ['a name with a space', 'client address=1.2.3.4\n\n', 'bad-name'],
    ['client_address twice, different values', 'client_address=192.0.2.1\nclient_address=192.0.2.2\n\n', 'duplicate'],
    ['an empty request', '\n', 'empty-request'],
    ['binary garbage', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x0a, 0x0a]), 'nul'],
  ];
  for (const [label, input, code] of errors) {
    test(`error: ${label} → ${code} (whole and byte by byte)`, () => {
      for (const byteByByte of [false, true]) {
        const events = all(input, LIMITS, byteByByte);
        const last = events.at(-1);
        assert.equal(last?.kind, 'error', `${label}: ${JSON.stringify(events)}`);
        assert.equal(last?.kind === 'error' && last.code, code);
      }
    });
  }

  test('the same attribute twice with the same value, or an unknown one twice, is accepted', () => {
    const [event] = all('client_address=192.0.2.1\nclient_address=192.0.2.1\nfoo=1\nfoo=2\n\n');
    assert.deepEqual(event?.kind === 'request' && event.attributes, { client_address: '192.0.2.1' });
  });

  test('a line of exactly maxLineBytes passes, one byte more fails; a failed parser stays failed', () => {
    const ok = `helo_name=${'x'.repeat(LIMITS.maxLineBytes - 'helo_name='.length)}\n\n`;
    assert.equal(all(ok)[0]?.kind, 'request');
    const parser = new PolicyParser(LIMITS);
    parser.push(Buffer.from(`helo_name=${'x'.repeat(LIMITS.maxLineBytes)}\n\n`));
    assert.equal(parser.next()?.kind, 'error');
    parser.push(Buffer.from('request=a\n\n'));
    assert.equal(parser.next()?.kind, 'error');
  });
  test('fuzz finding: a chunk over both limits gets the error a byte-by-byte arrival gets (not one that depends on the cut)', () => {
    // maxRequestBytes below maxLineBytes, and a request close to its limit with a long line:
    // the request limit is crossed first, whatever the segmentation.
    const small = { maxLineBytes: 40, maxRequestBytes: 16 };
    const line = Buffer.from('protocol_state=\u0800\u0800\u{10000}\u00a0\u{10000}\u0800\u0800\u0800\r\n', 'utf8');
    // 4 lines of 201 bytes (804), then a 300-byte line: the request limit (1024) falls 220 bytes in, the line limit 256.
    const near = Buffer.from([1, 2, 3, 4].map((i) => `x${i}=${'x'.repeat(197)}\n`).join('') + `sender=${'y'.repeat(300)}\n\n`);
    for (const [input, limits] of [[line, small], [near, LIMITS]] as const) {
      const whole = all(input, limits).at(-1);
      const split = all(input, limits, true).at(-1);
      assert.equal(whole?.kind, 'error');
      assert.deepEqual(whole, split);
    }
  });
});
