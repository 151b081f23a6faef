/**
 * NAME
 *   bench/gate/haraka - run Haraka with haraka-plugin-fcrdns refusing clients without rDNS at connect
 *
 * DESCRIPTION
 *   Haraka comes from bench/gate/install.sh (npm, into /tmp/haraka-bench, outside the repository).
 *   Each run gets a fresh config directory: listen on one loopback port, one process (no
 *   cluster), Haraka's shipped config files otherwise, log level WARN (BlockSmith runs at warn too), and two plugins only:
 *
 *   - `bench_dns` (ours, written below): points Node's DNS at the bench's no-PTR server, for the
 *     global resolver (`dns.setServers`) and for every `dns.promises.Resolver` created after it
 *     (the fcrdns plugin makes its own `new Resolver()` when it loads, after ours: the plugins
 *     load in config/plugins order). resolv.conf cannot name a port, hence this. It also marks
 *     the 127.x clients as public (`remote.is_private = false` at connect_init): fcrdns skips
 *     private addresses, and the bench's clients are loopback addresses standing for public ones.
 *   - `fcrdns` with `[reject] no_rdns=true`: no PTR → DENY in the lookup_rdns hook, which Haraka
 *     answers with a `554` greeting, then 554 to every command (loop_respond) — as BlockSmith's
 *     gate with `rejectAtConnect` in hard mode (554 greeting, then 503 to all but QUIT).
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopChild, type Child } from '../fronts/support.js';

export const HARAKA_DIR = process.env.HARAKA_BENCH_DIR ?? '/tmp/haraka-bench';

const BENCH_DNS_PLUGIN = (dnsPort: number): string => `// bench/gate: every DNS look-up of this Haraka goes to the bench's DNS server (127.0.0.1:${dnsPort}).
const dns = require('node:dns')
const servers = ['127.0.0.1:${dnsPort}']
dns.setServers(servers)
const BasePromises = dns.promises.Resolver
dns.promises.Resolver = class BenchResolver extends BasePromises {
  constructor(options) { super(options); this.setServers(servers) }
}
const BaseCallbacks = dns.Resolver
dns.Resolver = class BenchResolver extends BaseCallbacks {
  constructor(options) { super(options); this.setServers(servers) }
}
exports.register = function () {
  this.register_hook('connect_init', 'public_loopback')
}
exports.public_loopback = function (next, connection) {
  connection.remote.is_private = false
  connection.remote.is_local = false
  next()
}
`;

export function harakaInstalled(): boolean {
  return existsSync(join(HARAKA_DIR, 'node_modules/Haraka/bin/haraka')) && existsSync(join(HARAKA_DIR, 'node_modules/haraka-plugin-fcrdns/package.json'));
}

export function harakaVersion(): string {
  const read = (name: string): string => (JSON.parse(readFileSync(join(HARAKA_DIR, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  return `Haraka ${read('Haraka')}, haraka-plugin-fcrdns ${read('haraka-plugin-fcrdns')}`;
}

/** Start Haraka on 127.0.0.1:`port`, its config in `configDir` (created), DNS at `dnsPort`. */
export function startHaraka(configDir: string, port: number, dnsPort: number): Child {
  // Haraka's shipped defaults first (connection.ini and the rest), then ours over them.
  cpSync(join(HARAKA_DIR, 'node_modules/Haraka/config'), join(configDir, 'config'), { recursive: true });
  mkdirSync(join(configDir, 'plugins'), { recursive: true });
  writeFileSync(join(configDir, 'plugins', 'bench_dns.js'), BENCH_DNS_PLUGIN(dnsPort));
  writeFileSync(join(configDir, 'config', 'plugins'), 'bench_dns\nfcrdns\n');
  writeFileSync(join(configDir, 'config', 'smtp.ini'), `listen=127.0.0.1:${port}\nnodes=\n`);
  writeFileSync(join(configDir, 'config', 'log.ini'), '[main]\nlevel=warn\n');
  writeFileSync(join(configDir, 'config', 'me'), 'haraka.bench.test\n');
  writeFileSync(join(configDir, 'config', 'fcrdns.ini'), '[reject]\nno_rdns=true\nno_fcrdns=true\n');
  const child = spawn(process.execPath, [join(HARAKA_DIR, 'node_modules/Haraka/bin/haraka'), '-c', configDir], {
    cwd: configDir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { process: child, stop: () => stopChild(child) };
}
