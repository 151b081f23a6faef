/**
 * NAME
 *   exim - a real Exim (Debian's exim4-daemon-light) of the test's own, on loopback, for the e2e suites
 *
 * SYNOPSIS
 *   const mta = await startExim({ rcptAcl: snippet })       // ACL lines under test, in acl_smtp_rcpt
 *   await sendMail({ host: mta.host, port: mta.port, localAddress: '127.0.10.1', ... })
 *   await mta.waitForMailbox(messageId)
 *   await mta.stop()
 *
 * DESCRIPTION
 *   `exim4 -C DIR/exim.conf -bdf -oX PORT`: the daemon in the foreground, with a configuration
 *   written here into a fresh folder under os.tmpdir(): its own spool, log and pid files,
 *   local_interfaces = 127.0.0.1 and a free high port, no TLS, no ident, no host name lookups of
 *   its own (host_lookup is empty: BlockSmith does the DNS). Mail for example.com is appended to
 *   one mbox file (DIR/mail/mailbox) by an appendfile transport; every other domain is refused
 *   at RCPT ("relay not permitted"), so nothing is ever relayed.
 *
 *   acl_smtp_rcpt is: accept local submissions, deny relaying, then `rcptAcl` (the lines
 *   docs/exim.md shows, read from it by the test), then accept.
 *
 *   The binary: an installed exim4 if the machine has one, else the one .ci/e2e-install.sh
 *   unpacked into /opt/blocksmith-e2e/exim4 (Debian's exim4 and postfix packages conflict, so
 *   both cannot be installed). Exim gives up root for a -C configuration and runs as the
 *   Debian-exim user its binary was built for, so the folders it writes are given to that user.
 *
 *   mainConf(port): lines added to the main section (the gate suite's listening lines and
 *   hosts_proxy), given the free port; when they set daemon_smtp_ports and local_interfaces the
 *   harness sets neither (no -oX), and its readiness probe connects from probeAddress (a source
 *   outside hosts_proxy, which Exim would otherwise wait on for a header). binary: another exim4
 *   (eximProxyBinary(): Debian's exim4-daemon-heavy, the one built with PROXY support, unpacked by
 *   .ci/e2e-install.sh into /opt/blocksmith-e2e/exim4-heavy; the light daemon has none).
 *
 *   resolvConf: as in postfix.ts, Exim is started in a mount namespace of its own where that
 *   text is /etc/resolv.conf (Exim's dnslists use the system resolver, which takes no port).
 *
 *   The daemon runs in its own process group; stop() sends SIGTERM, then SIGKILL to the group,
 *   and a process `exit` hook kills any group left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from './dns-server.js';
import { freePort, sleep } from './node-process.js';

const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const UNPACKED_EXIM = '/opt/blocksmith-e2e/exim4/usr/sbin/exim4';
const UNPACKED_EXIM_HEAVY = '/opt/blocksmith-e2e/exim4-heavy/usr/sbin/exim4';
const INSTALL_HINT = 'run `bash .ci/e2e-install.sh` (as root)';
/** The domain delivered to the mailbox file. */
export const EXIM_MAIL_DOMAIN = 'example.com';

export interface EximOptions {
  /** ACL statements placed in acl_smtp_rcpt after the relay check. */
  readonly rcptAcl: string;
  /** When set, /etc/resolv.conf as this Exim sees it (a private mount namespace). */
  readonly resolvConf?: string;
  /** Lines added to the main configuration section, given the port Exim is to listen on. */
  readonly mainConf?: (port: number) => string;
  /** The source address of the readiness probe (default: the kernel's choice, 127.0.0.1). */
  readonly probeAddress?: string;
  /** The exim4 binary to run instead of eximBinary()'s. */
  readonly binary?: string;
}

export interface Exim {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  mailbox(): Promise<string>;
  waitForMailbox(text: string, timeoutMs?: number): Promise<string>;
  /** Exim's main log so far. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

const liveGroups = new Set<number>();
function killAll(): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  liveGroups.clear();
}
process.on('exit', killAll);

/** eximProxyBinary - Debian's exim4-daemon-heavy as .ci/e2e-install.sh unpacks it (built with SUPPORT_PROXY), or undefined. */
export function eximProxyBinary(): string | undefined {
  try {
    accessSync(UNPACKED_EXIM_HEAVY, constants.X_OK);
    return UNPACKED_EXIM_HEAVY;
  } catch {
    return undefined;
  }
}

export function eximBinary(): string | undefined {
  const installed = findExecutable('exim4');
  if (installed !== undefined) return installed;
  try {
    accessSync(UNPACKED_EXIM, constants.X_OK);
    return UNPACKED_EXIM;
  } catch {
    return undefined;
  }
}

async function userIds(user: string): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const fields = passwd
    .split('\n')
    .find((l) => l.startsWith(`${user}:`))
    ?.split(':');
  if (fields === undefined || fields.length < 4) throw new Error(`no user ${user}: ${INSTALL_HINT}`);
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

function configText(dir: string, exim: string, rcptAcl: string, mainConf = ''): string {
  return [
    '# The harness (test/e2e/helpers/exim.ts): a private Exim on loopback, no relay.',
    'primary_hostname = mx.example.com',
    `exim_path = ${exim}`,
    `spool_directory = ${dir}/spool`,
    `log_file_path = ${dir}/log/%slog`,
    `pid_file_path = ${dir}/exim.pid`,
    ...(/^\s*local_interfaces\s*=/m.test(mainConf) ? [] : ['local_interfaces = <; 127.0.0.1']),
    'never_users = root',
    'host_lookup =',
    'rfc1413_hosts =',
    'tls_advertise_hosts =',
    'keep_environment =',
    `domainlist local_domains = ${EXIM_MAIL_DOMAIN}`,
    'acl_smtp_rcpt = acl_check_rcpt',
    ...(mainConf.trim() !== '' ? ['# ---- main configuration under test', mainConf.trimEnd(), '# ----'] : []),
    '',
    'begin acl',
    '',
    'acl_check_rcpt:',
    '  accept  hosts = :',
    '  deny    message = relay not permitted',
    '          !domains = +local_domains',
    '',
    '  # ---- the configuration under test',
    rcptAcl.trimEnd(),
    '  # ----',
    '',
    '  accept',
    '',
    'begin routers',
    '',
    'mailbox:',
    '  driver = accept',
    '  domains = +local_domains',
    '  transport = mailbox_file',
    '',
    'begin transports',
    '',
    'mailbox_file:',
    '  driver = appendfile',
    `  file = ${dir}/mail/mailbox`,
    '  user = Debian-exim',
    '  group = Debian-exim',
    '  mode = 0640',
    '  delivery_date_add',
    '  envelope_to_add',
    '  return_path_add',
    '',
  ].join('\n');
}

async function answers(port: number, localAddress?: string): Promise<boolean> {
  return new Promise((ok) => {
    const socket = net.connect({ host: '127.0.0.1', port, ...(localAddress !== undefined ? { localAddress } : {}) });
    let text = '';
    const done = (result: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      ok(result);
    };
    const timer = setTimeout(() => done(false), 2_000);
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => {
      text += s;
      if (/^220 /m.test(text)) {
        socket.write('QUIT\r\n');
        done(true);
      }
    });
    socket.on('error', () => done(false));
  });
}

/** startExim - see DESCRIPTION. */
export async function startExim(options: EximOptions): Promise<Exim> {
  const exim = options.binary ?? eximBinary();
  if (exim === undefined) throw new Error(`the Exim suite needs exim4 (Debian's exim4-daemon-light): ${INSTALL_HINT}`);
  if (process.getuid?.() !== 0) throw new Error('the Exim suite must run as root (Exim binds and changes users)');
  const unshare = options.resolvConf !== undefined ? findExecutable('unshare') : undefined;
  if (options.resolvConf !== undefined && unshare === undefined) throw new Error('resolvConf needs unshare(1) (util-linux)');

  const dir = await mkdtemp(join(tmpdir(), 'bs-e2e-exim-'));
  await chmod(dir, 0o755);
  const owner = await userIds('Debian-exim');
  for (const sub of ['spool', 'log', 'mail']) {
    await mkdir(join(dir, sub), { mode: 0o750 });
    await chown(join(dir, sub), owner.uid, owner.gid);
  }
  const confPath = join(dir, 'exim.conf');
  // Exim refuses a configuration file that anyone but root (or its own user) could write.
  const port = await freePort();
  const mainConf = options.mainConf?.(port) ?? '';
  await writeFile(confPath, configText(dir, exim, options.rcptAcl, mainConf), { mode: 0o644 });
  const ownListen = /^\s*daemon_smtp_ports\s*=/m.test(mainConf) && /^\s*local_interfaces\s*=/m.test(mainConf);
  const eximArgs = ['-C', confPath, '-bdf', ...(ownListen ? [] : ['-oX', String(port)])];

  let child: ChildProcess;
  if (options.resolvConf !== undefined && unshare !== undefined) {
    const resolvPath = join(dir, 'resolv.conf');
    await writeFile(resolvPath, options.resolvConf, { mode: 0o644 });
    child = spawn(unshare, ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', 'r=$1; shift; mount --bind "$r" /etc/resolv.conf && exec "$@"', 'sh', resolvPath, exim, ...eximArgs], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } else {
    child = spawn(exim, eximArgs, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  const pgid = child.pid;
  if (pgid === undefined) throw new Error(`could not start ${exim}`);
  liveGroups.add(pgid);
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (output += s));
  let exited = false;
  const exit = new Promise<void>((ok) =>
    child.once('exit', () => {
      exited = true;
      ok();
    }),
  );
  const mainLog = join(dir, 'log', 'mainlog');
  const log = async (): Promise<string> => {
    try {
      return await readFile(mainLog, 'utf8');
    } catch {
      return '';
    }
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      try {
        child.kill('SIGTERM');
      } catch {
        // gone
      }
      await Promise.race([exit, sleep(STOP_GRACE_MS)]);
    }
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // the group is gone
    }
    liveGroups.delete(pgid);
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await answers(port, options.probeAddress))) {
    if (exited || Date.now() > deadline) {
      const tail = `${output}\n${await log()}`.trim().split('\n').slice(-30).join('\n');
      await stop();
      throw new Error(`exim did not answer 220 on 127.0.0.1:${port}${exited ? ' (it exited)' : ''}:\n${tail}`);
    }
    await sleep(100);
  }
  // From here on only stop() or the exit hook ends it: its handles must not keep a test alive.
  child.unref();
  (child.stdout as net.Socket | null)?.unref();
  (child.stderr as net.Socket | null)?.unref();

  const mailbox = async (): Promise<string> => {
    try {
      return await readFile(join(dir, 'mail', 'mailbox'), 'latin1');
    } catch {
      return '';
    }
  };
  return {
    host: '127.0.0.1',
    port,
    dir,
    mailbox,
    async waitForMailbox(text: string, timeoutMs = 15_000): Promise<string> {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const box = await mailbox();
        if (box.includes(text)) return box;
        if (Date.now() > end) throw new Error(`the mailbox does not hold ${JSON.stringify(text)} after ${timeoutMs} ms\n${await log()}`);
        await sleep(100);
      }
    },
    log,
    stop,
  };
}
