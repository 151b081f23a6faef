/**
 * NAME
 *   postfix - a real Postfix (Debian's package) of the test's own, on loopback, for the e2e suites
 *
 * SYNOPSIS
 *   const mta = await startPostfix({ mainCf: snippet })           // the configuration under test
 *   const mta = await startPostfix({ mainCf, resolvConf: 'nameserver 127.0.53.1\n' })
 *   await sendMail({ host: mta.host, port: mta.port, localAddress: '127.0.10.1', ... })
 *   await mta.waitForMailbox('Message-ID: <...>')                  // the delivered message
 *   await mta.restartSmtpd()                                       // `postfix reload`, old smtpd gone
 *   await mta.stop()
 *
 * DESCRIPTION
 *   `postfix -c DIR/etc start` with a main.cf and master.cf written here into a fresh folder under
 *   os.tmpdir(): its own queue_directory, data_directory and maillog_file (no syslog needed),
 *   inet_interfaces = 127.0.0.1 and one smtpd on a free high port (master.cf), nothing on port
 *   25, no pickup, no smtp client: default_transport and relay_transport are `error`, so nothing
 *   is ever relayed. Mail for example.com is delivered by virtual(8) to one mbox file
 *   (DIR/mail/mailbox) as user nobody. smtpd_peername_lookup = no: Postfix does no DNS of its own
 *   for the client (BlockSmith does); `mynetworks = 127.0.0.1/32`, so the test clients on
 *   127.0.10.x are strangers.
 *
 *   `mainCf` is appended after the harness's lines (a later line wins in main.cf), so a test puts
 *   there exactly the snippet that docs/postfix.md shows.
 *
 *   resolvConf: Postfix looks up DNSBLs with the system resolver (res_search, /etc/resolv.conf),
 *   which takes no port. With resolvConf set, Postfix is started by `unshare --mount` in a mount
 *   namespace of its own where that text is bind-mounted over /etc/resolv.conf: only this
 *   Postfix (master and every process it forks) sees it; the machine's resolv.conf is never
 *   touched, and the mount disappears with the last process of the namespace. The name server
 *   it names must answer on port 53 of a loopback address (the test's BlockSmith DNSBL).
 *
 *   Postfix's master needs root (it binds and drops privileges per service). The suite runs as
 *   root in CI; otherwise start-up throws saying so.
 *
 *   Every master started here is recorded; stop() runs `postfix stop` and waits for the master
 *   to exit (SIGKILL to its process group after a grace), and a process `exit` hook SIGKILLs any
 *   that are left, so no test leaves a Postfix running.
 *
 * DIAGNOSTICS
 *   A missing postfix names `.ci/e2e-install.sh`. A Postfix that does not answer 220 in time
 *   throws with the tail of its maillog.
 */
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findExecutable } from './dns-server.js';
import { freePort, sleep } from './node-process.js';

const execFileAsync = promisify(execFile);

const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 10_000;
const INSTALL_HINT = 'run `bash .ci/e2e-install.sh` (as root) to install it';
/** The domain virtual(8) delivers to the mailbox file. */
export const POSTFIX_MAIL_DOMAIN = 'example.com';

export interface PostfixOptions {
  /** main.cf lines appended after the harness's own: the configuration under test. */
  readonly mainCf: string;
  /** When set, /etc/resolv.conf as this Postfix sees it (a private mount namespace). */
  readonly resolvConf?: string;
  /**
   * The smtpd under test expects a PROXY header first (`smtpd_upstream_proxy_protocol =
   * haproxy`): the readiness probe then sends a v1 header before it waits for the 220.
   */
  readonly upstreamProxy?: boolean;
  /**
   * The test turns on smtpd TLS in mainCf: master.cf then gets Postfix's `tlsmgr` service too
   * (without it smtpd logs "no entropy for TLS key generation" and answers STARTTLS with 454).
   */
  readonly tls?: boolean;
}

export interface Postfix {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** The delivered mail so far (mbox), '' before the first delivery. */
  mailbox(): Promise<string>;
  /** Waits until the mailbox holds `text` (delivery is asynchronous after the 250). */
  waitForMailbox(text: string, timeoutMs?: number): Promise<string>;
  /** Postfix's maillog so far. */
  log(): Promise<string>;
  /**
   * `postfix reload`, then waits until every smtpd process of before has exited: smtpd keeps
   * DNSBL answers for its whole life, so the next session after this asks the DNSBL again.
   */
  restartSmtpd(): Promise<void>;
  stop(): Promise<void>;
}

// ---- every master started here is killed on exit ------------------------------------------------

const liveMasters = new Set<number>();
function killAll(): void {
  for (const pid of liveMasters) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  liveMasters.clear();
}
process.on('exit', killAll);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Children of `parent` named `name`, from /proc. */
async function childPids(parent: number, name: string): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === parent && comm === name) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function uidOf(user: string): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith(`${user}:`));
  const fields = line?.split(':');
  if (fields === undefined || fields.length < 4) throw new Error(`no user ${user} in /etc/passwd: ${INSTALL_HINT}`);
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

function harnessMainCf(dir: string, port: number): string {
  return [
    '# The harness (test/e2e/helpers/postfix.ts): a private Postfix on loopback, no relay.',
    'compatibility_level = 3.6',
    `queue_directory = ${dir}/queue`,
    `data_directory = ${dir}/data`,
    `maillog_file = ${dir}/maillog`,
    `maillog_file_prefixes = ${dir}`,
    'myhostname = mx.example.com',
    'mydomain = example.com',
    'myorigin = $myhostname',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'mydestination =',
    'relay_domains =',
    'mynetworks = 127.0.0.1/32',
    'default_transport = error:this test server relays nothing',
    'relay_transport = error:this test server relays nothing',
    'alias_maps =',
    'alias_database =',
    'local_recipient_maps =',
    'smtpd_peername_lookup = no',
    'smtputf8_enable = no',
    'biff = no',
    `virtual_mailbox_domains = ${POSTFIX_MAIL_DOMAIN}`,
    `virtual_mailbox_base = ${dir}/mail`,
    'virtual_mailbox_maps = static:mailbox',
    `# smtpd listens on 127.0.0.1:${port} (master.cf)`,
    '',
  ].join('\n');
}

function harnessMasterCf(port: number, nobody: { uid: number; gid: number }, tls = false): { master: string; main: string } {
  const master = [
    '# service type private unpriv chroot wakeup maxproc command',
    `127.0.0.1:${port} inet n - n - - smtpd`,
    'cleanup   unix n - n - 0 cleanup',
    'qmgr      unix n - n 300 1 qmgr',
    'rewrite   unix - - n - - trivial-rewrite',
    'bounce    unix - - n - 0 bounce',
    'defer     unix - - n - 0 bounce',
    'trace     unix - - n - 0 bounce',
    'verify    unix - - n - 1 verify',
    'flush     unix n - n 1000 0 flush',
    'proxymap  unix - - n - - proxymap',
    'anvil     unix - - n - 1 anvil',
    'scache    unix - - n - 1 scache',
    'error     unix - - n - - error',
    'retry     unix - - n - - error',
    'discard   unix - - n - - discard',
    'virtual   unix - n n - - virtual',
    'showq     unix n - n - - showq',
    'postlog   unix-dgram n - n - 1 postlogd',
    ...(tls ? ['tlsmgr    unix - - n 1000? 1 tlsmgr'] : []),
    '',
  ].join('\n');
  const main = [`virtual_uid_maps = static:${nobody.uid}`, `virtual_gid_maps = static:${nobody.gid}`, ''].join('\n');
  return { master, main };
}

/** Reads the banner on a fresh connection (after a PROXY v1 header when `proxy`); true on a 220. */
async function answers(port: number, proxy = false): Promise<boolean> {
  return new Promise((ok) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    if (proxy) socket.write(`PROXY TCP4 127.0.0.1 127.0.0.1 65535 ${port}\r\n`);
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

async function tailOf(path: string, lines = 40): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no maillog)';
  }
}

/** startPostfix - see DESCRIPTION. */
export async function startPostfix(options: PostfixOptions): Promise<Postfix> {
  const postfix = findExecutable('postfix');
  if (postfix === undefined) throw new Error(`the MTA suites need Postfix, which is not installed: ${INSTALL_HINT}`);
  if (process.getuid?.() !== 0) throw new Error('the Postfix suites must run as root: Postfix\'s master process needs root');
  const unshare = options.resolvConf !== undefined ? findExecutable('unshare') : undefined;
  if (options.resolvConf !== undefined && unshare === undefined) throw new Error('resolvConf needs unshare(1) (util-linux)');

  const dir = await mkdtemp(join(tmpdir(), 'bs-e2e-postfix-'));
  // Postfix's own users must reach the queue, data and mail folders below it.
  await chmod(dir, 0o755);
  const etc = join(dir, 'etc');
  await mkdir(etc);
  await mkdir(join(dir, 'queue'), { mode: 0o755 });
  await mkdir(join(dir, 'data'), { mode: 0o700 });
  await mkdir(join(dir, 'mail'), { mode: 0o700 });
  const postfixUser = await uidOf('postfix');
  const nobody = await uidOf('nobody');
  await chown(join(dir, 'data'), postfixUser.uid, postfixUser.gid);
  await chown(join(dir, 'mail'), nobody.uid, nobody.gid);

  const port = await freePort();
  const tables = harnessMasterCf(port, nobody, options.tls === true);
  await writeFile(join(etc, 'main.cf'), `${harnessMainCf(dir, port)}${tables.main}\n# The configuration under test\n${options.mainCf.trimEnd()}\n`);
  await writeFile(join(etc, 'master.cf'), tables.master);
  const logPath = join(dir, 'maillog');

  let command: string;
  let args: string[];
  if (options.resolvConf !== undefined && unshare !== undefined) {
    const resolvPath = join(dir, 'resolv.conf');
    await writeFile(resolvPath, options.resolvConf, { mode: 0o644 });
    command = unshare;
    args = ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', 'mount --bind "$1" /etc/resolv.conf && exec "$2" -c "$3" start', 'sh', resolvPath, postfix, etc];
  } else {
    command = postfix;
    args = ['-c', etc, 'start'];
  }

  const masterPid = async (): Promise<number | undefined> => {
    try {
      const pid = Number((await readFile(join(dir, 'queue', 'pid', 'master.pid'), 'utf8')).trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const pid = await masterPid();
    await execFileAsync(postfix, ['-c', etc, 'stop'], { timeout: STOP_GRACE_MS }).catch(() => undefined);
    if (pid !== undefined) {
      const deadline = Date.now() + STOP_GRACE_MS;
      while (alive(pid) && Date.now() < deadline) await sleep(50);
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // the whole group is gone
      }
      liveMasters.delete(pid);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await execFileAsync(command, args, { timeout: READY_TIMEOUT_MS });
  } catch (err) {
    const log = await tailOf(logPath);
    await stop();
    const e = err as { stderr?: string; message?: string };
    throw new Error(`postfix start failed: ${e.stderr ?? e.message ?? String(err)}\n${log}`);
  }
  const pid = await masterPid();
  if (pid !== undefined) liveMasters.add(pid);

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await answers(port, options.upstreamProxy === true))) {
    if (Date.now() > deadline) {
      const log = await tailOf(logPath);
      await stop();
      throw new Error(`postfix did not answer 220 on 127.0.0.1:${port} within ${READY_TIMEOUT_MS} ms:\n${log}`);
    }
    await sleep(100);
  }

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
        if (Date.now() > end) throw new Error(`the mailbox does not hold ${JSON.stringify(text)} after ${timeoutMs} ms\n${await tailOf(logPath)}`);
        await sleep(100);
      }
    },
    log: async () => {
      try {
        return await readFile(logPath, 'utf8');
      } catch {
        return '';
      }
    },
    async restartSmtpd(): Promise<void> {
      const master = await masterPid();
      if (master === undefined) throw new Error('postfix: no master.pid');
      const before = await childPids(master, 'smtpd');
      await execFileAsync(postfix, ['-c', etc, 'reload'], { timeout: 10_000 });
      const end = Date.now() + 15_000;
      while (before.some(alive)) {
        if (Date.now() > end) throw new Error(`postfix reload: smtpd ${before.filter(alive).join(', ')} still running`);
        await sleep(50);
      }
    },
    stop,
  };
}
