/**
 * NAME
 *   bench/gate/sink-server - a fast SMTP sink, the backend of bench/gate, in its own process
 *
 * SYNOPSIS
 *   node sink-server.js      # prints {"proxyPort":N,"directPort":M} when listening
 *
 * DESCRIPTION
 *   Two loopback listeners, one code path. On `proxyPort` every connection must start with a
 *   PROXY header (v2 binary or v1 text, as the gate sends it) and the 220 banner follows it, as
 *   Postfix with smtpd_upstream_proxy_protocol does; on `directPort` the banner is sent at once.
 *   Then: EHLO/HELO/MAIL/RCPT/RSET/NOOP 250, DATA 354 and the message is counted, not kept (the
 *   end is found by scanning for CRLF.CRLF across chunk boundaries), 250 after it, QUIT 221.
 *   Idle connections are simply held (bench/gate's 5,000-connection measure). On SIGUSR2 it
 *   prints `{"open":N,"proxied":N,"messages":N,"bytes":N}`.
 */
import { createServer, type Server, type Socket } from 'node:net';

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const END_OF_DATA = Buffer.from('\r\n.\r\n');
let open = 0;
let proxied = 0;
let messages = 0;
let bytes = 0;

function serve(socket: Socket, expectProxy: boolean): void {
  open++;
  socket.on('close', () => open--);
  socket.on('error', () => undefined);
  let pending: Buffer = Buffer.alloc(0);
  let headerDone = !expectProxy;
  let inData = false;
  let tail: Buffer = Buffer.alloc(0); // the last bytes of DATA seen, to find CRLF.CRLF split over chunks
  if (headerDone) socket.write('220 sink.bench.test ESMTP bench sink\r\n');

  socket.on('data', (chunk: Buffer) => {
    if (inData) {
      bytes += chunk.length;
      const window = tail.length > 0 ? Buffer.concat([tail, chunk]) : chunk;
      const end = window.indexOf(END_OF_DATA);
      if (end < 0) {
        tail = window.subarray(Math.max(0, window.length - 4));
        return;
      }
      inData = false;
      tail = Buffer.alloc(0);
      messages++;
      socket.write('250 2.0.0 Ok: queued\r\n');
      pending = window.subarray(end + END_OF_DATA.length);
      if (pending.length === 0) return;
      chunk = Buffer.alloc(0);
    }
    pending = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    if (!headerDone) {
      if (pending.length >= 16 && pending.subarray(0, 12).equals(V2_SIGNATURE)) {
        const length = 16 + pending.readUInt16BE(14);
        if (pending.length < length) return;
        pending = pending.subarray(length);
      } else if (pending.subarray(0, 6).toString('latin1') === 'PROXY ') {
        const eol = pending.indexOf('\r\n');
        if (eol < 0) return;
        pending = pending.subarray(eol + 2);
      } else if (pending.length >= 16) {
        socket.destroy(); // no PROXY header where one is required
        return;
      } else return;
      headerDone = true;
      proxied++;
      socket.write('220 sink.bench.test ESMTP bench sink\r\n');
    }
    for (;;) {
      if (inData) {
        // Bytes after DATA's command line in the same chunk (pipelined): hand them back.
        const rest = pending;
        pending = Buffer.alloc(0);
        if (rest.length > 0) socket.emit('data', rest);
        return;
      }
      const eol = pending.indexOf('\n');
      if (eol < 0) return;
      const line = pending.subarray(0, eol).toString('latin1').trim().toUpperCase();
      pending = pending.subarray(eol + 1);
      if (line.startsWith('EHLO')) socket.write('250-sink.bench.test\r\n250-PIPELINING\r\n250 SIZE 104857600\r\n');
      else if (line.startsWith('DATA')) {
        inData = true;
        tail = Buffer.from('\r\n'); // an empty message ends with the dot line at once
        socket.write('354 End data with <CR><LF>.<CR><LF>\r\n');
      } else if (line.startsWith('QUIT')) {
        socket.end('221 2.0.0 Bye\r\n');
        return;
      } else socket.write('250 2.0.0 Ok\r\n');
    }
  });
}

function listen(expectProxy: boolean): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((socket) => serve(socket, expectProxy));
    server.maxConnections = 20_000;
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4_096 }, () => resolve(server));
  });
}

const proxyServer = await listen(true);
const directServer = await listen(false);
const portOf = (s: Server): number => (s.address() as { port: number }).port;
process.stdout.write(JSON.stringify({ proxyPort: portOf(proxyServer), directPort: portOf(directServer) }) + '\n');
process.on('SIGUSR2', () => process.stdout.write(JSON.stringify({ open, proxied, messages, bytes }) + '\n'));
process.on('SIGTERM', () => process.exit(0));
