/**
 * The edge of the HTTP listener: errors as JSON (404, 405, malformed JSON, oversize body, media
 * type, bad URL, malformed request line over a real socket), security headers, escaping of DNS
 * data, trusted proxies, /metrics, the OpenAPI document, and startHttpFront over a loopback socket.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { IP, ZONE, useHarness } from '../../firewall/helpers.js';
import { startHttpFront } from '../../../../src/fronts/api/index.js';
import { openApiPath } from '../../../../src/fronts/api/openapi.js';
import { checkAnswerSchema, ipStatusSchema, unblockAnswerSchema } from '../../../../src/fronts/api/schemas.js';
import { isBlockSmithError } from '../../../../src/errors.js';
import { apiEnv, body, errorCode, makeConfig } from './helpers.js';

describe('HTTP edge', () => {
  const harness = useHarness('sqlite');

  test('404, 405 (with Allow), malformed JSON, empty JSON body, oversize body, wrong media type, bad URL: JSON with a code', async () => {
    const api = await apiEnv(harness, { http: { bodyLimitBytes: 2_048, formLimitCount: 100 } });
    try {
      const app = api.server.app;
      const cases = [
        [{ method: 'GET', url: '/nothing/here' }, 404, 'BS_API_NOT_FOUND'],
        [{ method: 'GET', url: '/api/v1/ip/192.0.2.1/extra' }, 404, 'BS_API_NOT_FOUND'],
        [{ method: 'PUT', url: '/api/v1/contact' }, 405, 'BS_API_METHOD_NOT_ALLOWED'],
        [{ method: 'DELETE', url: '/api/v1/ip/192.0.2.1' }, 405, 'BS_API_METHOD_NOT_ALLOWED'],
        [{ method: 'POST', url: '/api/v1/contact', payload: '{"email":', headers: { 'content-type': 'application/json' } }, 400, 'BS_API_BAD_JSON'],
        [{ method: 'POST', url: '/api/v1/contact', payload: '{"__proto__":{"x":1}}', headers: { 'content-type': 'application/json' } }, 400, 'BS_API_BAD_JSON'],
        [{ method: 'POST', url: '/api/v1/contact', payload: '', headers: { 'content-type': 'application/json' } }, 400, 'BS_API_INVALID'],
        [{ method: 'POST', url: '/api/v1/contact', payload: JSON.stringify({ body: 'x'.repeat(3_000) }), headers: { 'content-type': 'application/json' } }, 413, 'BS_API_BODY_TOO_LARGE'],
        [{ method: 'POST', url: '/api/v1/contact', payload: 'email=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'BS_API_UNSUPPORTED_MEDIA_TYPE'],
        [{ method: 'POST', url: '/api/v1/contact', payload: '{"email":"a@example.com"}', headers: { 'content-type': 'text/plain' } }, 415, 'BS_API_UNSUPPORTED_MEDIA_TYPE'],
        [{ method: 'POST', url: '/api/v1/ip/192.0.2.1/unblock', payload: 'x', headers: { 'content-type': 'text/plain;charset=utf-8' } }, 415, 'BS_API_UNSUPPORTED_MEDIA_TYPE'],
        [{ method: 'GET', url: '/api/v1/ip/%E0%A4%A' }, 400, 'BS_API_BAD_REQUEST'],
      ] as const;
      for (const [request, status, code] of cases) {
        const res = await app.inject(request);
        assert.equal(res.statusCode, status, `${request.method} ${request.url}: ${res.body}`);
        assert.equal(errorCode(res), code, `${request.method} ${request.url}`);
        assert.match(String(res.headers['content-type']), /^application\/json/);
        assert.equal(res.headers['x-content-type-options'], 'nosniff', `${request.method} ${request.url}`);
      }
      const wrongMethod = await app.inject({ method: 'PATCH', url: '/api/v1/ip/192.0.2.1/unblock' });
      assert.equal(wrongMethod.headers.allow, 'POST');
      const both = await app.inject({ method: 'PUT', url: '/api/v1/whitelist-requests' });
      assert.equal(both.headers.allow, 'GET, HEAD, POST');
    } finally {
      await api.close();
    }
  });

  test('security headers on answers; no-store on /api/; a bodiless POST (even with a JSON content type) is no body', async () => {
    const api = await apiEnv(harness);
    try {
      const res = await api.server.app.inject({ url: `/api/v1/ip/${IP.pass}` });
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/);
      const unblock = await api.server.app.inject({ method: 'POST', url: `/api/v1/ip/${IP.pass}/unblock`, headers: { 'content-type': 'application/json' } });
      assert.equal(unblock.statusCode, 200, unblock.body);
      assert.equal(body(unblock, unblockAnswerSchema).outcome, 'not-listed');
    } finally {
      await api.close();
    }
  });

  test('a PTR name full of markup comes back as data: escaped JSON, the same string once parsed', async () => {
    const hostile = 'x<script>alert(1)</script>&.example.com';
    harness.server.setZone({ ...ZONE, records: { ...ZONE.records, '20.2.0.192.in-addr.arpa': [{ type: 'PTR', data: hostile, ttl: 300 }] } });
    const api = await apiEnv(harness);
    try {
      const res = await api.server.app.inject({ url: `/api/v1/check/${IP.noPtr}` });
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(!/[<>&]/.test(res.body), 'no raw <, > or & in the answer');
      assert.match(String(res.headers['content-type']), /^application\/json/);
      const check = body(res, checkAnswerSchema);
      assert.equal(check.invalidNames[0]?.name, hostile);
      assert.ok(check.reply?.lines.every((l) => !l.includes('<')), 'the SMTP reply never carries the raw name');
    } finally {
      await api.close();
    }
  });

  test('trusted proxies: X-Forwarded-For is believed only from them (right-most untrusted hop); /metrics follows the real client', async () => {
    const noProxy = await apiEnv(harness, { http: { formLimitCount: 100 } });
    const proxied = await apiEnv(harness, { http: { trustedProxies: ['127.0.0.1', '10.0.0.0/8'], formLimitCount: 100 } });
    try {
      const post = async (api: typeof noProxy, remoteAddress: string, xff: string): Promise<string | undefined> => {
        const res = await api.server.app.inject({
          method: 'POST',
          url: '/api/v1/whitelist-requests',
          remoteAddress,
          headers: { 'x-forwarded-for': xff },
          payload: { range: '198.51.100.0/29', domain: 'example.net', contact: 'a@example.net', why: 'x' },
        });
        assert.equal(res.statusCode, 201, res.body);
        return (await api.env.firewall.records.request(res.json<{ ref: string }>().ref))?.fromIp;
      };
      assert.equal(await post(noProxy, '127.0.0.1', '203.0.113.5'), '127.0.0.1', 'no trusted proxy: the header is ignored');
      assert.equal(await post(proxied, '127.0.0.1', '203.0.113.5'), '203.0.113.5');
      assert.equal(await post(proxied, '127.0.0.1', '198.51.100.1, 203.0.113.5'), '203.0.113.5', 'a client cannot prepend its own choice');
      assert.equal(await post(proxied, '127.0.0.1', '198.51.100.1, 203.0.113.5, 10.1.1.1'), '203.0.113.5', 'trusted hops are skipped');
      assert.equal(await post(proxied, '192.0.2.99', '127.0.0.1'), '192.0.2.99', 'an untrusted peer cannot claim to be loopback');
      assert.equal(await post(proxied, '::ffff:127.0.0.1', '2001:db8::7'), '2001:db8::7', 'IPv4-mapped socket address of a proxy');

      const direct = await proxied.server.app.inject({ url: '/metrics', remoteAddress: '127.0.0.1' });
      assert.equal(direct.statusCode, 200);
      assert.match(direct.body, /^blocksmith_test 1$/m);
      assert.equal(direct.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
      const forwarded = await proxied.server.app.inject({ url: '/metrics', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.5' } });
      assert.equal(forwarded.statusCode, 403);
      assert.equal(errorCode(forwarded), 'BS_API_FORBIDDEN');
      const remote = await noProxy.server.app.inject({ url: '/metrics', remoteAddress: '192.0.2.1' });
      assert.equal(remote.statusCode, 403);
      const v6 = await noProxy.server.app.inject({ url: '/metrics', remoteAddress: '::1' });
      assert.equal(v6.statusCode, 200);
    } finally {
      await noProxy.close();
      await proxied.close();
    }
  });

  test('GET /api/v1/openapi.json: OpenAPI 3.1 with every registered route, parameters and bodies from the zod schemas', async () => {
    const api = await apiEnv(harness);
    try {
      const res = await api.server.app.inject({ url: '/api/v1/openapi.json' });
      assert.equal(res.statusCode, 200);
      const doc = res.json<{ openapi: string; paths: Record<string, Record<string, { security?: unknown; parameters: { name: string; in: string }[]; requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown>; required?: string[] } }> }; responses: Record<string, unknown> }>> }>();
      assert.equal(doc.openapi, '3.1.0');
      const registered = api.server.registered.filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${openApiPath(r.url)}`);
      const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
      assert.deepEqual([...documented].sort(), [...registered].sort());
      assert.equal(registered.length, 20, registered.join('\n'));
      for (const [path, ops] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          assert.ok(Object.keys(op.responses).length > 0, `${method} ${path}`);
          const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
          assert.deepEqual(op.parameters.filter((p) => p.in === 'path').map((p) => p.name), names, `${method} ${path}`);
          assert.equal(op.security !== undefined, /listings|allowlist|stats|audit|evidence|approve|deny/.test(path) || (path === '/api/v1/whitelist-requests' && method === 'get'), `${method} ${path} security`);
        }
      }
      const create = doc.paths['/api/v1/whitelist-requests']?.post?.requestBody?.content['application/json']?.schema;
      assert.deepEqual([...(create?.required ?? [])].sort(), ['contact', 'domain', 'range', 'why']);
      const listings = doc.paths['/api/v1/listings']?.get?.parameters.map((p) => `${p.in}:${p.name}`);
      assert.deepEqual(listings, ['query:state', 'query:reason', 'query:within', 'query:limit', 'query:after']);
    } finally {
      await api.close();
    }
  });

  test('startHttpFront: real HTTP on loopback; a malformed request gets a JSON 400; stop releases the port', async () => {
    const api = await apiEnv(harness);
    await api.close();
    const front = await startHttpFront(api.ctx);
    assert.ok(front !== undefined);
    try {
      assert.equal(front.name, 'http');
      const base = front.endpoints[0] ?? '';
      assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
      await api.env.firewall.decide({ front: 'policy', ip: IP.noPtr });
      const status = await fetch(`${base}/api/v1/ip/${IP.noPtr}`);
      assert.equal(status.status, 200);
      assert.equal(status.headers.get('cache-control'), 'no-store');
      const json = ipStatusSchema.parse(await status.json());
      assert.equal(json.listed, true);
      const unblock = await fetch(`${base}/api/v1/ip/${IP.noPtr}/unblock`, { method: 'POST' });
      assert.equal(unblock.status, 200);
      assert.equal(unblockAnswerSchema.parse(await unblock.json()).outcome, 'still-failing');
      // The requester is the loopback socket address, as the firewall's audit would record it.
      const operator = await fetch(`${base}/api/v1/listings`, { headers: api.auth });
      assert.equal(operator.status, 200);

      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(base).port), '127.0.0.1');
        let data = '';
        socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
        socket.write('GET /api/v1/ip/1.2.3.4 HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n');
      });
      assert.match(raw, /^HTTP\/1\.1 400 /);
      assert.match(raw, /"code":"BS_API_BAD_REQUEST"/);
    } finally {
      await front.stop();
    }
    const after = await fetch(`${front.endpoints[0] ?? ''}/api/v1/ip/${IP.pass}`).then(
      () => 'answered',
      () => 'refused',
    );
    assert.equal(after, 'refused');
    await front.stop(); // a second stop is harmless
  });

  test('startHttpFront: no listen address is no front; a port in use is BS_ERR_CONFIG_INVALID naming it', async () => {
    const api = await apiEnv(harness);
    await api.close();
    assert.equal(await startHttpFront({ ...api.ctx, config: makeConfig(api.key, { http: { listen: [] } }) }), undefined);
    const first = await startHttpFront(api.ctx);
    assert.ok(first !== undefined);
    try {
      const taken = (first.endpoints[0] ?? '').replace('http://', '');
      await assert.rejects(startHttpFront({ ...api.ctx, config: makeConfig(api.key, { http: { listen: ['127.0.0.1:0', taken] } }) }), (err: unknown) => {
        assert.ok(isBlockSmithError(err));
        assert.equal(err.code, 'BS_ERR_CONFIG_INVALID');
        assert.ok(err.message.includes(taken), err.message);
        return true;
      });
    } finally {
      await first.stop();
    }
  });
});
