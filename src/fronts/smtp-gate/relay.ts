/**
 * NAME
 *   fronts/smtp-gate/relay - an accepted client handed to the backend MTA, bytes untouched
 *
 * SYNOPSIS
 *   const backend = await connectBackend({ host, port, timeoutMs, header })
 *                                         connected, the PROXY header written; rejects on error/timeout
 *   relay(client, backend, { onBanner, idleTimeoutMs, onEnd })
 *                                         pipe both ways until both sides are done
 *   proxyHeader(version, endpoints): Buffer | undefined
 *
 * DESCRIPTION
 *   The PROXY header is the first write on the backend socket, in one write, before any byte of
 *   the client (the client socket is paused from the decision until the pipe starts), so the
 *   MTA knows the real client before it reads anything else (PROXY spec §5; Postfix reads it
 *   before its greeting). Client bytes wait until the backend has sent its first bytes (its
 *   220): until then the session goes on reading the client itself (a client that talks before
 *   the greeting is the gate's business: pregreet, a PROXY header from an untrusted source), and
 *   the MTA is never shown bytes ahead of its own banner. At the banner, onBanner() hands over
 *   the bytes the session kept (pregreetAction ignore); they go first, in order.
 *
 *   Then stream.pipe both ways: back-pressure (a slow reader pauses the other side), and an
 *   end on one side becomes end() on the other (half-close: `QUIT` then FIN from the client
 *   still lets the MTA's 221 through). STARTTLS and everything after are bytes like any other.
 *   An error on either socket destroys both; so does relayIdleTimeoutMs without a byte in
 *   either direction (the client socket's timeout counts reads and writes).
 *
 *   onEnd(reason) is called once, when both sockets have closed: `done`, `idle-timeout`,
 *   `client-error` or `backend-error`.
 */
import { connect, type Socket } from 'node:net';
import { encodeProxyV1, encodeProxyV2, type ProxyEndpoints } from './proxy-protocol.js';

export type RelayEnd = 'done' | 'idle-timeout' | 'client-error' | 'backend-error';

export interface BackendTarget {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** Written first, in one write; undefined for proxy `none`. */
  readonly header: Buffer | undefined;
}

export interface RelayOptions {
  /**
   * Called once, when the backend's first bytes (its banner) arrive: the caller stops reading the
   * client and returns the client bytes it kept, which go to the backend before the rest.
   */
  readonly onBanner: () => Buffer;
  readonly idleTimeoutMs: number;
  readonly onEnd: (reason: RelayEnd) => void;
}

/** proxyHeader - the header for `version`, or undefined for `none`. */
export function proxyHeader(version: 'v1' | 'v2' | 'none', endpoints: ProxyEndpoints): Buffer | undefined {
  if (version === 'none') return undefined;
  return version === 'v2' ? encodeProxyV2(endpoints) : encodeProxyV1(endpoints);
}

/** connectBackend - resolves once connected with the header written; rejects with the cause (`timeout`, ECONNREFUSED…). */
export function connectBackend(target: BackendTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    socket.setNoDelay(true);
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`no connection within ${target.timeoutMs} ms`)), target.timeoutMs).unref();
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('error', fail);
      // A late error (reset before relay() takes over) must not be unhandled.
      socket.on('error', () => undefined);
      if (target.header !== undefined) socket.write(target.header);
      resolve(socket);
    });
  });
}

export function relay(client: Socket, backend: Socket, options: RelayOptions): void {
  let reason: RelayEnd = 'done';
  let open = 2;
  const closed = (): void => {
    open -= 1;
    if (open === 0) options.onEnd(reason);
  };
  const cut = (why: RelayEnd): void => {
    if (reason === 'done') reason = why;
    client.destroy();
    backend.destroy();
  };
  client.on('error', () => cut('client-error'));
  backend.on('error', () => cut('backend-error'));
  client.once('close', closed);
  backend.once('close', closed);
  // A side that closes without an error has ended its half already (pipe passed the end on);
  // one that vanishes (reset) takes the other with it.
  client.once('close', (hadError) => {
    if (hadError) backend.destroy();
  });
  backend.once('close', (hadError) => {
    if (hadError) client.destroy();
  });
  client.setTimeout(options.idleTimeoutMs);
  client.on('timeout', () => cut('idle-timeout'));
  backend.once('data', () => {
    const early = options.onBanner();
    if (early.length > 0) backend.write(early);
    // The client may have sent its FIN while the gate was still reading it itself.
    if (client.readableEnded) backend.end();
    else client.pipe(backend);
  });
  backend.pipe(client);
  // The backend said nothing and closed: nothing of the client's will be read any more.
  backend.once('end', () => {
    if (backend.bytesRead === 0) client.end();
  });
}
