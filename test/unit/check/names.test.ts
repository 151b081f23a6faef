// Rulings for check/names.ts (FCRDNS.md steps 5-6): which PTR names are usable, why the others
// are not, de-duplication, sorting, the cap, and the flags.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { InvalidNameWhy } from '../../../src/check/types.js';
import {
  REPORTED_INVALID_NAMES_MAX,
  REPORTED_NAME_MAX_CHARS,
  cleanPtrNames,
  registrableDomain,
} from '../../../src/check/names.js';

const CAP = 10;

void describe('cleanPtrNames: one name at a time', () => {
  const CASES: { label: string; raw: string; keep?: string; why?: InvalidNameWhy }[] = [
    // Kept (the cleaned form is expected).
    { label: 'plain name', raw: 'mail.example.com', keep: 'mail.example.com' },
    { label: 'trailing dot stripped', raw: 'mail.example.com.', keep: 'mail.example.com' },
    { label: 'upper case folded', raw: 'MAIL.Example.COM', keep: 'mail.example.com' },
    { label: 'underscore kept', raw: 'mail_1.example.com', keep: 'mail_1.example.com' },
    { label: 'digits inside labels', raw: '198-51-100-7.example.net', keep: '198-51-100-7.example.net' },
    { label: 'label of exactly 63', raw: `${'a'.repeat(63)}.example.com`, keep: `${'a'.repeat(63)}.example.com` },
    { label: 'localhost inside a label is fine', raw: 'notlocalhost.example.com', keep: 'notlocalhost.example.com' },
    { label: 'arpa inside a label is fine', raw: 'arpa.example.com', keep: 'arpa.example.com' },
    // Dropped.
    { label: 'empty', raw: '', why: 'empty' },
    { label: 'root', raw: '.', why: 'empty' },
    { label: 'IPv4 literal', raw: '192.0.2.1', why: 'ip-literal' },
    { label: 'IPv4 literal with a trailing dot', raw: '192.0.2.1.', why: 'ip-literal' },
    { label: 'IPv6 literal', raw: '2001:db8::1', why: 'ip-literal' },
    { label: 'all numeric', raw: '123.456', why: 'numeric' },
    { label: 'padded dotted quad', raw: '192.000.002.001', why: 'numeric' },
    { label: 'numeric top-level label', raw: 'host.example.123', why: 'numeric' },
    { label: 'presentation escape (backslash)', raw: 'mail\\032x.example.com', why: 'bad-characters' },
    { label: 'escaped dot inside a label', raw: 'a\\.b.example.com', why: 'bad-characters' },
    { label: 'space', raw: 'mail example.com', why: 'bad-characters' },
    { label: 'angle bracket', raw: '<script>.example.com', why: 'bad-characters' },
    { label: 'NUL', raw: 'mail\u0000.example.com', why: 'bad-characters' },
    { label: 'newline', raw: 'mail.example.com\r\nX-Injected: 1', why: 'bad-characters' },
    { label: 'non-ASCII', raw: 'mäil.example.com', why: 'bad-characters' },
    { label: 'Cyrillic look-alike', raw: 'mаil.example.com', why: 'bad-characters' },
    { label: 'Kelvin sign is not folded to k', raw: '\u212Aexample.com', why: 'bad-characters' },
    { label: 'punycode is plain ASCII', raw: 'xn--mil-tla.example.com', keep: 'xn--mil-tla.example.com' },
    { label: 'colon', raw: 'mail:25.example.com', why: 'bad-characters' },
    { label: 'empty label', raw: 'mail..example.com', why: 'bad-syntax' },
    { label: 'leading dot', raw: '.example.com', why: 'bad-syntax' },
    { label: 'two trailing dots', raw: 'example.com..', why: 'bad-syntax' },
    { label: 'label starts with -', raw: '-mail.example.com', why: 'bad-syntax' },
    { label: 'label ends with -', raw: 'mail-.example.com', why: 'bad-syntax' },
    { label: 'label of 64', raw: `${'a'.repeat(64)}.example.com`, why: 'too-long' },
    { label: 'name of 254', raw: `${'a.'.repeat(126)}co`, why: 'too-long' },
    { label: 'localhost', raw: 'localhost', why: 'localhost' },
    { label: 'localhost.', raw: 'localhost.', why: 'localhost' },
    { label: 'LOCALHOST', raw: 'LOCALHOST', why: 'localhost' },
    { label: 'localhost.localdomain', raw: 'localhost.localdomain', why: 'localhost' },
    { label: 'under .localhost', raw: 'mail.localhost', why: 'localhost' },
    { label: 'single label', raw: 'mailserver', why: 'single-label' },
    { label: 'reverse name', raw: '1.2.0.192.in-addr.arpa', why: 'arpa' },
    { label: 'ip6.arpa', raw: 'b.a.ip6.arpa.', why: 'arpa' },
  ];
  for (const c of CASES) {
    void test(c.label, () => {
      const got = cleanPtrNames([c.raw], CAP);
      if (c.keep !== undefined) {
        assert.deepEqual(got.valid, [c.keep]);
        assert.deepEqual(got.invalid, []);
      } else {
        assert.deepEqual(got.valid, []);
        assert.ok(c.why, 'a case names either keep or why');
        const reported = c.raw.length > REPORTED_NAME_MAX_CHARS ? `${c.raw.slice(0, REPORTED_NAME_MAX_CHARS)}…` : c.raw;
        assert.deepEqual(got.invalid, [{ name: reported, why: c.why }]);
      }
    });
  }

  void test('a name of exactly 253 characters is kept', () => {
    const name = `${'a.'.repeat(125)}com`;
    assert.equal(name.length, 253);
    assert.deepEqual(cleanPtrNames([name], CAP).valid, [name]);
  });
});

void describe('cleanPtrNames: sets', () => {
  void test('duplicates after cleaning count once', () => {
    const got = cleanPtrNames(['Mail.Example.com.', 'mail.example.com', 'MAIL.EXAMPLE.COM'], CAP);
    assert.deepEqual(got.valid, ['mail.example.com']);
  });

  void test('duplicate invalid names are reported once', () => {
    const got = cleanPtrNames(['bad name.example', 'bad name.example', 'BAD NAME.example'], CAP);
    assert.equal(got.invalid.length, 1);
  });

  void test('valid names are sorted whatever the RRset order', () => {
    const got = cleanPtrNames(['c.example.com', 'a.example.com', 'b.example.com'], CAP);
    assert.deepEqual(got.valid, ['a.example.com', 'b.example.com', 'c.example.com']);
    assert.deepEqual(got.evaluated, got.valid);
    assert.deepEqual(got.notEvaluated, []);
  });

  void test('the cap: first maxNames sorted names evaluated, the rest listed', () => {
    const raw = Array.from({ length: 12 }, (_, i) => `h${String(i).padStart(2, '0')}.example.com`).reverse();
    const got = cleanPtrNames(raw, CAP);
    assert.equal(got.valid.length, 12);
    assert.equal(got.evaluated.length, CAP);
    assert.deepEqual(got.evaluated[0], 'h00.example.com');
    assert.deepEqual(got.notEvaluated, ['h10.example.com', 'h11.example.com']);
  });

  void test('maxNames 1', () => {
    const got = cleanPtrNames(['b.example.com', 'a.example.com'], 1);
    assert.deepEqual(got.evaluated, ['a.example.com']);
    assert.deepEqual(got.notEvaluated, ['b.example.com']);
  });

  void test('exactly maxNames names: nothing left out', () => {
    const raw = Array.from({ length: CAP }, (_, i) => `h${i}.example.com`);
    assert.deepEqual(cleanPtrNames(raw, CAP).notEvaluated, []);
  });

  void test('a mix: valid and invalid split, order of invalid kept', () => {
    const got = cleanPtrNames(['mail.example.com', 'localhost', '192.0.2.1', 'mx.example.com'], CAP);
    assert.deepEqual(got.valid, ['mail.example.com', 'mx.example.com']);
    assert.deepEqual(
      got.invalid.map((i) => i.why),
      ['localhost', 'ip-literal'],
    );
  });

  void test('nothing at all', () => {
    const got = cleanPtrNames([], CAP);
    assert.deepEqual(got, {
      valid: [],
      invalid: [],
      invalidNotReported: 0,
      evaluated: [],
      notEvaluated: [],
      underscore: false,
      multiDomain: false,
    });
  });

  const BAD_CAPS: { label: string; cap: number }[] = [
    { label: 'zero', cap: 0 },
    { label: 'negative', cap: -1 },
    { label: 'fraction', cap: 1.5 },
    { label: 'NaN', cap: Number.NaN },
  ];
  for (const c of BAD_CAPS) {
    void test(`maxNames ${c.label} is refused`, () => {
      assert.throws(() => cleanPtrNames(['a.example.com'], c.cap), { code: 'BS_ERR_CONFIG_INVALID' });
    });
  }
});

void describe('cleanPtrNames: flags', () => {
  const CASES: { label: string; raw: string[]; underscore: boolean; multiDomain: boolean }[] = [
    { label: 'one name', raw: ['mail.example.com'], underscore: false, multiDomain: false },
    { label: 'two names, one domain', raw: ['a.example.com', 'b.mx.example.com'], underscore: false, multiDomain: false },
    { label: 'two domains', raw: ['mail.example.com', 'mail.example.net'], underscore: false, multiDomain: true },
    { label: 'co.uk names of one domain', raw: ['a.example.co.uk', 'b.example.co.uk'], underscore: false, multiDomain: false },
    { label: 'co.uk names of two domains', raw: ['a.example.co.uk', 'a.other.co.uk'], underscore: false, multiDomain: true },
    { label: 'underscore', raw: ['mail_1.example.com'], underscore: true, multiDomain: false },
    { label: 'invalid names do not raise flags', raw: ['mail.example.com', 'bad name_x.other.org'], underscore: false, multiDomain: false },
  ];
  for (const c of CASES) {
    void test(c.label, () => {
      const got = cleanPtrNames(c.raw, CAP);
      assert.equal(got.underscore, c.underscore);
      assert.equal(got.multiDomain, c.multiDomain);
    });
  }
});

void describe('cleanPtrNames: hostile PTR sets', () => {
  void test('1,000 invalid names: the report is capped, the rest counted', () => {
    const raw = Array.from({ length: 1000 }, (_, i) => `bad name ${i}.example.com`);
    const got = cleanPtrNames(raw, CAP);
    assert.equal(got.invalid.length, REPORTED_INVALID_NAMES_MAX);
    assert.equal(got.invalidNotReported, 1000 - REPORTED_INVALID_NAMES_MAX);
    assert.deepEqual(got.valid, []);
  });

  void test('a huge invalid name is reported as a prefix and an ellipsis', () => {
    const raw = `${'x'.repeat(100_000)} y.example.com`;
    const [reported] = cleanPtrNames([raw], CAP).invalid;
    assert.ok(reported);
    assert.equal(reported.name, `${'x'.repeat(REPORTED_NAME_MAX_CHARS)}…`);
    assert.equal(reported.why, 'bad-characters');
  });

  void test('a cut never splits a surrogate pair', () => {
    const raw = `${'x'.repeat(REPORTED_NAME_MAX_CHARS - 1)}😀${'x'.repeat(10)}`;
    const [reported] = cleanPtrNames([raw], CAP).invalid;
    assert.ok(reported);
    assert.equal(reported.name, `${'x'.repeat(REPORTED_NAME_MAX_CHARS - 1)}…`);
  });

  void test('1,000 valid names: all sorted, 10 evaluated', () => {
    const raw = Array.from({ length: 1000 }, (_, i) => `h${i}.example.com`);
    const got = cleanPtrNames(raw, CAP);
    assert.equal(got.valid.length, 1000);
    assert.equal(got.evaluated.length, CAP);
    assert.equal(got.notEvaluated.length, 1000 - CAP);
  });

  void test('a non-string from an untyped caller is reported, not a crash', () => {
    const got = cleanPtrNames([42 as unknown as string, 'mail.example.com'], CAP);
    assert.deepEqual(got.valid, ['mail.example.com']);
    assert.deepEqual(got.invalid, [{ name: '42', why: 'numeric' }]);
  });
});

void describe('registrableDomain', () => {
  const CASES: { label: string; name: string; want: string }[] = [
    { label: 'two labels', name: 'example.com', want: 'example.com' },
    { label: 'host under a .com', name: 'a.b.example.com', want: 'example.com' },
    { label: 'co.uk', name: 'mail.example.co.uk', want: 'example.co.uk' },
    { label: 'com.au', name: 'mx.example.com.au', want: 'example.com.au' },
    { label: 'ne.jp', name: 'p1.example.ne.jp', want: 'example.ne.jp' },
    { label: 'a ccTLD with an ordinary second level', name: 'p1.dip0.t-ipconnect.de', want: 't-ipconnect.de' },
    { label: 'co.uk alone', name: 'co.uk', want: 'co.uk' },
    { label: '.net is not a country code', name: 'mail.co.net', want: 'co.net' },
  ];
  for (const c of CASES) {
    void test(c.label, () => assert.equal(registrableDomain(c.name), c.want));
  }
});
