/**
 * NAME
 *   bench/gate/no-ptr-dns-server - a DNS server that knows no name at all: NXDOMAIN for everything
 *
 * DESCRIPTION
 *   The refused clients of bench/gate are 127.x.y.z addresses without a PTR record. bench/check's
 *   synthetic server gives every IPv4 address a confirmed name, so it cannot serve here. This one
 *   answers every question with NXDOMAIN and an SOA (negative TTL 300), at once, from its own
 *   process; BlockSmith (--resolver) and Haraka (the bench_dns plugin, haraka.ts) both ask it.
 *   Binds 127.0.0.1 on a random UDP port, prints `{"port":N}` when ready and `{"queries":N}` on
 *   SIGUSR2, so the bench can show that both servers really asked it.
 */
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';

const ZONE = 'bench.test';
let queries = 0;

const socket = createSocket('udp4');
socket.on('message', (message, remote) => {
  queries++;
  let query: dnsPacket.Packet;
  try {
    query = dnsPacket.decode(message);
  } catch {
    return;
  }
  const question = query.questions?.[0];
  if (question === undefined) return;
  const reply = dnsPacket.encode({
    id: query.id,
    type: 'response',
    flags: dnsPacket.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | 3, // rcode 3 = NXDOMAIN
    questions: [question],
    answers: [],
    authorities: [{ name: ZONE, type: 'SOA', class: 'IN', ttl: 300, data: { mname: `ns.${ZONE}`, rname: `hostmaster.${ZONE}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 300 } }],
  });
  socket.send(reply, remote.port, remote.address);
});
socket.bind(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: socket.address().port }) + '\n');
});
process.on('SIGUSR2', () => {
  process.stdout.write(JSON.stringify({ queries }) + '\n');
});
process.on('SIGTERM', () => {
  socket.close();
  process.exit(0);
});
