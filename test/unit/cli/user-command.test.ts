/**
 * `blocksmith user add|passwd|remove|list` as an operator runs them: child processes (through tsx)
 * on a SQLite store in a temporary directory; then the account is checked where the console
 * finds it, through Accounts on the same file (login works, old sessions end). The terminal
 * prompt runs under a real pseudo-terminal (util-linux `script`), with echo checked to be off.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Accounts, type LoginResult } from '../../../src/firewall/accounts.js';
import { SqliteStore } from '../../../src/store/sqlite/index.js';

const BIN = new URL('../../../src/cli/bin.ts', import.meta.url).pathname;
const TSX = import.meta.resolve('tsx');
const RUN_TIMEOUT_MS = 60_000;
/** A resolver address nobody asks (the user commands do no DNS). */
const RESOLVER = '127.0.0.1:9';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let dir: string;
let data: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'bs-user-'));
  data = join(dir, 'data');
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function childEnv(): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BLOCKSMITH_'))), NO_COLOR: '1' };
}

/** cli - one `blocksmith` run on the test's store; `stdin` is written and closed (no terminal). */
function cli(args: readonly string[], stdin = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, BIN, ...args, '--data', data, '--resolver', RESOLVER], {
      cwd: dir,
      env: childEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

/** withAccounts - Accounts on the same file, as a serving node's console would have them. */
async function withAccounts<T>(work: (accounts: Accounts, store: SqliteStore) => Promise<T>): Promise<T> {
  const store = new SqliteStore({ path: join(data, 'blocksmith.db') });
  await store.open();
  try {
    return await work(new Accounts({ store }), store);
  } finally {
    await store.close();
  }
}

function ok(result: LoginResult): boolean {
  return result.ok;
}

describe('blocksmith user', () => {
  test('add --password-stdin makes an account the console can log in with; list shows it', async () => {
    const r = await cli(['user', 'add', 'Alice', '--password-stdin'], 'correct horse battery\nignored second line\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'account alice: added\n');

    await withAccounts(async (accounts, store) => {
      const account = await store.getAccount('alice');
      assert.ok(account);
      assert.match(account.passwordHash, /^scrypt\$32768\$8\$1\$/, 'the default scrypt cost');
      assert.equal(ok(await accounts.login('alice', 'correct horse battery', '192.0.2.1')), true);
      assert.equal(ok(await accounts.login('alice', 'ignored second line', '192.0.2.1')), false);
      const audit = (await store.listAudit({ target: 'alice', action: 'ACCOUNT-ADD' })).items;
      assert.equal(audit.length, 1);
      assert.match(audit[0]?.actor ?? '', /^cli:/);
    });

    const list = await cli(['user', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const rows = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepStrictEqual(rows.map((row) => row.name), ['alice']);
    assert.deepStrictEqual(Object.keys(rows[0] ?? {}).sort(), ['createdAt', 'name', 'passwordChangedAt']);
  });

  test('refusals: no terminal and no --password-stdin, a short password, a bad name, a name taken', async () => {
    const noTty = await cli(['user', 'add', 'bob']);
    assert.equal(noTty.code, 64);
    assert.match(noTty.stderr, /--password-stdin/);
    const short = await cli(['user', 'add', 'bob', '--password-stdin'], '123456789\n');
    assert.equal(short.code, 64);
    assert.match(short.stderr, /shorter than 10/);
    assert.ok(!short.stderr.includes('123456789'), 'the password is not echoed in the error');
    const badName = await cli(['user', 'add', 'no spaces', '--password-stdin'], 'long enough secret\n');
    assert.equal(badName.code, 64);
    const first = await cli(['user', 'add', 'carol', '--password-stdin'], 'long enough secret\r\n');
    assert.equal(first.code, 0, first.stderr);
    const again = await cli(['user', 'add', 'CAROL', '--password-stdin'], 'another secret here\n');
    assert.equal(again.code, 65);
    assert.match(again.stderr, /already/);
    await withAccounts(async (accounts, store) => {
      assert.equal(await store.getAccount('bob'), undefined, 'nothing made by the refusals');
      assert.equal(ok(await accounts.login('carol', 'long enough secret', '192.0.2.2')), true, 'CR LF line end taken off');
    });
  });

  test('passwd ends the sessions and changes the password; remove ends the account', async () => {
    assert.equal((await cli(['user', 'add', 'dave', '--password-stdin'], 'first secret value\n')).code, 0);
    const sessionId = await withAccounts(async (accounts) => {
      const login = await accounts.login('dave', 'first secret value', '192.0.2.3');
      assert.ok(login.ok);
      return login.session.id;
    });
    const passwd = await cli(['user', 'passwd', 'dave', '--password-stdin'], 'second secret value\n');
    assert.equal(passwd.code, 0, passwd.stderr);
    await withAccounts(async (accounts) => {
      assert.equal(await accounts.session(sessionId), undefined, 'the old session ended');
      assert.equal(ok(await accounts.login('dave', 'first secret value', '192.0.2.3')), false);
      assert.equal(ok(await accounts.login('dave', 'second secret value', '192.0.2.3')), true);
    });
    assert.equal((await cli(['user', 'passwd', 'nobody', '--password-stdin'], 'second secret value\n')).code, 65);

    const removed = await cli(['user', 'remove', 'dave']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await cli(['user', 'remove', 'dave'])).code, 1);
    await withAccounts(async (accounts) => {
      assert.equal(ok(await accounts.login('dave', 'second secret value', '192.0.2.3')), false);
    });
  });

  test('on a terminal: asked twice with echo off', async () => {
    // util-linux script(1) gives the child a pseudo-terminal; -E never: script itself echoes nothing.
    const command = [process.execPath, '--import', TSX, BIN, 'user', 'add', 'erin', '--data', data, '--resolver', RESOLVER]
      .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
      .join(' ');
    const child = spawn('script', ['-E', 'never', '-qec', command, '/dev/null'], { cwd: dir, env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const seen = (text: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`"${text}" not seen; output so far: ${JSON.stringify(out)}`)), RUN_TIMEOUT_MS);
        const check = (): void => {
          if (!out.includes(text)) return;
          clearTimeout(timer);
          child.stdout.off('data', check);
          resolve();
        };
        child.stdout.on('data', check);
        check();
      });
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    const closed = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    await seen('Password for erin: ');
    child.stdin.write('terminal secret 1\x7f2\r');
    await seen('Again: ');
    child.stdin.write('terminal secret 2\r');
    await seen('account erin: added');
    child.stdin.end();
    assert.equal(await closed, 0, out);
    assert.ok(!out.includes('terminal secret'), `echo is off: ${JSON.stringify(out)}`);
    await withAccounts(async (accounts) => {
      assert.equal(ok(await accounts.login('erin', 'terminal secret 2', '192.0.2.4')), true, 'Backspace removed the 1');
    });
  });
});
