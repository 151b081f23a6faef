/**
 * NAME
 *   bench/check/synthetic-dns-server - an authoritative DNS server that answers any address
 *
 * DESCRIPTION
 *   For benchmarks only, run as its own process so that its work does not share the event loop
 *   with what is measured. Every IPv4 address a.b.c.d has PTR `h-a-b-c-d.bench.test.` and that
 *   name has A a.b.c.d (TTL 300), so 20,000 distinct cold checks are 20,000 distinct answers.
 *   Anything else is NXDOMAIN. With SYNTHETIC_DNS_NO_PTR_EVEN=1 (bench/soak), an address whose last
 *   octet is even has no PTR (NXDOMAIN), so a load mixes passing and failing clients. Binds 127.0.0.1 on a random UDP port and prints
 *   `{"port":N}` on stdout when ready; counts queries and prints `{"queries":N}` on SIGUSR2.
 */
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';

const TTL_S = 300;
const ZONE = 'bench.test';
const NO_PTR_EVEN = process.env.SYNTHETIC_DNS_NO_PTR_EVEN === '1';
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
  const answers: dnsPacket.Answer[] = [];
  const name = question.name.toLowerCase();
  const ptr = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa$/.exec(name);
  const host = new RegExp(`^h-(\\d+)-(\\d+)-(\\d+)-(\\d+)\\.${ZONE.replace('.', '\\.')}$`).exec(name);
  const withoutPtr = ptr !== null && NO_PTR_EVEN && Number(ptr[1]) % 2 === 0;
  if (withoutPtr) {
    // no answer: NXDOMAIN below
  } else if (ptr !== null && question.type === 'PTR') {
    answers.push({ name: question.name, type: 'PTR', class: 'IN', ttl: TTL_S, data: `h-${ptr[4]}-${ptr[3]}-${ptr[2]}-${ptr[1]}.${ZONE}` });
  } else if (host !== null && question.type === 'A') {
    answers.push({ name: question.name, type: 'A', class: 'IN', ttl: TTL_S, data: `${host[1]}.${host[2]}.${host[3]}.${host[4]}` });
  }
  const exists = (ptr !== null && !withoutPtr) || host !== null;
  const reply = dnsPacket.encode({
    id: query.id,
    type: 'response',
    flags: dnsPacket.AUTHORITATIVE_ANSWER | (exists ? 0 : 3), // rcode 3 = NXDOMAIN
    questions: [question],
    answers,
    authorities: answers.length > 0 ? [] : [{ name: ZONE, type: 'SOA', class: 'IN', ttl: TTL_S, data: { mname: `ns.${ZONE}`, rname: `hostmaster.${ZONE}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: TTL_S } }],
  });
  socket.send(reply, remote.port, remote.address);
});
socket.bind(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: socket.address().port }) + '\n');
});
process.on('SIGUSR2', () => {
  process.stdout.write(JSON.stringify({ queries, cpuMs: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1000) }) + '\n');
});
process.on('SIGTERM', () => {
  socket.close();
  process.exit(0);
});
