/**
 * NAME
 *   bench/fronts/udp-echo - Node's UDP floor: every DNS query sent back as its own answer
 *
 * SYNOPSIS
 *   node dist-bench/bench/fronts/udp-echo.js <port>      prints `listening <port>` once bound
 *
 * DESCRIPTION
 *   The least a DNS server written on Node's dgram can do per query: one 'message' event and
 *   one send, the query sent back with QR set (no parsing, no lookup, no encoding). bench/fronts/
 *   dnsbl.ts measures it beside BlockSmith and rbldnsd on the same core: its rate is the ceiling
 *   of any zone served through dgram, so it says how much of the gap to rbldnsd is BlockSmith's
 *   own work and how much is Node's UDP path. Sends without a callback, as the zone does.
 */
import dgram from 'node:dgram';

const QR_BIT = 0x80;
const port = Number(process.argv[2]);
const socket = dgram.createSocket({ type: 'udp4', lookup: (host, _options, callback) => callback(null, host, 4) });
socket.on('message', (msg, rinfo) => {
  if (msg.length < 3) return;
  msg[2] = (msg[2] ?? 0) | QR_BIT;
  socket.send(msg, rinfo.port, rinfo.address);
});
socket.bind(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
