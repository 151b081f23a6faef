/**
 * The SMTP gate over real loopback sockets: a real Firewall (SQLite store, real checker, the
 * in-process DNS test server), clients from several 127.x sources, and a tiny SMTP server of the
 * test's own as the backend. Hand-over with PROXY v2/v1, the refused dialogue, inbound PROXY,
 * pregreet, limits, timeouts, failures, stop.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Decision, Firewall } from '../../../../src/firewall/index.js';
import { encodeProxyV1, encodeProxyV2 } from '../../../../src/fronts/smtp-gate/proxy-protocol.js';
import { IP, useHarness, type Env } from '../../firewall/helpers.js';
import { ENV_OPTIONS, GATE_ZONE, SmtpClient, SRC, startGate, TestBackend, until, type RunningGate } from './helpers.js';

const harness = useHarness('sqlite');
const gates: RunningGate[] = [];
const backends: TestBackend[] = [];
const clients: SmtpClient[] = [];

beforeEach(() => harness.server.setZone(GATE_ZONE));
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const g of gates.splice(0)) await g.front.stop();
  for (const b of backends.splice(0)) await b.stop();
});

async function setup(gate: Record<string, unknown> = {}, options: { env?: Record<string, unknown>; backend?: boolean; wrap?: (f: Firewall) => Pick<Firewall, 'decide'> } = {}): Promise<RunningGate & { env: Env; backend: TestBackend }> {
  const env = await harness.env({ ...ENV_OPTIONS, ...options.env });
  const backend = await TestBackend.start();
  backends.push(backend);
  const g = await startGate(env, { backend: backend.address, ...gate }, options.wrap?.(env.firewall));
  gates.push(g);
  return { ...g, env, backend };
}

async function open(port: number, source: string): Promise<SmtpClient> {
  const c = await SmtpClient.open(port, source);
  clients.push(c);
  return c;
}

const URL_RE = /http:\/\/127\.0\.0\.1:8025\/ip\/127\.0\.0\.20\?r=([0-9A-Z]{8})/;

describe('smtp gate: accepted clients are handed to the backend', () => {
  test('PROXY v2 with the client address comes first, then the bytes of a whole session both ways', async () => {
    const { port, backend, events } = await setup();
    const c = await open(port, SRC.pass);
    const clientPort = c.socket.localPort;
    assert.match((await c.reply()) ?? '', /^220 backend\.test ESMTP/);
    assert.match((await c.command('EHLO client.example')) ?? '', /^250-backend\.test/);
    assert.equal(await c.command('MAIL FROM:<a@example.com>'), '250 2.0.0 Ok\r\n');
    assert.equal(await c.command('RCPT TO:<b@example.org>'), '250 2.0.0 Ok\r\n');
    assert.match((await c.command('DATA')) ?? '', /^354/);
    // About 1 MB: more than any socket buffer, so back-pressure is exercised on the way.
    const body = Array.from({ length: 16_000 }, (_, i) => `line ${i} ${'x'.repeat(56)}`).join('\r\n');
    c.send(`${body}\r\n.\r\n`);
    assert.match((await c.reply(20_000)) ?? '', /^250 2\.0\.0 Ok: queued/);
    assert.equal(await c.command('QUIT'), '221 2.0.0 Bye\r\n');
    await c.closed;
    const conn = backend.connections[0];
    assert.ok(conn !== undefined);
    assert.equal(conn.header?.kind === 'header' && conn.header.version, 2);
    const header = conn.header?.kind === 'header' ? conn.header.addresses : undefined;
    assert.equal(header?.sourceAddress, SRC.pass);
    assert.equal(header?.sourcePort, clientPort);
    assert.equal(header?.destinationAddress, '127.0.0.1');
    assert.equal(header?.destinationPort, port);
    assert.equal(conn.beforeGreeting, '');
    assert.equal(conn.messages[0], `${body.replace(/\r\n/g, '\n')}\n`);
    assert.ok(events.includes('gate:accept'));
  });

  test('proxy v1 writes the text header; proxy none writes nothing', async () => {
    const v1 = await setup({ proxy: 'v1' });
    const a = await open(v1.port, SRC.pass);
    assert.match((await a.reply()) ?? '', /^220 backend/);
    const h = v1.backend.connections[0]?.header;
    assert.equal(h?.kind === 'header' && h.version, 1);
    assert.equal(h?.kind === 'header' && h.addresses?.sourceAddress, SRC.pass);

    const env = await harness.env(ENV_OPTIONS);
    const plain = await TestBackend.start(false);
    backends.push(plain);
    const g = await startGate(env, { backend: plain.address, proxy: 'none' });
    gates.push(g);
    const b = await open(g.port, SRC.pass);
    assert.match((await b.reply()) ?? '', /^220 backend/);
    assert.equal(await b.command('NOOP'), '250 2.0.0 Ok\r\n');
    assert.equal(plain.connections[0]?.received, 'NOOP\r\n');
  });

  test('STARTTLS and what follows pass through untouched; a half-close still gets the last reply', async () => {
    const { port, backend } = await setup();
    const c = await open(port, SRC.pass);
    await c.reply();
    assert.match((await c.command('EHLO x')) ?? '', /250 STARTTLS/);
    assert.equal(await c.command('STARTTLS'), '220 2.0.0 Ready to start TLS\r\n');
    const binary = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]);
    c.send(binary);
    await until(() => backend.connections[0]?.received.endsWith(binary.toString('latin1')) === true);
    // The client's FIN reaches the backend, whose close reaches the client.
    c.socket.end();
    await c.closed;
    await until(() => backend.connections[0]?.closed === true);
    // Half-close: QUIT and FIN at once; the backend's 221 still comes back.
    const h = await open(port, SRC.pass);
    await h.reply();
    h.send('QUIT\r\n');
    h.socket.end();
    assert.equal(await h.reply(), '221 2.0.0 Bye\r\n');
    await h.closed;
  });

  test('a stopped backend: 421 4.3.2 to the client, BACKEND-DOWN logged', async () => {
    const { port, backend, logs, events } = await setup();
    await backend.stop();
    const c = await open(port, SRC.pass);
    assert.match((await c.reply()) ?? '', /^421 4\.3\.2 gate\.test Service temporarily unavailable/);
    await c.closed;
    assert.ok(logs.some((l) => l.event === 'BACKEND-DOWN' && l.ip === SRC.pass));
    assert.ok(events.includes('gate:backend-down'));
  });

  test('a client talking before the greeting (ignore): logged, its bytes reach the backend after the banner', async () => {
    const { port, backend, logs } = await setup({ pregreetWaitMs: 150 });
    const c = await open(port, SRC.pass);
    c.send('EHLO early\r\n');
    assert.match((await c.reply()) ?? '', /^220 backend/);
    assert.match((await c.reply()) ?? '', /^250-backend/);
    assert.equal(backend.connections[0]?.beforeGreeting, '');
    assert.equal(backend.connections[0]?.received, 'EHLO early\r\n');
    const line = logs.find((l) => l.event === 'PREGREET');
    assert.equal(line?.text, 'EHLO early\\x0d\\x0a');
  });
});

describe('smtp gate: refused clients hear BlockSmith', () => {
  test('220, EHLO, MAIL, then RCPT gets the firewall\'s multi-line 450 with the URL; HELO, sender, recipient in the evidence', async () => {
    const { port, env, backend, events } = await setup();
    const c = await open(port, SRC.noPtr);
    assert.equal(await c.reply(), '220 gate.test ESMTP\r\n');
    const ehlo = (await c.command('EHLO bot.example')) ?? '';
    assert.match(ehlo, /^250-gate\.test\r\n/);
    assert.doesNotMatch(ehlo, /STARTTLS/);
    assert.equal(await c.command('MAIL FROM:<spam@bot.example> SIZE=100'), '250 2.1.0 Ok\r\n');
    const rcpt = (await c.command('RCPT TO:<victim@example.org>')) ?? '';
    assert.match(rcpt, /^450-4\.7\.25 \[127\.0\.0\.20\] Rejected by BlockSmith mail gateway/);
    assert.match(rcpt.replace(/\r\n450[- ]4\.7\.25 /g, ' '), URL_RE);
    for (const line of rcpt.split('\r\n').slice(0, -1)) assert.ok(Buffer.byteLength(line) + 2 <= 512);
    const ref = URL_RE.exec(rcpt.replace(/\r\n450[- ]4\.7\.25 /g, ' '))?.[1];
    assert.ok(ref !== undefined);
    assert.equal(await c.command('DATA'), '554 5.5.1 Error: no valid recipients\r\n');
    assert.match((await c.command('STARTTLS')) ?? '', /^454 4\.7\.0/);
    assert.match((await c.command('VRFY root')) ?? '', /^502 5\.5\.1/);
    assert.match((await c.command('FOO')) ?? '', /^502 5\.5\.2/);
    assert.equal(await c.command('RSET'), '250 2.0.0 Ok\r\n');
    assert.equal(await c.command('NOOP'), '250 2.0.0 Ok\r\n');
    assert.equal(await c.command('QUIT'), '221 2.0.0 Bye\r\n');
    await c.closed;
    await env.firewall.flush();
    const evidence = await env.firewall.records.evidence(ref);
    assert.equal(evidence?.ip, SRC.noPtr);
    const text = JSON.stringify(evidence);
    assert.match(text, /bot\.example/);
    assert.match(text, /spam@bot\.example/);
    assert.match(text, /victim@example\.org/);
    assert.equal((await env.firewall.records.listing(SRC.noPtr))?.verdict, 'permerror');
    assert.equal(backend.connections.length, 0);
    assert.ok(events.includes('gate:refuse'));
  });

  test('sequence errors: MAIL before HELO, RCPT before MAIL, nested MAIL, bad syntax', async () => {
    const { port } = await setup();
    const c = await open(port, SRC.noPtr);
    await c.reply();
    assert.match((await c.command('MAIL FROM:<a@b>')) ?? '', /^503 5\.5\.1 Error: send HELO/);
    assert.match((await c.command('HELO')) ?? '', /^501 5\.5\.4/);
    assert.equal(await c.command('HELO bot'), '250 gate.test\r\n');
    assert.match((await c.command('RCPT TO:<a@b>')) ?? '', /^503 5\.5\.1 Error: need MAIL/);
    assert.match((await c.command('MAIL TO:<a@b>')) ?? '', /^501 5\.5\.4/);
    assert.equal(await c.command('MAIL FROM:<>'), '250 2.1.0 Ok\r\n');
    assert.match((await c.command('MAIL FROM:<a@b>')) ?? '', /^503 5\.5\.1 Error: nested/);
    assert.match((await c.command('RCPT TO:<>')) ?? '', /^501 5\.5\.4/);
    assert.match((await c.command('')) ?? '', /^500 5\.5\.2/);
  });

  test('hard mode: 550 5.7.25 at RCPT for a PTR that does not resolve back', async () => {
    const { port } = await setup({}, { env: { firewall: { mode: 'hard' } } });
    const c = await open(port, SRC.noMatch);
    await c.reply();
    await c.command('EHLO x');
    await c.command('MAIL FROM:<a@b.example>');
    assert.match((await c.command('RCPT TO:<c@d.example>')) ?? '', /^550-5\.7\.25 \[127\.0\.0\.21\]/);
  });

  test('postmaster@ from a refused client is still refused (no hand-over of a spoken session), LATE-ACCEPT logged', async () => {
    const { port, logs, backend } = await setup();
    const c = await open(port, SRC.noPtr);
    await c.reply();
    await c.command('EHLO x');
    await c.command('MAIL FROM:<a@b.example>');
    const reply = (await c.command('RCPT TO:<postmaster@example.org>')) ?? '';
    assert.match(reply, /^450-4\.7\.25 \[127\.0\.0\.20\]/);
    assert.match(reply.replace(/\r\n450[- ]4\.7\.25 /g, ' '), URL_RE);
    assert.ok(logs.some((l) => l.event === 'LATE-ACCEPT'));
    assert.equal(backend.connections.length, 0);
  });

  test('pipelined commands are answered in order', async () => {
    const { port } = await setup();
    const c = await open(port, SRC.noPtr);
    await c.reply();
    c.send('EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nNOOP\r\nQUIT\r\n');
    assert.match((await c.reply()) ?? '', /^250-gate/);
    assert.match((await c.reply()) ?? '', /^250 2\.1\.0/);
    assert.match((await c.reply()) ?? '', /^450-4\.7\.25/);
    assert.match((await c.reply()) ?? '', /^250 2\.0\.0/);
    assert.equal(await c.reply(), '221 2.0.0 Bye\r\n');
    await c.closed;
  });

  test('bare LF ends a command too', async () => {
    const { port } = await setup();
    const c = await open(port, SRC.noPtr);
    await c.reply();
    c.send('HELO x\nNOOP\n');
    assert.equal(await c.reply(), '250 gate.test\r\n');
    assert.equal(await c.reply(), '250 2.0.0 Ok\r\n');
  });

  test('an HTTP request on port 25: 521 and close', async () => {
    const { port, events } = await setup();
    const c = await open(port, SRC.noPtr);
    await c.reply();
    assert.match((await c.command('GET / HTTP/1.1')) ?? '', /^521 5\.7\.0/);
    await c.closed;
    assert.ok(events.includes('gate:non-smtp'));
  });

  test('rejectAtConnect, hard: 554 5.7.25 greeting, 503 to everything but QUIT', async () => {
    const { port } = await setup({ rejectAtConnect: true }, { env: { firewall: { mode: 'hard' } } });
    const c = await open(port, SRC.noPtr);
    const greeting = (await c.reply()) ?? '';
    assert.match(greeting, /^554-5\.7\.25 \[127\.0\.0\.20\]/);
    assert.match(greeting.replace(/\r\n554[- ]5\.7\.25 /g, ' '), URL_RE);
    assert.match((await c.command('EHLO x')) ?? '', /^503 5\.5\.1/);
    assert.equal(await c.command('QUIT'), '221 2.0.0 Bye\r\n');
    await c.closed;
  });

  test('rejectAtConnect, soft: 421 4.7.25 with the URL, then close', async () => {
    const { port } = await setup({ rejectAtConnect: true });
    const c = await open(port, SRC.noPtr);
    const greeting = (await c.reply()) ?? '';
    assert.match(greeting, /^421-4\.7\.25 \[127\.0\.0\.20\]/);
    await c.closed;
  });

  test('a temporary DNS failure: 451 4.4.3 at RCPT, nobody listed', async () => {
    const { port, env } = await setup();
    harness.server.setZone({ ...GATE_ZONE, behaviours: { ...GATE_ZONE.behaviours, '20.0.0.127.in-addr.arpa': { servfail: true } } });
    const c = await open(port, SRC.noPtr);
    await c.reply();
    await c.command('EHLO x');
    await c.command('MAIL FROM:<a@b.example>');
    assert.match((await c.command('RCPT TO:<c@d.example>')) ?? '', /^451-4\.4\.3 \[127\.0\.0\.20\] Deferred/);
    await env.firewall.flush();
    assert.equal(await env.firewall.records.listing(SRC.noPtr), undefined);
  });

  test('pregreet drop: 521 5.5.1 Protocol error, reason logged, nothing reaches the backend', async () => {
    const { port, logs, events, backend } = await setup({ pregreetWaitMs: 300, pregreetAction: 'drop' });
    const c = await open(port, SRC.pass);
    c.send('EHLO eager\r\n');
    assert.equal(await c.reply(), '521 5.5.1 Protocol error\r\n');
    await c.closed;
    assert.ok(logs.some((l) => l.event === 'PREGREET' && l.action === 'drop'));
    assert.ok(events.includes('gate:pregreet'));
    assert.equal(backend.connections.length, 0);
  });
});

describe('smtp gate: inbound PROXY', () => {
  test('a PROXY header from an untrusted source is dropped without a word, cold or warm decision alike', async () => {
    // The pregreet wait makes "before the greeting" certain; without it, a warm decision can get
    // the backend's banner out before the header arrives (then it is a bad command to the MTA).
    const { port, logs, backend } = await setup({ pregreetWaitMs: 200 });
    const cold = await open(port, SRC.pass);
    cold.send(encodeProxyV1({ sourceAddress: IP.pass, sourcePort: 1234, destinationAddress: '127.0.0.1', destinationPort: 25 }));
    await cold.closed;
    assert.equal(cold.received, '');
    // Now the verdict is cached: the decision is immediate and the hand-over under way when the
    // header arrives; it must still never reach the backend.
    const warm = await open(port, SRC.pass);
    warm.send('PROXY TCP4 192.0.2.99 127.0.0.1 4444 25\r\nEHLO forged\r\n');
    await warm.closed;
    assert.equal(warm.received, '');
    assert.equal(logs.filter((l) => l.event === 'PROXY-UNTRUSTED').length, 2);
    await until(() => backend.connections.every((c) => c.closed));
    assert.ok(backend.connections.every((c) => c.received === ''));
  });

  test('from a trusted source, v2 names the client: refused 192.0.2.20 hears its own address', async () => {
    const { port } = await setup({ trustedProxies: ['127.0.0.0/30'] });
    const c = await open(port, '127.0.0.1');
    c.send(encodeProxyV2({ sourceAddress: IP.noPtr, sourcePort: 40_000, destinationAddress: '198.51.100.5', destinationPort: 25 }));
    assert.equal(await c.reply(), '220 gate.test ESMTP\r\n');
    await c.command('EHLO x');
    await c.command('MAIL FROM:<a@b.example>');
    assert.match((await c.command('RCPT TO:<c@d.example>')) ?? '', /^450-4\.7\.25 \[192\.0\.2\.20\]/);
  });

  test('from a trusted source, v1 naming a confirmed client: the backend gets that client and the original destination', async () => {
    const { port, backend } = await setup({ trustedProxies: ['127.0.0.1'] });
    const c = await open(port, '127.0.0.1');
    c.send(encodeProxyV1({ sourceAddress: IP.pass, sourcePort: 40_001, destinationAddress: '198.51.100.5', destinationPort: 25 }));
    assert.match((await c.reply()) ?? '', /^220 backend/);
    const h = backend.connections[0]?.header;
    assert.deepEqual(h?.kind === 'header' && h.addresses, { sourceAddress: IP.pass, sourcePort: 40_001, destinationAddress: '198.51.100.5', destinationPort: 25 });
  });

  test('from a trusted source: no header, a bad one, or a slow one is dropped', async () => {
    const { port, logs } = await setup({ trustedProxies: ['127.0.0.1'], proxyTimeoutMs: 200 });
    const bad = await open(port, '127.0.0.1');
    bad.send('EHLO x\r\n');
    await bad.closed;
    assert.equal(bad.received, '');
    const slow = await open(port, '127.0.0.1');
    slow.send('PROXY TCP4 192.0.2.10');
    await slow.closed;
    assert.equal(slow.received, '');
    assert.equal(logs.filter((l) => l.event === 'PROXY-ERROR').length, 2);
  });
});

describe('smtp gate: limits and failures', () => {
  test('per-IP limit: the third connection from one address gets 421 4.7.0; another address still gets in', async () => {
    const { port, front } = await setup({ maxConnectionsPerIpCount: 2 });
    const a = await open(port, SRC.noPtr);
    const b = await open(port, SRC.noPtr);
    await a.reply();
    await b.reply();
    const c = await open(port, SRC.noPtr);
    assert.match((await c.reply()) ?? '', /^421 4\.7\.0 gate\.test Error: too many connections from 127\.0\.0\.20/);
    await c.closed;
    const d = await open(port, SRC.pass);
    assert.match((await d.reply()) ?? '', /^220 backend/);
    a.close();
    await until(() => front.connectionCount === 2);
    const e = await open(port, SRC.noPtr);
    assert.equal(await e.reply(), '220 gate.test ESMTP\r\n');
  });

  test('total limit: 421 4.3.2 All server ports are busy', async () => {
    const { port } = await setup({ maxConnectionsCount: 1 });
    const a = await open(port, SRC.noPtr);
    await a.reply();
    const b = await open(port, SRC.pass);
    assert.equal(await b.reply(), '421 4.3.2 All server ports are busy\r\n');
    await b.closed;
  });

  test('a line over maxLineBytes: 500 5.5.2 and close, before its end arrives', async () => {
    const { port } = await setup({ maxLineBytes: 512 });
    const c = await open(port, SRC.noPtr);
    await c.reply();
    c.send(`HELO ${'x'.repeat(600)}`);
    assert.equal(await c.reply(), '500 5.5.2 Error: line too long\r\n');
    await c.closed;
  });

  test('slowloris: a command trickled byte by byte is cut at commandTimeoutMs', async () => {
    const { port, events } = await setup({ commandTimeoutMs: 300 });
    const c = await open(port, SRC.noPtr);
    await c.reply();
    const trickle = setInterval(() => c.send('x'), 40);
    try {
      assert.match((await c.reply(3_000)) ?? '', /^421 4\.4\.2 gate\.test Error: timeout exceeded/);
      await c.closed;
    } finally {
      clearInterval(trickle);
    }
    assert.ok(events.includes('gate:command-timeout'));
  });

  test('a whole refused session is cut at sessionTimeoutMs, even when every command is quick', async () => {
    const { port, events } = await setup({ sessionTimeoutMs: 1_000 });
    const c = await open(port, SRC.noPtr);
    await c.reply();
    const noop = setInterval(() => c.send('NOOP\r\n'), 100);
    try {
      await c.closed;
    } finally {
      clearInterval(noop);
    }
    assert.match(c.received, /421 4\.4\.2 gate\.test Error: timeout exceeded\r\n$/);
    assert.ok(events.includes('gate:session-timeout'));
  });

  test('too many commands: 421 4.7.0 after maxRefusedCommandsCount', async () => {
    const { port } = await setup({ maxRefusedCommandsCount: 3 });
    const c = await open(port, SRC.noPtr);
    await c.reply();
    for (let i = 0; i < 3; i++) assert.equal(await c.command('NOOP'), '250 2.0.0 Ok\r\n');
    assert.match((await c.command('NOOP')) ?? '', /^421 4\.7\.0 gate\.test Error: too many commands/);
    await c.closed;
  });

  test('a firewall that throws, or never answers: 421 4.3.0, never a refusal or a hand-over', async () => {
    const throwing = (): Pick<Firewall, 'decide'> => ({ decide: () => Promise.reject(new Error('boom')) });
    const a = await setup({}, { wrap: throwing });
    const c = await open(a.port, SRC.pass);
    assert.match((await c.reply()) ?? '', /^421 4\.3\.0 gate\.test Temporary failure of the BlockSmith mail gateway/);
    await c.closed;
    assert.equal(a.backend.connections.length, 0);
    const hanging = (): Pick<Firewall, 'decide'> => ({ decide: () => new Promise<Decision>(() => undefined) });
    const b = await setup({ decisionTimeoutMs: 100, decisionGraceMs: 50 }, { wrap: hanging });
    const d = await open(b.port, SRC.pass);
    assert.match((await d.reply()) ?? '', /^421 4\.3\.0/);
    assert.ok(b.logs.some((l) => l.event === 'DECISION-TIMEOUT'));
    assert.equal(b.backend.connections.length, 0);
  });

  test('disconnects at every step leave nothing behind', async () => {
    const slowDecide = (f: Firewall): Pick<Firewall, 'decide'> => ({ decide: (ctx) => new Promise((r) => setTimeout(r, 100)).then(() => f.decide(ctx)) });
    const { port, front } = await setup({ trustedProxies: ['127.0.0.1'] }, { wrap: slowDecide });
    // While reading the PROXY header.
    const p = await open(port, '127.0.0.1');
    p.send('PROXY TCP4 ');
    p.close();
    // While deciding.
    const d = await open(port, SRC.noPtr);
    d.close();
    // In the dialogue, mid-line and mid-RCPT.
    const r = await open(port, SRC.noPtr);
    await r.reply();
    r.send('EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nNO');
    r.close();
    // While relaying, mid-DATA.
    const x = await open(port, SRC.pass);
    await x.reply();
    x.send('EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nhalf a mess');
    await until(() => x.received.includes('354'));
    x.close();
    await until(() => front.connectionCount === 0);
  });

  test('stop(): a refused session gets 421 at once; the listener is closed', async () => {
    const { port, front } = await setup();
    const c = await open(port, SRC.noPtr);
    await c.reply();
    await front.stop();
    assert.match(c.received, /421 4\.3\.2 gate\.test Service shutting down/);
    await c.closed;
    await assert.rejects(SmtpClient.open(port, SRC.noPtr));
  });
});

describe('smtp gate: IPv6', () => {
  test('a client on [::1] is handed over with a TCP6 header', async () => {
    const env = await harness.env(); // loopback bypassed: ::1 is accepted without DNS
    const backend = await TestBackend.start();
    backends.push(backend);
    const g = await startGate(env, { listen: ['[::1]:0'], backend: backend.address });
    gates.push(g);
    const c = await SmtpClient.open(g.port, '::1', '::1');
    clients.push(c);
    assert.match((await c.reply()) ?? '', /^220 backend/);
    const h = backend.connections[0]?.header;
    assert.equal(h?.kind === 'header' && h.addresses?.sourceAddress, '::1');
    assert.equal(h?.kind === 'header' && h.addresses?.destinationAddress, '::1');
  });
});
