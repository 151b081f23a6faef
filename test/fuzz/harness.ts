/**
 * NAME
 *   test/fuzz/harness - what every fuzz target shares: its shape, the runner, byte mutations
 *
 * SYNOPSIS
 *   const target: FuzzTarget<T> = { name, parser, arbitrary, check }
 *   await runTarget(target, { runs, seed, slowMs }): Promise<FuzzResult>
 *   mutated(seeds): fc.Arbitrary<Buffer>        a valid input with libFuzzer-style byte edits
 *   bytes(maxLength): fc.Arbitrary<Buffer>      random bytes
 *
 * DESCRIPTION
 *   Property-based fuzzing with fast-check (docs/FUZZING.md says why not a coverage-guided
 *   fuzzer). A target is an input generator and a check that throws when the parser breaks its
 *   contract: it threw something other than its documented error, it produced output outside
 *   its invariants, or it took longer than `slowMs` for one input (a hang shows up as the
 *   per-target timeout of scripts/fuzz.mjs). Inputs are bounded in size by the generators.
 *
 *   runTarget() runs a target for a number of inputs from a seed (the same seed gives the same
 *   inputs: a finding replays with `npm run fuzz -- --target NAME --seed S`), and on a failure
 *   gives fast-check's shrunk counterexample. It never throws: the result says what happened.
 */
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';

export interface FuzzTarget<T> {
  /** Short name, the file name in test/fuzz/targets. */
  readonly name: string;
  /** The parser under test (a module and function), for the report. */
  readonly parser: string;
  readonly arbitrary: fc.Arbitrary<T>;
  /** Throws when the contract is broken; a Promise for parsers that answer asynchronously. */
  readonly check: (input: T) => void | Promise<void>;
  /** The check returns a Promise (run as an async property: slower). */
  readonly async?: boolean;
}

export interface RunOptions {
  readonly runs: number;
  readonly seed: number;
  /** One input taking longer than this is a finding. */
  readonly slowMs: number;
  /** Stop after this long (not a finding); the result says how many inputs ran. */
  readonly timeLimitMs?: number;
}

export interface FuzzResult {
  readonly name: string;
  readonly parser: string;
  readonly runs: number;
  readonly seed: number;
  readonly ms: number;
  readonly slowestMs: number;
  /** Stopped by timeLimitMs before `runs` inputs. */
  readonly interrupted: boolean;
  /** undefined: no finding. */
  readonly finding?: { readonly error: string; readonly counterexample: string; readonly path: string };
}

export async function runTarget<T>(target: FuzzTarget<T>, options: RunOptions): Promise<FuzzResult> {
  let slowestMs = 0;
  const timed = (dt: number): void => {
    if (dt > slowestMs) slowestMs = dt;
    if (dt > options.slowMs) throw new Error(`one input took ${dt.toFixed(1)} ms (limit ${options.slowMs} ms)`);
  };
  const sync = fc.property(target.arbitrary, (input) => {
    const t0 = performance.now();
    const out = target.check(input);
    if (out instanceof Promise) throw new Error(`${target.name}: check returned a Promise; mark the target async`);
    timed(performance.now() - t0);
  });
  const async = fc.asyncProperty(target.arbitrary, async (input) => {
    const t0 = performance.now();
    await target.check(input);
    timed(performance.now() - t0);
  });
  const isAsync = target.async === true;
  const t0 = performance.now();
  const params = {
    numRuns: options.runs,
    seed: options.seed,
    endOnFailure: false,
    ...(options.timeLimitMs === undefined ? {} : { interruptAfterTimeLimit: options.timeLimitMs, markInterruptAsFailure: false }),
  };
  const details = isAsync ? await fc.check(async, params) : fc.check(sync, params);
  const ms = performance.now() - t0;
  const base = { name: target.name, parser: target.parser, runs: details.numRuns, seed: options.seed, ms, slowestMs, interrupted: details.interrupted };
  if (!details.failed) return base;
  const error = details.errorInstance instanceof Error ? (details.errorInstance.stack ?? details.errorInstance.message) : String(details.errorInstance);
  return { ...base, finding: { error, counterexample: fc.stringify(details.counterexample), path: details.counterexamplePath ?? '' } };
}

// ---------------------------------------------------------------- generators

/** bytes - random octets, up to maxLength. */
export function bytes(maxLength: number): fc.Arbitrary<Buffer> {
  return fc.uint8Array({ maxLength }).map((a) => Buffer.from(a.buffer, a.byteOffset, a.length));
}

/** Bytes that break parsers more often than random ones. */
const INTERESTING = [0x00, 0x0a, 0x0d, 0x20, 0x2e, 0x3a, 0x3d, 0x3f, 0x7f, 0x80, 0xc0, 0xff];

const edit = fc.record({
  op: fc.integer({ min: 0, max: 7 }),
  at: fc.nat(),
  value: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...INTERESTING)),
  length: fc.integer({ min: 1, max: 32 }),
});

type Edit = { op: number; at: number; value: number; length: number };

/**
 * One libFuzzer-style edit: flip a bit, set a byte, insert bytes, delete a run, duplicate a run,
 * truncate, swap two bytes, or set a 16-bit field to an edge value (lengths, counts, pointers).
 */
function applyEdit(input: Buffer, e: Edit): Buffer {
  const n = input.length;
  const at = n === 0 ? 0 : e.at % n;
  switch (e.op) {
    case 0: {
      if (n === 0) return input;
      const out = Buffer.from(input);
      out[at] = (out[at] ?? 0) ^ (1 << (e.value & 7));
      return out;
    }
    case 1: {
      if (n === 0) return Buffer.from([e.value]);
      const out = Buffer.from(input);
      out[at] = e.value;
      return out;
    }
    case 2:
      return Buffer.concat([input.subarray(0, at), Buffer.alloc(e.length, e.value), input.subarray(at)]);
    case 3:
      return Buffer.concat([input.subarray(0, at), input.subarray(at + e.length)]);
    case 4:
      return Buffer.concat([input.subarray(0, at), input.subarray(at, at + e.length), input.subarray(at)]);
    case 5:
      return input.subarray(0, at);
    case 6: {
      if (n < 2) return input;
      const out = Buffer.from(input);
      const other = (at + e.length) % n;
      const a = out[at] ?? 0;
      out[at] = out[other] ?? 0;
      out[other] = a;
      return out;
    }
    default: {
      if (n < 2) return input;
      const out = Buffer.from(input);
      const edges = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0xc000 | (e.value % n), 0xffff, e.value];
      out.writeUInt16BE(edges[e.length % edges.length] ?? 0, Math.min(at, n - 2));
      return out;
    }
  }
}

/** mutated - one of `seeds` with up to `maxEdits` byte edits (zero edits: the seed as is). */
export function mutated(seeds: readonly Buffer[], maxEdits = 6): fc.Arbitrary<Buffer> {
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(edit, { maxLength: maxEdits }))
    .map(([seed, edits]) => edits.reduce(applyEdit, seed));
}

/** splitPoints - cut points to deliver a buffer in chunks (as a socket may). */
export const splitPoints = fc.array(fc.nat(), { maxLength: 6 });

/** chunks - `input` cut at the given points (each taken modulo the length). */
export function chunks(input: Buffer, points: readonly number[]): Buffer[] {
  if (input.length === 0) return [];
  const cuts = [...new Set(points.map((p) => p % input.length))].filter((p) => p > 0).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    out.push(input.subarray(from, cut));
    from = cut;
  }
  out.push(input.subarray(from));
  return out;
}

/** Printable ASCII only (reply lines, log-safe text). */
export function isPrintableAscii(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text);
}
