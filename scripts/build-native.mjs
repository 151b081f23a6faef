#!/usr/bin/env node
/**
 * NAME
 *   scripts/build-native - build the optional native UDP path of the DNSBL front (npm "install")
 *
 * SYNOPSIS
 *   node scripts/build-native.mjs            (npm ci / npm install run it)
 *   BLOCKSMITH_SKIP_NATIVE=1 npm ci          skip it
 *
 * DESCRIPTION
 *   Runs node-gyp for native/udp-batch (recvmmsg/sendmmsg, Linux only), giving
 *   native/udp-batch/build/Release/udp_batch.node. Prints one line. It NEVER fails the install:
 *   with no compiler, no headers or another platform it prints a warning and exits 0, and the
 *   DNSBL front serves UDP through Node's dgram (dnsbl.udpEngine "auto").
 *
 *   node-gyp is npm's own (npm passes its path as npm_config_node_gyp to install scripts; else
 *   the copy next to npm). Headers: npm's nodedir setting when npm runs this; run by hand, the
 *   headers installed with Node (<prefix>/include/node) when present. Nothing is downloaded by
 *   this script itself; node-gyp would only fetch headers when neither is there (and, offline,
 *   fail: a warning).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'native', 'udp-batch');
const built = join(dir, 'build', 'Release', 'udp_batch.node');
const TIMEOUT_MS = 300_000;

function say(line) {
  process.stdout.write(`blocksmith native udp-batch: ${line}\n`);
}

function nodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const prefix = dirname(dirname(process.execPath));
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((c) => existsSync(c));
}

function main() {
  if (process.env.BLOCKSMITH_SKIP_NATIVE === '1') return say('skipped (BLOCKSMITH_SKIP_NATIVE=1); the DNSBL front uses node:dgram');
  if (process.platform !== 'linux') return say(`skipped on ${process.platform} (Linux only); the DNSBL front uses node:dgram`);
  if (!existsSync(join(dir, 'binding.gyp'))) return say('skipped (native/udp-batch is not in this package); the DNSBL front uses node:dgram');
  const gyp = nodeGyp();
  if (gyp === undefined) return say('WARNING: node-gyp not found next to npm; not built, the DNSBL front uses node:dgram');
  const args = [gyp, 'rebuild', '--release'];
  const prefix = dirname(dirname(process.execPath));
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  const run = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', timeout: TIMEOUT_MS, env: process.env });
  if (run.status === 0 && existsSync(built)) return say(`built ${built.slice(root.length + 1)}`);
  const why = run.error?.message ?? `${run.stderr ?? ''}\n${run.stdout ?? ''}`.split('\n').map((l) => l.trim()).filter((l) => /error|not found|ENOENT/i.test(l)).slice(0, 3).join(' | ');
  say(`WARNING: not built (${why || `node-gyp exit ${run.status}`}); the DNSBL front uses node:dgram`);
}

try {
  main();
} catch (err) {
  say(`WARNING: not built (${err instanceof Error ? err.message : String(err)}); the DNSBL front uses node:dgram`);
}
process.exitCode = 0;
