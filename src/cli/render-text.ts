/**
 * NAME
 *   cli/render-text - a check result as a readable trace, for a terminal or a support ticket
 *
 * DESCRIPTION
 *   renderCheck() writes the steps in order (address, PTR query, names, forward look-ups), the
 *   answers with their TTLs and servers, the verdict, and what to fix, written out for this
 *   address. renderLine() is the one-line form used for `--file`. Every string that came from
 *   DNS goes through printable(): a PTR name cannot put an escape sequence on the operator's
 *   terminal. Colour only when asked (the caller decides: a TTY and no NO_COLOR).
 */
import type { DnsExchange, DnsRecord } from '../dns/types.js';
import type { CheckResult, TraceStep, Verdict } from '../check/types.js';
import { printable } from '../util/printable.js';

export interface RenderOptions {
  readonly colour: boolean;
}

const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', dim: '\x1b[2m' };

const VERDICT_COLOUR: Record<Verdict, keyof typeof ANSI> = {
  pass: 'green',
  skipped: 'green',
  fail: 'red',
  permerror: 'red',
  temperror: 'yellow',
};

/** Plain words for DNS outcomes, as the public test tool shows them. */
const OUTCOME_WORDS: Record<string, string> = {
  answer: 'answer',
  nxdomain: 'NXDOMAIN: the name does not exist',
  nodata: 'NODATA: the name exists but has no record of this type',
  temp: 'no usable answer (temporary)',
};

const TEMP_WORDS: Record<string, string> = {
  servfail: 'SERVFAIL: the zone\'s DNS servers are broken or unreachable',
  refused: 'REFUSED: the DNS server refused to answer',
  formerr: 'FORMERR: the DNS server could not parse the question',
  notimp: 'NOTIMP: the DNS server does not support the question',
  'other-rcode': 'an unexpected DNS error code',
  timeout: 'no reply before the timeout',
  network: 'network error talking to the DNS server',
  referral: 'the upstream answered with a referral instead of resolving the name',
  'no-recursion': 'the upstream does not offer recursion and is not authoritative',
  aborted: 'stopped: the check ran out of time',
};

export function renderCheck(result: CheckResult, options: RenderOptions): string {
  const c = colourer(options.colour);
  const out: string[] = [];
  const p = (s: string): string => printable(s);
  out.push(c('bold', `FCrDNS check of ${result.ip}`) + (result.input !== result.ip ? c('dim', ` (input: ${p(result.input)})`) : ''));
  for (const step of result.trace) out.push(...renderStep(step, result, c));
  out.push('');
  out.push(`${c('bold', 'Verdict:')} ${c(VERDICT_COLOUR[result.verdict], result.verdict.toUpperCase())} (${result.reason})`);
  const flags = renderFlags(result);
  if (flags !== '') out.push(`${c('bold', 'Flags:')}   ${flags}`);
  for (const line of result.genericEvidence.evidence) out.push(`         ${c('dim', p(line))}`);
  const fix = whatToFix(result);
  if (fix.length > 0) {
    out.push(c('bold', 'What to fix:'));
    for (const line of fix) out.push(`  ${line}`);
  }
  out.push(c('dim', `Checked in ${result.durationMs} ms${result.fromCache ? ' (from cache)' : ''}; verdict valid for ${result.ttl} s.`));
  return out.join('\n') + '\n';
}

/** One line per address, for `--file` audits. */
export function renderLine(result: CheckResult, options: RenderOptions): string {
  const c = colourer(options.colour);
  const names = result.names.length > 0 ? ` ${result.names.slice(0, 3).map((n) => printable(n, 80)).join(',')}` : '';
  const more = result.names.length > 3 ? ` (+${result.names.length - 3})` : '';
  return `${result.ip.padEnd(16)} ${c(VERDICT_COLOUR[result.verdict], result.verdict.padEnd(9))} ${result.reason}${names}${more}\n`;
}

type Colourer = (colour: keyof typeof ANSI, text: string) => string;

function colourer(enabled: boolean): Colourer {
  return enabled ? (colour, text) => `${ANSI[colour]}${text}${ANSI.reset}` : (_colour, text) => text;
}

function renderStep(step: TraceStep, result: CheckResult, c: Colourer): string[] {
  switch (step.step) {
    case 'normalise':
      return step.note ? [`  Address   ${step.ip} — ${printable(step.note)}`] : [`  Address   ${step.ip} (IPv${result.family})`];
    case 'bypass':
      return [`  Bypass    ${step.range}: not checked (a bypass range)`];
    case 'cache':
      return [c('dim', `  Cache     verdict from ${new Date(step.checkedAt).toISOString()}, kept until ${new Date(step.expiresAt).toISOString()}`)];
    case 'ptr': {
      const lines = [`  1. PTR    ${step.qname}: ${outcomeWords(step.outcome, step.tempReason)}`];
      lines.push(...renderChain(step.cnameChain, c));
      for (const r of step.records) lines.push(`             → ${printable(r.data)}  ${c('dim', `TTL ${r.ttl}`)}`);
      lines.push(...renderExchanges(step.exchanges, c));
      return lines;
    }
    case 'names': {
      const lines = [`  2. Names  ${step.valid.length} valid${step.invalid.length > 0 ? `, ${step.invalid.length} not usable` : ''}`];
      for (const bad of step.invalid) lines.push(`             ✗ "${printable(bad.name, 80)}": ${bad.why}`);
      if (step.notEvaluated.length > 0) {
        lines.push(`             ${step.notEvaluated.length} more not evaluated (cap): ${step.notEvaluated.slice(0, 5).map((n) => printable(n, 80)).join(', ')}`);
      }
      return lines;
    }
    case 'forward': {
      const mark =
        step.outcome === 'match' ? c('green', '✓ match') : step.outcome === 'temp' ? c('yellow', '? temporary failure') : step.outcome === 'not-run' ? c('dim', '(not needed)') : c('red', '✗ no match');
      const detail = step.outcome === 'not-run' ? '' : step.addresses.length > 0 ? step.addresses.join(', ') : outcomeWords(step.exchanges.length > 0 ? lastOutcome(step) : 'temp', step.tempReason);
      const lines = [`  3. ${step.qtype.padEnd(5)}  ${printable(step.name)}: ${detail}  ${mark}`];
      lines.push(...renderChain(step.cnameChain, c));
      lines.push(...renderExchanges(step.exchanges, c));
      return lines;
    }
    case 'other-family':
      return [`     ${step.qtype.padEnd(5)}  ${printable(step.name)}: ${step.addresses.length > 0 ? step.addresses.join(', ') : 'none'} ${c('dim', '(other family, for information)')}`];
    case 'verdict':
      return [];
  }
}

function lastOutcome(step: Extract<TraceStep, { step: 'forward' }>): string {
  if (step.outcome === 'temp') return 'temp';
  const rcode = step.exchanges.at(-1)?.rcode;
  return rcode === 'NXDOMAIN' ? 'nxdomain' : 'nodata';
}

function outcomeWords(outcome: string, tempReason: string | undefined): string {
  if (outcome === 'temp' && tempReason !== undefined) return TEMP_WORDS[tempReason] ?? tempReason;
  return OUTCOME_WORDS[outcome] ?? outcome;
}

function renderChain(chain: readonly DnsRecord[], c: Colourer): string[] {
  return chain.map((r) => `             ${printable(r.name)} is an alias (CNAME) of ${printable(r.data)}  ${c('dim', `TTL ${r.ttl}`)}`);
}

function renderExchanges(exchanges: readonly DnsExchange[], c: Colourer): string[] {
  return exchanges.map((e) => {
    const what = e.error !== undefined ? `${e.error}${e.errorDetail ? ` (${printable(e.errorDetail, 80)})` : ''}` : (e.rcode ?? '?');
    const flags = e.flags ? Object.entries(e.flags).filter(([, on]) => on).map(([f]) => f).join(' ') : '';
    return c('dim', `             ${e.transport} ${e.server} ${e.qtype} ${printable(e.qname, 120)}: ${what}${flags ? ` [${flags}]` : ''} ${e.durationMs} ms`);
  });
}

function renderFlags(result: CheckResult): string {
  const on: string[] = [];
  if (result.flags.generic !== 'none') on.push(`generic name (${result.flags.generic})`);
  if (result.flags.truncated) on.push(`more than ${result.names.length - result.notEvaluated.length} PTR names, the rest not evaluated`);
  if (result.flags.ptrViaCname) on.push('PTR via CNAME (RFC 2317)');
  if (result.flags.aliasTarget) on.push('forward answer via CNAME');
  if (result.flags.underscore) on.push('underscore in a name');
  if (result.flags.multiDomain) on.push('names in several domains');
  return on.join('; ');
}

/** The records to publish and who publishes them, written out for this address. */
export function whatToFix(result: CheckResult): string[] {
  const ip = result.ip;
  const rr = result.family === 4 ? 'A' : 'AAAA';
  const ptrName = result.ptrName ?? '';
  const example = result.names[0] !== undefined ? printable(result.names[0]) : 'mail.example.com';
  switch (result.reason) {
    case 'confirmed':
    case 'bypass':
      return [];
    case 'no-ptr':
      return [
        `This address has no reverse DNS. Whoever holds the address block (your ISP or hosting provider) must publish:`,
        `  ${ptrName}. PTR ${example}.`,
        `and the domain's owner must publish the matching forward record:`,
        `  ${example}. ${rr} ${ip}`,
      ];
    case 'no-valid-ptr':
      return [
        `The PTR record(s) of ${ip} do not name a usable host (see "not usable" above).`,
        `Ask the address block's holder to replace them with a full host name, e.g.:`,
        `  ${ptrName}. PTR ${example}.`,
        `  ${example}. ${rr} ${ip}`,
      ];
    case 'no-forward-match': {
      const lines = [`The PTR name(s) resolve, but not to ${ip}. Publish a ${rr} record for one of them:`];
      for (const name of result.names.slice(0, 3)) lines.push(`  ${printable(name)}. ${rr} ${ip}`);
      lines.push('or change the PTR record to a name that already has it.');
      return lines;
    }
    case 'forward-nodata': {
      const lines = [`The PTR name(s) have no ${rr} record. Publish one:`];
      for (const name of result.names.slice(0, 3)) lines.push(`  ${printable(name)}. ${rr} ${ip}`);
      const others = result.trace.filter((s): s is Extract<TraceStep, { step: 'other-family' }> => s.step === 'other-family' && s.addresses.length > 0);
      for (const o of others) lines.push(`(${printable(o.name)} has only ${o.qtype} records: ${o.addresses.join(', ')}; the check uses the client's own family.)`);
      return lines;
    }
    case 'dns-temp-ptr':
      return [
        'The reverse DNS look-up could not be completed. This is temporary and never a rejection:',
        'try again later. If it persists, the reverse zone\'s name servers are broken or unreachable.',
      ];
    case 'dns-temp-forward':
      return ['A forward look-up could not be completed. This is temporary: try again later.'];
    case 'deadline':
      return ['The check ran out of time (slow DNS). This is temporary: try again later.'];
    case 'overload':
      return ['Too many checks were waiting to run. This is temporary: try again later.'];
  }
}
