/**
 * util/log: an error with a cause is logged with its own message once and the cause as a field
 * (a store failure's HTTP-ERROR line used to repeat the driver's message), through the HTTP
 * front's error handling as the node runs it.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import fastify, { type FastifyBaseLogger } from 'fastify';
import { installErrorHandling } from '../../../src/fronts/api/errors.js';
import { storeUnavailable } from '../../../src/store/sqlite/driver-errors.js';
import { createLogger } from '../../../src/util/log.js';

test('HTTP-ERROR of a store failure: the driver message once, the cause with its code beside it', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done): void {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      done();
    },
  });
  const logger: FastifyBaseLogger = createLogger('info', sink).child({ front: 'http' });
  const app = fastify({ loggerInstance: logger });
  installErrorHandling(app);
  app.post('/api/v1/listings', () => {
    const driver = Object.assign(new Error('database or disk is full'), { name: 'SqliteError', code: 'SQLITE_FULL' });
    throw storeUnavailable('/var/lib/blocksmith/blocksmith.db', 'writing a listing', driver);
  });
  try {
    const res = await app.inject({ method: 'POST', url: '/api/v1/listings' });
    assert.equal(res.statusCode, 503);
    const logged = lines.map((l) => JSON.parse(l) as { event?: string; err?: { message: string; cause?: { code?: string; message?: string } } }).find((l) => l.event === 'HTTP-ERROR');
    assert.ok(logged?.err, lines.join('\n'));
    assert.equal(logged.err.message, 'SQLite store /var/lib/blocksmith/blocksmith.db: writing a listing failed (SQLITE_FULL): database or disk is full');
    assert.equal(logged.err.cause?.code, 'SQLITE_FULL');
    assert.equal(logged.err.cause.message, 'database or disk is full');
  } finally {
    await app.close();
  }
});
