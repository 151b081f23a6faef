/**
 * fronts/smtp-gate/command-reader without sockets: CRLF and bare LF, pipelining, chunk edges,
 * the line limit (before the LF arrives), UTF-8, the path argument, and random garbage.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CommandReader, parseCommand, pathArgument, type ReadEvent } from '../../../../src/fronts/smtp-gate/command-reader.js';

const LIMITS = { maxLineBytes: 512 };

function all(input: string | Buffer, byteByByte = false, limits = LIMITS): ReadEvent[] {
  const reader = new CommandReader(limits);
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const out: ReadEvent[] = [];
  const drain = (): boolean => {
    for (let e = reader.next(); e !== undefined; e = reader.next()) {
      out.push(e);
      if (e.kind === 'error') return false;
    }
    return true;
  };
  if (byteByByte) {
    for (let i = 0; i < bytes.length; i++) {
      reader.push(bytes.subarray(i, i + 1));
      if (!drain()) break;
    }
  } else {
    reader.push(bytes);
    drain();
  }
  return out;
}

function lines(events: ReadEvent[]): string[] {
  return events.map((e) => (e.kind === 'command' ? e.line : `!${e.code}`));
}

describe('SMTP command reader', () => {
  test('pipelined commands come out one by one, in order, whole and byte by byte', () => {
    for (const byte of [false, true]) {
      const events = all('EHLO a.example\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\nDATA\r\n', byte);
      assert.deepEqual(lines(events), ['EHLO a.example', 'MAIL FROM:<x@y>', 'RCPT TO:<z@w>', 'DATA']);
      assert.ok(events.every((e) => e.kind === 'command' && !e.bareLf));
    }
  });

  test('a bare LF ends a line but is flagged; a CR alone does not end one', () => {
    const events = all('HELO a\nNOOP\r\nX\rY\r\n');
    assert.deepEqual(lines(events), ['HELO a', 'NOOP', 'X\rY']);
    assert.deepEqual(events.map((e) => e.kind === 'command' && e.bareLf), [true, false, false]);
    assert.equal((all('\n')[0] as { bareLf: boolean }).bareLf, true);
  });

  test('a partial line waits; inLine and bufferedBytes tell', () => {
    const reader = new CommandReader(LIMITS);
    reader.push(Buffer.from('NOOP\r\nQU'));
    assert.equal(reader.next()?.kind, 'command');
    assert.equal(reader.next(), undefined);
    assert.equal(reader.inLine, true);
    assert.equal(reader.bufferedBytes, 2);
    reader.push(Buffer.from('IT\r'));
    assert.equal(reader.next(), undefined);
    reader.push(Buffer.from('\n'));
    const quit = reader.next();
    assert.equal(quit?.kind === 'command' && quit.command.verb, 'QUIT');
    assert.equal(reader.inLine, false);
  });

  test('a line of exactly maxLineBytes passes; one byte more fails before its LF arrives; failed stays failed', () => {
    for (const byte of [false, true]) {
      assert.deepEqual(lines(all(`${'x'.repeat(512)}\r\n`, byte)), ['x'.repeat(512)]);
      assert.deepEqual(lines(all(`${'x'.repeat(513)}\r\n`, byte)), ['!line-too-long']);
      assert.deepEqual(lines(all('x'.repeat(10_000), byte)), ['!line-too-long']);
    }
    // A CR at the very end of the allowed length may still become the CRLF.
    assert.deepEqual(lines(all(`${'x'.repeat(512)}\r`)), []);
    const reader = new CommandReader(LIMITS);
    reader.push(Buffer.from('y'.repeat(600)));
    assert.equal(reader.next()?.kind, 'error');
    reader.push(Buffer.from('\r\nNOOP\r\n'));
    assert.equal(reader.next()?.kind, 'error');
  });

  test('UTF-8 text decodes; invalid bytes become U+FFFD; NUL stays in the text', () => {
    assert.deepEqual(lines(all('RCPT TO:<j\u00f6rg@example.org>\r\n')), ['RCPT TO:<j\u00f6rg@example.org>']);
    assert.deepEqual(lines(all(Buffer.from([0x48, 0xff, 0x00, 0x0d, 0x0a]))), ['H\ufffd\0']);
  });

  test('parseCommand: the verb upper-cased, the rest as it came', () => {
    assert.deepEqual(parseCommand('ehlo Mail.Example'), { verb: 'EHLO', args: 'Mail.Example' });
    assert.deepEqual(parseCommand('QUIT'), { verb: 'QUIT', args: '' });
    assert.deepEqual(parseCommand(''), { verb: '', args: '' });
    assert.deepEqual(parseCommand(' NOOP'), { verb: '', args: 'NOOP' });
  });

  const paths: readonly [string, 'FROM' | 'TO', string | undefined][] = [
    ['FROM:<a@b.example>', 'FROM', 'a@b.example'],
    ['from:<a@b.example> SIZE=100 BODY=8BITMIME', 'FROM', 'a@b.example'],
    ['FROM: <a@b.example>', 'FROM', 'a@b.example'],
    ['FROM:<>', 'FROM', ''],
    ['FROM:a@b.example', 'FROM', 'a@b.example'],
    ['TO:<postmaster>', 'TO', 'postmaster'],
    ['TO:<@relay.example:c@d.example>', 'TO', '@relay.example:c@d.example'],
    ['TO:<a@b', 'TO', undefined],
    ['FROM:<a@b>', 'TO', undefined],
    ['', 'FROM', undefined],
  ];
  for (const [args, keyword, expected] of paths) {
    test(`pathArgument(${JSON.stringify(args)}, ${keyword}) → ${JSON.stringify(expected)}`, () => {
      assert.equal(pathArgument(args, keyword), expected);
    });
  }

  test('fuzz: random bytes in random chunks never throw, never return a line over the limit, never keep more than limit + a chunk', () => {
    for (let i = 0; i < 2_000; i++) {
      const reader = new CommandReader({ maxLineBytes: 64 });
      const data = randomBytes(1 + (i % 400));
      let at = 0;
      while (at < data.length) {
        const n = 1 + (data[at] ?? 0) % 50;
        reader.push(data.subarray(at, at + n));
        at += n;
        for (let e = reader.next(); e !== undefined; e = reader.next()) {
          if (e.kind === 'error') break;
          assert.ok(Buffer.byteLength(e.line, 'utf8') <= 64 * 3);
        }
        assert.ok(reader.bufferedBytes <= 64 + 50 + 1);
      }
    }
  });
});
