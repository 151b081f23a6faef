/**
 * NAME
 *   bench/gate/bare-relay - the reference for the gate's relay cost: accept, PROXY v1 header, pipe
 *
 * SYNOPSIS
 *   node bare-relay.js BACKEND_PORT      # prints {"port":N} when listening on 127.0.0.1
 *
 * DESCRIPTION
 *   The least a relaying Node process can do: for each client, connect to 127.0.0.1:BACKEND_PORT,
 *   write a PROXY v1 header with the client's address, then `client.pipe(backend)` and
 *   `backend.pipe(client)`, nothing else (no decision, no timers, no banner wait). bench/gate's
 *   measure 3 runs the same transfers through it and through the gate, so the gate's own cost per
 *   byte shows beside a bare pipe's.
 */
import { connect, createServer } from 'node:net';

const backendPort = Number(process.argv[2]);
const server = createServer((client) => {
  const backend = connect({ port: backendPort, host: '127.0.0.1' });
  backend.write(`PROXY TCP4 ${client.remoteAddress ?? '127.0.0.1'} 127.0.0.1 ${client.remotePort ?? 0} 25\r\n`);
  client.on('error', () => backend.destroy());
  backend.on('error', () => client.destroy());
  client.pipe(backend);
  backend.pipe(client);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0 }));
});
process.on('SIGTERM', () => process.exit(0));
