/**
 * The policy front over real loopback sockets against a real Firewall (SQLite store, real
 * checker, the in-process DNS test server): answers, framing, limits, modes, stop().
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockSmithError } from '../../../../src/errors.js';
import type { Firewall } from '../../../../src/firewall/index.js';
import { IP, useHarness, type Env } from '../../firewall/helpers.js';
import { PolicyClient, request, startFront, until, type Running } from './helpers.js';

const harness = useHarness('sqlite');
const running: Running[] = [];
const tempDirs: string[] = [];

afterEach(async () => {
  for (const r of running.splice(0)) await r.front.stop();
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function front(policy: Record<string, unknown> = {}, envOptions: Record<string, unknown> = {}, wrap?: (f: Firewall) => Firewall): Promise<Running & { env: Env }> {
  const env = await harness.env(envOptions);
  const r = await startFront(env, policy, wrap?.(env.firewall));
  running.push(r);
  return { ...r, env };
}

const URL_OF = (ip: string): RegExp => new RegExp(`http://127\\.0\\.0\\.1:8025/ip/${ip.replace(/\./g, '\\.')}\\?r=([0-9A-Z]{8})$`);

describe('policy front: decisions', () => {
  test('a confirmed IP gets DUNNO; the connection stays open for the next request', async () => {
    const { port } = await front();
    const client = await PolicyClient.open(port);
    assert.equal(await client.ask({ client_address: IP.pass, helo_name: 'mail.example.com', sender: 'a@example.com', recipient: 'b@example.org' }), 'DUNNO');
    assert.equal(await client.ask({ client_address: IP.pass6 }), 'DUNNO');
    assert.equal(client.ended, false);
    client.close();
  });

  test('an IP without PTR gets 450 4.7.25 with the URL and a reference whose evidence is kept, and is listed', async () => {
    const { port, env, events } = await front();
    const client = await PolicyClient.open(port);
    const answer = await client.ask({ client_address: IP.noPtr, recipient: 'b@example.org' });
    assert.ok(answer !== undefined);
    assert.match(answer, /^450 4\.7\.25 \[192\.0\.2\.20\] Rejected by BlockSmith mail gateway: no reverse DNS/);
    const ref = URL_OF(IP.noPtr).exec(answer)?.[1];
    assert.ok(ref !== undefined, answer);
    assert.ok(Buffer.byteLength(answer) <= 510);
    await env.firewall.flush();
    const evidence = await env.firewall.records.evidence(ref);
    assert.equal(evidence?.ip, IP.noPtr);
    assert.equal((await env.firewall.records.listing(IP.noPtr))?.verdict, 'permerror');
    assert.ok(events.includes('policy:reject'));
    client.close();
  });

  test('hard mode: 550 5.7.25', async () => {
    const { port } = await front({}, { firewall: { mode: 'hard' } });
    const client = await PolicyClient.open(port);
    assert.match((await client.ask({ client_address: IP.noMatch })) ?? '', /^550 5\.7\.25 \[192\.0\.2\.30\] .*does not resolve back/);
    client.close();
  });

  test('a SERVFAIL on the reverse gets 451 4.4.3 and lists nobody', async () => {
    const { port, env, events } = await front();
    const client = await PolicyClient.open(port);
    const answer = (await client.ask({ client_address: IP.servfail })) ?? '';
    assert.match(answer, /^451 4\.4\.3 \[192\.0\.2\.40\] Deferred by BlockSmith mail gateway: a temporary DNS failure/);
    assert.match(answer, URL_OF(IP.servfail));
    await env.firewall.flush();
    assert.equal(await env.firewall.records.listing(IP.servfail), undefined);
    assert.ok(events.includes('policy:defer'));
    client.close();
  });

  test('postmaster@ from a listed IP gets DUNNO; another recipient from it is refused', async () => {
    const { port, env } = await front();
    const client = await PolicyClient.open(port);
    assert.match((await client.ask({ client_address: IP.noPtr, recipient: 'user@example.org' })) ?? '', /^450 /);
    await env.firewall.flush();
    assert.ok((await env.firewall.records.listing(IP.noPtr)) !== undefined);
    assert.equal(await client.ask({ client_address: IP.noPtr, recipient: 'Postmaster@example.org' }), 'DUNNO');
    assert.match((await client.ask({ client_address: IP.noPtr, recipient: 'user@example.org' })) ?? '', /^450 4\.7\.25 /);
    client.close();
  });

  test('report-only: a refusable IP gets DUNNO (nothing the MTA does changes)', async () => {
    const { port } = await front({}, { firewall: { mode: 'report-only' } });
    const client = await PolicyClient.open(port);
    assert.equal(await client.ask({ client_address: IP.noPtr }), 'DUNNO');
    client.close();
  });

  test('the front passes its deadline: a silent DNS gets the firewall\'s 451 4.4.3 within decisionTimeoutMs', async () => {
    const { port } = await front({ decisionTimeoutMs: 150 }, { check: { deadlineMs: 60_000 } });
    const client = await PolicyClient.open(port);
    assert.match((await client.ask({ client_address: IP.timeout })) ?? '', /^451 4\.4\.3 \[192\.0\.2\.41\] /);
    client.close();
  });

  test('a firewall that throws gets 451 4.3.0, and the connection goes on', async () => {
    let fail = true;
    const wrap = (f: Firewall): Firewall =>
      new Proxy(f, {
        get(target, prop, receiver): unknown {
          if (prop === 'decide' && fail) return () => Promise.reject(new Error('store on fire\nsecond line'));
          const value: unknown = Reflect.get(target, prop, receiver);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    const { port, logs } = await front({}, {}, wrap);
    const client = await PolicyClient.open(port);
    assert.match((await client.ask({ client_address: IP.pass })) ?? '', /^451 4\.3\.0 Temporary failure of the BlockSmith mail gateway/);
    const error = logs.find((l) => l.event === 'POLICY-ERROR');
    assert.equal(error?.err, 'store on fire\\x0asecond line');
    fail = false;
    assert.equal(await client.ask({ client_address: IP.pass }), 'DUNNO');
    client.close();
  });

  test('a firewall that never answers: 451 4.3.0 after the deadline and the grace', async () => {
    const wrap = (f: Firewall): Firewall =>
      new Proxy(f, {
        get(target, prop, receiver): unknown {
          if (prop === 'decide') return () => new Promise(() => undefined);
          return Reflect.get(target, prop, receiver) as unknown;
        },
      });
    const { port, logs, events } = await front({ decisionTimeoutMs: 100, decisionGraceMs: 50 }, {}, wrap);
    const client = await PolicyClient.open(port);
    assert.match((await client.ask({ client_address: IP.pass })) ?? '', /^451 4\.3\.0 /);
    assert.ok(logs.some((l) => l.event === 'DECISION-TIMEOUT'));
    assert.ok(events.includes('policy:decision-timeout'));
    client.close();
  });
});

describe('policy front: the protocol', () => {
  test('an unknown or missing request type gets DUNNO; a missing or invalid client_address gets DUNNO and a log line', async () => {
    const { port, logs } = await front();
    const client = await PolicyClient.open(port);
    assert.equal(await client.ask({ request: 'smtpd_other_policy', client_address: IP.noPtr }), 'DUNNO');
    client.send(`client_address=${IP.noPtr}\n\n`);
    assert.equal(await client.answer(), 'DUNNO');
    assert.equal(await client.ask({ client_address: '' }), 'DUNNO');
    assert.equal(await client.ask({ client_address: 'unknown\x1b[2J' }), 'DUNNO');
    assert.equal(await client.ask({ helo_name: 'x' }), 'DUNNO');
    const bad = logs.filter((l) => l.event === 'BAD-CLIENT');
    assert.equal(bad.length, 3);
    assert.equal(bad[1]?.address, 'unknown\\x1b[2J');
    assert.equal(bad[1]?.front, 'policy');
    assert.match(String(bad[1]?.client), /^\[127\.0\.0\.1\]:\d+$/);
    // The connection is still good for a real request.
    assert.match((await client.ask({ client_address: IP.noPtr })) ?? '', /^450 /);
    client.close();
  });

  test('unknown attributes are ignored, whatever they hold; an IPv4-mapped address is the IPv4 one', async () => {
    const { port } = await front();
    const client = await PolicyClient.open(port);
    const answer = await client.ask({
      ccert_subject: 'CN=x,O=y=z',
      stress: '',
      policy_context: 'submission',
      'x-weird.name!': 'v\u00e9',
      client_address: `::ffff:${IP.noPtr}`,
      instance: '1a2b.5f3c1d2e.12345.0',
    });
    assert.match(answer ?? '', /^450 4\.7\.25 \[192\.0\.2\.20\] /);
    client.close();
  });

  test('CRLF line ends are accepted', async () => {
    const { port } = await front();
    const client = await PolicyClient.open(port);
    client.send(request({ client_address: IP.pass }, '\r\n'));
    assert.equal(await client.answer(), 'DUNNO');
    client.send(request({ client_address: IP.noPtr }, '\r\n'));
    assert.match((await client.answer()) ?? '', /^450 /);
    client.close();
  });

  test('pipelined requests in one write are answered in order', async () => {
    const { port } = await front();
    const client = await PolicyClient.open(port);
    const order = [IP.noPtr, IP.pass, 'unknown-request', IP.servfail, IP.pass6, IP.noMatch, IP.pass];
    client.send(order.map((ip) => (ip === 'unknown-request' ? 'request=other\n\n' : request({ client_address: ip }))).join(''));
    const answers: (string | undefined)[] = [];
    for (let i = 0; i < order.length; i++) answers.push(await client.answer());
    assert.deepEqual(
      answers.map((a) => a?.slice(0, 3)),
      ['450', 'DUN', 'DUN', '451', 'DUN', '450', 'DUN'],
    );
    assert.match(answers[0] ?? '', /\[192\.0\.2\.20\]/);
    assert.match(answers[5] ?? '', /\[192\.0\.2\.30\]/);
    client.close();
  });

  test('a request split over many packets, one byte each, is answered once complete', async () => {
    const { port } = await front();
    const client = await PolicyClient.open(port);
    const bytes = Buffer.from(request({ client_address: IP.noPtr, helo_name: 'h\u00e9lo' }, '\r\n'));
    for (let i = 0; i < bytes.length; i++) {
      client.send(bytes.subarray(i, i + 1));
      await new Promise((r) => setImmediate(r));
      assert.equal(client.received, '', `answered before byte ${i + 1} of ${bytes.length}`);
    }
    assert.match((await client.answer()) ?? '', /^450 /);
    client.close();
  });

  for (const [label, payload, reason] of [
    ['an oversize line', `request=smtpd_access_policy\nhelo_name=${'x'.repeat(300)}`, 'line-too-long'],
    ['an oversize request', `request=smtpd_access_policy\n${'ccert_subject=abcdefgh\n'.repeat(100)}`, 'request-too-long'],
    ['a line without "="', 'request=smtpd_access_policy\nGET / HTTP/1.1\n\n', 'no-equals'],
    ['a NUL byte', `request=smtpd_access_policy\nclient_address=${IP.pass}\nhelo_name=a\0b\n\n`, 'nul'],
    ['two client addresses', `request=smtpd_access_policy\nclient_address=${IP.pass}\nclient_address=${IP.noPtr}\n\n`, 'duplicate'],
  ] as const) {
    test(`${label} closes the connection without a reply, logs why, counts it`, async () => {
      const { port, logs, events, front: f } = await front({ maxLineBytes: 256, maxRequestBytes: 1_024 });
      const client = await PolicyClient.open(port);
      client.send(payload);
      await client.closed;
      assert.equal(client.received, '');
      const drop = logs.find((l) => l.event === 'DROP');
      assert.equal(drop?.reason, reason);
      assert.equal(drop?.front, 'policy');
      assert.ok(typeof drop.client === 'string' && drop.cid !== undefined);
      assert.ok(events.includes(`policy:${reason}`));
      await until(() => f.connectionCount === 0);
    });
  }

  test('answers already due are delivered before a bad request closes the connection', async () => {
    const { port } = await front();
    const client = await PolicyClient.open(port);
    client.send(request({ client_address: IP.pass }) + 'garbage\n\n');
    assert.equal(await client.answer(), 'DUNNO');
    await client.closed;
    assert.equal(await client.answer(), undefined);
  });

  test('binary garbage closes that connection; the server still serves others', async () => {
    const { port, front: f } = await front();
    const good = await PolicyClient.open(port);
    const bad = await PolicyClient.open(port);
    // A TLS ClientHello's first bytes, then random-looking binary.
    bad.send(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0xff, 0x0a, 0x0a, 0x00, 0x7f]));
    await bad.closed;
    assert.equal(bad.received, '');
    assert.equal(await good.ask({ client_address: IP.pass }), 'DUNNO');
    const third = await PolicyClient.open(port);
    assert.match((await third.ask({ client_address: IP.noPtr })) ?? '', /^450 /);
    good.close();
    third.close();
    await until(() => f.connectionCount === 0);
  });

  test('a client that disconnects mid-request or mid-decision leaves nothing behind', async () => {
    const { port, front: f, env } = await front();
    const a = await PolicyClient.open(port);
    a.send('request=smtpd_access_policy\nclient_addr');
    const b = await PolicyClient.open(port);
    b.send(request({ client_address: IP.noMatch }));
    const c = await PolicyClient.open(port);
    c.send(request({ client_address: IP.pass }).slice(0, -1));
    await until(() => f.connectionCount === 3);
    c.socket.end(); // half-close with a partial request: no answer can come
    a.close();
    b.close();
    await c.closed;
    assert.equal(c.received, '');
    await until(() => f.connectionCount === 0);
    // The decision b asked for still completes in the firewall; the server goes on.
    await env.firewall.flush();
    const d = await PolicyClient.open(port);
    assert.equal(await d.ask({ client_address: IP.pass }), 'DUNNO');
    d.close();
  });

  test('a client that half-closes after a complete request still gets its answer (postfix mode)', async () => {
    const { port } = await front();
    const client = await PolicyClient.open(port);
    client.send(request({ client_address: IP.noPtr }));
    client.socket.end();
    assert.match((await client.answer()) ?? '', /^450 /);
    await client.closed;
  });

  test('a client that writes 100,000 requests and reads nothing is not read either; once it reads, every answer comes, in order', { timeout: 60_000 }, async () => {
    const env = await harness.env();
    const r = await startFront(env, {}, undefined, 'info');
    running.push(r);
    const count = 100_000;
    const client = await PolicyClient.open(r.port);
    client.socket.pause();
    const other = await PolicyClient.open(r.port);
    const written = new Promise<void>((resolve) => client.socket.write('request=other\n\n'.repeat(count), () => resolve()));
    // The server is still serving others while that client's answers back up.
    assert.equal(await other.ask({ client_address: IP.pass }), 'DUNNO');
    client.socket.resume();
    await written;
    await until(() => client.received.length >= count * 'action=DUNNO\n\n'.length, 30_000);
    assert.equal(client.received, 'action=DUNNO\n\n'.repeat(count));
    assert.equal(r.events.filter((e) => e === 'policy:unknown-request').length, count);
    client.close();
    other.close();
  });

  test('1,000 concurrent connections each get their own answer', { timeout: 60_000 }, async () => {
    const { port, front: f } = await front({ maxConnectionsCount: 1_100 });
    const ips = [IP.pass, IP.noPtr, IP.servfail, IP.pass6];
    // Verdicts cached first: this is about the front's connections, not about DNS latency on a busy box.
    const warm = await PolicyClient.open(port);
    for (const ip of ips) await warm.ask({ client_address: ip });
    warm.close();
    const clients = await Promise.all(Array.from({ length: 1_000 }, () => PolicyClient.open(port)));
    await until(() => f.connectionCount === 1_000);
    const answers = await Promise.all(clients.map((c, i) => c.ask({ client_address: ips[i % ips.length] as string })));
    answers.forEach((a, i) => {
      const want = ['DUNNO', '450 4.7.25 [192.0.2.20]', '451 4.4.3 [192.0.2.40]', 'DUNNO'][i % ips.length] as string;
      assert.ok(a?.startsWith(want), `client ${i}: ${a}`);
    });
    for (const c of clients) c.close();
    await until(() => f.connectionCount === 0, 10_000);
  });
});

describe('policy front: limits', () => {
  test('past maxConnectionsCount a new connection is closed at once, counted, logged once', async () => {
    const { port, logs, events, front: f } = await front({ maxConnectionsCount: 2 });
    const a = await PolicyClient.open(port);
    const b = await PolicyClient.open(port);
    await until(() => f.connectionCount === 2);
    const c = await PolicyClient.open(port);
    const d = await PolicyClient.open(port);
    await c.closed;
    await d.closed;
    assert.equal(c.received, '');
    assert.equal(events.filter((e) => e === 'policy:limit').length, 2);
    assert.equal(logs.filter((l) => l.event === 'LIMIT').length, 1);
    assert.equal(await a.ask({ client_address: IP.pass }), 'DUNNO');
    a.close();
    await until(() => f.connectionCount === 1);
    const e = await PolicyClient.open(port);
    assert.equal(await e.ask({ client_address: IP.pass }), 'DUNNO');
    b.close();
    e.close();
  });

  test('a request not complete within requestTimeoutMs: closed without reply', async () => {
    const { port, logs } = await front({ requestTimeoutMs: 100 });
    const client = await PolicyClient.open(port);
    client.send(`request=smtpd_access_policy\nclient_address=${IP.pass}\n`);
    await client.closed;
    assert.equal(client.received, '');
    assert.equal(logs.find((l) => l.event === 'DROP')?.reason, 'request-timeout');
  });

  test('a slow drip does not escape requestTimeoutMs', async () => {
    const { port } = await front({ requestTimeoutMs: 150 });
    const client = await PolicyClient.open(port);
    const text = request({ client_address: IP.pass });
    const started = Date.now();
    for (let i = 0; i < text.length - 1 && !client.ended; i++) {
      client.send(text[i] as string);
      await new Promise((r) => setTimeout(r, 20));
    }
    await client.closed;
    assert.equal(client.received, '');
    assert.ok(Date.now() - started < text.length * 20, 'closed before the drip ended');
  });

  test('an idle connection is closed after idleTimeoutMs, after serving', async () => {
    const { port, events } = await front({ idleTimeoutMs: 1_000 });
    const client = await PolicyClient.open(port);
    assert.equal(await client.ask({ client_address: IP.pass }), 'DUNNO');
    await client.closed;
    assert.ok(events.includes('policy:idle-timeout'));
  });
});

describe('policy front: exim mode, unix socket, listeners, stop', () => {
  test('exim mode: one request, its answer, then end of file; later requests are not read', async () => {
    const { port } = await front({ mode: 'exim' });
    const client = await PolicyClient.open(port);
    client.send(request({ client_address: IP.noPtr }) + request({ client_address: IP.pass }));
    assert.match((await client.answer()) ?? '', /^450 4\.7\.25 /);
    await client.closed;
    assert.equal(await client.answer(), undefined);
    assert.match(client.received, /^action=450 4\.7\.25 [\x20-\x7e]+\n\n$/);
  });

  test('exim mode: a client that shuts down its write side after the request (as readsocket does) gets the answer', async () => {
    const { port } = await front({ mode: 'exim' });
    const client = await PolicyClient.open(port);
    client.send('request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.10\nhelo_name=mail.example.com\nsender=a@example.com\nrecipient=b@example.org\n\n');
    client.socket.end();
    await client.closed;
    assert.equal(client.received, 'action=DUNNO\n\n');
  });

  test('a unix socket: answers, mode 0660, a stale socket file replaced, the file removed at stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bs-policy-'));
    tempDirs.push(dir);
    const path = join(dir, 'policy.sock');
    // A stale socket left by a crash: a process bound it and was killed (nothing unlinked it).
    const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    await new Promise((resolve) => child.on('exit', resolve));
    assert.ok(statSync(path).isSocket());
    const env = await harness.env();
    const r = await startFront(env, { listen: [], socket: path });
    assert.deepEqual(r.front.endpoints, [`unix:${path}`]);
    assert.equal(statSync(path).mode & 0o777, 0o660);
    const client = await PolicyClient.open(path);
    assert.match((await client.ask({ client_address: IP.noPtr })) ?? '', /^450 /);
    client.close();
    await r.front.stop();
    assert.throws(() => statSync(path), /ENOENT/);
  });

  test('a unix socket path holding a regular file, or a live socket, stops start-up naming policy.socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bs-policy-'));
    tempDirs.push(dir);
    const file = join(dir, 'not-a-socket');
    writeFileSync(file, 'keep me');
    const env = await harness.env();
    await assert.rejects(startFront(env, { listen: [], socket: file }), (err: unknown) => err instanceof BlockSmithError && /policy\.socket .*not a socket/.test(err.message));
    assert.equal(statSync(file).isFile(), true);
    const live = join(dir, 'live.sock');
    const first = await startFront(env, { listen: [], socket: live });
    running.push(first);
    await assert.rejects(startFront(env, { listen: [], socket: live }), /another process is listening/);
    const client = await PolicyClient.open(live);
    assert.equal(await client.ask({ client_address: IP.pass }), 'DUNNO');
    client.close();
  });

  test('IPv4 and IPv6 loopback listeners together; a port in use rejects naming it', async () => {
    const r = await front({ listen: ['127.0.0.1:0', '[::1]:0'] });
    assert.equal(r.front.endpoints.length, 2);
    assert.match(r.front.endpoints[0] ?? '', /^tcp:\/\/127\.0\.0\.1:\d+$/);
    const v6 = r.front.endpoints[1] ?? '';
    assert.match(v6, /^tcp:\/\/\[::1\]:\d+$/);
    const client = await PolicyClient.open(Number(/:(\d+)$/.exec(v6)?.[1]), '::1');
    assert.match((await client.ask({ client_address: IP.noPtr6 })) ?? '', /^450 4\.7\.25 \[2001:db8::26\]/);
    client.close();
    await assert.rejects(startFront(r.env, { listen: [`127.0.0.1:${r.port}`] }), (err: unknown) => err instanceof BlockSmithError && err.message.includes(`127.0.0.1:${r.port}`) && err.message.includes('EADDRINUSE'));
  });

  test('no listener configured: no front', async () => {
    const env = await harness.env();
    await assert.rejects(startFront(env, { listen: [], socket: '' }), /did not start/);
  });

  test('stop(): idle connections close, a decision in progress is answered first, then nothing is accepted', async () => {
    const r = await front({ decisionTimeoutMs: 300, stopGraceMs: 5_000 }, { check: { deadlineMs: 60_000 } });
    // Both keep their side open after our FIN, as Postfix's policy client does until its next request.
    const idle = await PolicyClient.open(r.port, '127.0.0.1', true);
    const busy = await PolicyClient.open(r.port, '127.0.0.1', true);
    busy.send(request({ client_address: IP.timeout }));
    await until(() => r.front.connectionCount === 2);
    await new Promise((res) => setTimeout(res, 50));
    const started = Date.now();
    await r.front.stop();
    // Stopping waited for the answer, not for the whole grace, and for no client's FIN.
    assert.ok(Date.now() - started < 5_000, `stop took ${Date.now() - started} ms`);
    await until(() => idle.peerEnded || idle.ended);
    assert.equal(idle.received, '');
    await until(() => busy.peerEnded);
    assert.match(busy.received, /^action=451 4\.4\.3 .*\n\n$/);
    idle.close();
    busy.close();
    await assert.rejects(PolicyClient.open(r.port), /ECONNREFUSED/);
  });

  test('stop(): a decision that outlasts stopGraceMs is cut', async () => {
    const r = await front({ decisionTimeoutMs: 5_000, stopGraceMs: 100 }, { check: { deadlineMs: 60_000 } });
    const busy = await PolicyClient.open(r.port);
    busy.send(request({ client_address: IP.timeout }));
    await until(() => r.front.connectionCount === 1);
    const started = Date.now();
    await r.front.stop();
    await busy.closed;
    assert.equal(busy.received, '');
    assert.ok(Date.now() - started < 5_000);
  });
});
