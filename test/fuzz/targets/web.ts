/**
 * Fuzz target: the portal's form and query input (src/web): forms.ts parseFormBody (the
 * urlencoded body parser), the contact and whitelist forms' zod schemas and fieldErrors,
 * fields.ts field() re-rendering what the visitor typed, and the query readers the pages use
 * (respond.ts readIp, config/sections/http.ts isAddressOrRange, firewall isReference,
 * console/session.ts safeNext).
 *
 * Inputs: urlencoded bodies from form fields (the real names, `__proto__`, repeats, percent
 * escapes valid and broken, `+`, non-ASCII, markup and quotes in values), mutated real bodies,
 * random text; query values of the same kinds, arrays for repeated keys.
 *
 * Contract checked:
 *   - nothing throws (a throw in a route is a 500);
 *   - parseFormBody gives an object without a prototype, string values only, each field's first
 *     value, and never touches Object.prototype;
 *   - a schema success respects its bounds; fieldErrors names only the form's fields;
 *   - a field re-rendered with a hostile value adds no markup: as many '<', '>' and '"' as with
 *     an empty value, and the value appears escaped;
 *   - readIp: ok means a normalised address that reads back as itself; safeNext: a local path
 *     under /admin, printable, no '//' or '\', never the login page.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isAddressOrRange } from '../../../src/config/sections/http.js';
import { isReference } from '../../../src/firewall/index.js';
import { safeNext } from '../../../src/web/console/session.js';
import { field } from '../../../src/web/fields.js';
import { fieldErrors, parseFormBody } from '../../../src/web/forms.js';
import { escapeHtml } from '../../../src/web/html.js';
import { contactSchema } from '../../../src/web/pages/contact.js';
import { requestSchema } from '../../../src/web/pages/whitelist.js';
import { readIp } from '../../../src/web/respond.js';
import { mutated, type FuzzTarget } from '../harness.js';

const FIELDS = ['csrf', 'email', 'name', 'subject', 'body', 'ip', 'ref', 'range', 'domain', 'contact', 'why', 'r'];
const CONTACT_FIELDS = new Set(['email', 'name', 'subject', 'body', 'ip', 'ref']);
const WHITELIST_FIELDS = new Set(['range', 'domain', 'contact', 'why', 'r']);

const value = fc.oneof(
  fc.constantFrom('192.0.2.1', '2001:db8::1', '::ffff:192.0.2.1', '192.0.2.0/24', '2001:db8::/129', '1.2.3', 'fe80::1%eth0', '0300.0.0.1', 'ABCDEFGH', 'abcdefgh', 'ILOU1234'),
  fc.constantFrom('a@example.com', 'a@b', '"a b"@example.com', 'x@[127.0.0.1]', 'example.com', 'ex_ample.com.', 'a..b'),
  fc.constantFrom('<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "' onmouseover='x", '&amp;&lt;', '\u0000', '\u202e', ' \t\n', 'x'.repeat(300)),
  fc.constantFrom('/admin', '/admin/', '/admin?x=1', '/admin//evil.example', '/admin/\\evil', '/admin/login', '//evil.example', 'https://evil.example/admin', '/admin/%2F%2Fx', '/admin\u0000'),
  fc.string({ maxLength: 60, unit: 'grapheme' }),
  fc.string({ maxLength: 30, unit: 'binary' }),
);
const key = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...FIELDS) }, { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', '') }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) });
/** How a pair is written: encoded properly, raw, or with broken percent escapes. */
const encoding = fc.constantFrom('encode', 'raw', 'broken');
const pair = fc.tuple(key, value, encoding).map(([k, v, how]) =>
  how === 'encode' ? `${encodeURIComponent(k)}=${encodeURIComponent(v)}` : how === 'raw' ? `${k}=${v}` : `${k}=%${v}%G1%E2%82+%`,
);
const body = fc.array(pair, { maxLength: 12 }).map((pairs) => pairs.join('&'));

const SEEDS = [
  'csrf=abc&email=a%40example.com&name=A+B&subject=Hello&body=Please+unblock&ip=192.0.2.1&ref=ABCDEFGH',
  'csrf=abc&range=192.0.2.0%2F24&domain=example.com&contact=a%40example.com&why=no+access+to+DNS&r=',
].map((s) => Buffer.from(s, 'latin1'));

type Input =
  | { readonly kind: 'body'; readonly text: string }
  | { readonly kind: 'query'; readonly value: string | string[] | undefined };

const arbitrary: fc.Arbitrary<Input> = fc.oneof(
  { weight: 5, arbitrary: body.map((text) => ({ kind: 'body' as const, text })) },
  { weight: 2, arbitrary: mutated(SEEDS).map((b) => ({ kind: 'body' as const, text: b.toString('utf8') })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }).map((text) => ({ kind: 'body' as const, text })) },
  { weight: 3, arbitrary: fc.oneof(value, fc.array(value, { maxLength: 3 }), fc.constant(undefined)).map((v) => ({ kind: 'query' as const, value: v })) },
);

/** The markup characters of a rendered field, counted. */
function markup(text: string): string {
  return [...text].filter((c) => c === '<' || c === '>' || c === '"').join('');
}

function checkField(name: string, v: string, error: string | undefined, multiline: boolean): void {
  const base = { name, label: 'Label', hint: 'Hint', ...(error === undefined ? {} : { error }), multiline, required: true, maxLength: 254 };
  const hostile = field({ ...base, value: v }).toString();
  const empty = field({ ...base, value: '' }).toString();
  assert.equal(markup(hostile), markup(empty), `a value adds no markup: ${JSON.stringify(v)}`);
  assert.ok(hostile.includes(escapeHtml(v)), 'the value comes back escaped');
}

function checkQuery(v: unknown): void {
  const ip = readIp(v);
  if (ip.ok) {
    const again = readIp(ip.ip);
    assert.ok(again.ok && again.ip === ip.ip, `a normalised address reads back as itself: ${ip.ip}`);
  } else assert.equal(typeof ip.why, 'string');
  const next = safeNext(v);
  assert.ok(next === '/admin' || (next.startsWith('/admin') && !next.includes('//') && !next.includes('\\') && /^[\x21-\x7e]+$/.test(next) && !next.startsWith('/admin/login')), `safeNext ${JSON.stringify(next)}`);
  if (typeof v === 'string') {
    isAddressOrRange(v);
    const ref = v.trim().toUpperCase();
    if (isReference(ref)) assert.match(ref, /^[0-9A-Z]{8}$/);
  }
}

export const target: FuzzTarget<Input> = {
  name: 'web',
  parser: 'web forms.ts parseFormBody + contact/whitelist schemas + fields.ts field + readIp/isAddressOrRange/isReference/safeNext',
  arbitrary,
  check(input) {
    if (input.kind === 'query') {
      checkQuery(input.value);
      if (Array.isArray(input.value)) for (const v of input.value) checkQuery(v);
      return;
    }
    const form = parseFormBody(input.text);
    assert.equal(Object.getPrototypeOf(form), null);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const first = new Map<string, string>();
    for (const [k, v] of new URLSearchParams(input.text)) if (!first.has(k)) first.set(k, v);
    assert.equal(Object.keys(form).length, first.size);
    for (const [k, v] of Object.entries(form)) {
      assert.equal(typeof v, 'string');
      assert.equal(first.get(k), v, 'each field keeps its first value');
    }
    const contact = contactSchema.safeParse({ email: form.email ?? '', name: form.name ?? '', subject: form.subject ?? '', body: form.body ?? '', ip: form.ip ?? '', ref: form.ref ?? '' });
    if (contact.success) {
      const d = contact.data;
      assert.ok(d.email.length <= 254 && d.subject.length >= 1 && d.subject.length <= 254 && d.body.length >= 1 && d.body.length <= 4_000);
      assert.ok(d.ip === '' || readIp(d.ip).ok);
      assert.ok(d.ref === '' || isReference(d.ref));
    } else for (const k of Object.keys(fieldErrors(contact.error.issues))) assert.ok(CONTACT_FIELDS.has(k), `contact error on ${k}`);
    const whitelist = requestSchema.safeParse({ range: form.range ?? '', domain: form.domain ?? '', contact: form.contact ?? '', why: form.why ?? '', r: form.r ?? '' });
    if (whitelist.success) {
      const d = whitelist.data;
      assert.ok(isAddressOrRange(d.range) && d.range.length <= 64);
      assert.ok(d.why.length >= 1 && d.why.length <= 4_000);
      assert.ok(d.r === '' || isReference(d.r));
    } else for (const k of Object.keys(fieldErrors(whitelist.error.issues))) assert.ok(WHITELIST_FIELDS.has(k), `whitelist error on ${k}`);
    const errors = contact.success ? {} : fieldErrors(contact.error.issues);
    const shown = input.text.length % 3 === 0 ? 'body' : input.text.length % 3 === 1 ? 'email' : 'subject';
    checkField(shown, form[shown] ?? '', errors[shown], shown === 'body');
    // The query readers on a few of the values (they get their own inputs too): keeps the target fast.
    for (const v of Object.values(form).slice(0, 3)) checkQuery(v);
  },
};
