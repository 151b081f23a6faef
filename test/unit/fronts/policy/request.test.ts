/**
 * fronts/policy/request and render as tables: protocol_state → stage, attributes → what to do,
 * decisions → the action line.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addressProblem, classify, stageOf } from '../../../../src/fronts/policy/request.js';
import { actionFor, renderAction, temporaryFailure } from '../../../../src/fronts/policy/render.js';

describe('policy request', () => {
  const stages: readonly [string | undefined, string | undefined][] = [
    ['CONNECT', 'connect'],
    ['EHLO', 'helo'],
    ['HELO', 'helo'],
    ['MAIL', 'mail'],
    ['RCPT', 'rcpt'],
    ['rcpt', 'rcpt'],
    ['DATA', 'data'],
    ['BDAT', 'data'],
    ['END-OF-MESSAGE', 'data'],
    ['VRFY', undefined],
    ['ETRN', undefined],
    ['constructor', undefined],
    ['__proto__', undefined],
    [undefined, undefined],
  ];
  for (const [state, stage] of stages) {
    test(`protocol_state ${String(state)} → stage ${String(stage)}`, () => assert.equal(stageOf(state), stage));
  }

  test('classify: only smtpd_access_policy is decided; empty values are left out', () => {
    assert.deepEqual(classify({ request: 'x', client_address: '192.0.2.1' }), { kind: 'unknown-request', request: 'x' });
    assert.deepEqual(classify({ client_address: '192.0.2.1' }), { kind: 'unknown-request', request: undefined });
    assert.deepEqual(classify({ request: 'smtpd_access_policy' }), { kind: 'bad-client', address: undefined, problem: 'no client_address' });
    assert.deepEqual(classify({ request: 'smtpd_access_policy', client_address: '' }), { kind: 'bad-client', address: '', problem: 'no client_address' });
    assert.deepEqual(
      classify({ request: 'smtpd_access_policy', client_address: '192.0.2.1', protocol_state: 'RCPT', helo_name: 'h', sender: '', recipient: 'postmaster@x' }),
      { kind: 'decide', fields: { ip: '192.0.2.1', helo: 'h', recipient: 'postmaster@x', stage: 'rcpt' } },
    );
  });

  test('addressProblem: undefined for addresses, a reason for anything else', () => {
    assert.equal(addressProblem('192.0.2.1'), undefined);
    assert.equal(addressProblem('2001:db8::1'), undefined);
    assert.equal(addressProblem('::ffff:192.0.2.1'), undefined);
    for (const bad of ['unknown', '192.0.2.1:25', '[2001:db8::1]', '192.0.2.256', 'mail.example.com']) assert.ok(addressProblem(bad) !== undefined, bad);
  });
});

describe('policy render', () => {
  const base = { ip: '192.0.2.20', source: 'check', verdict: 'fail', reason: 'no-ptr' } as const;
  test('accept and tag are DUNNO, also when report-only would have refused', () => {
    assert.equal(actionFor({ ...base, action: 'accept' }), 'DUNNO');
    assert.equal(actionFor({ ...base, action: 'accept', wouldReject: true }), 'DUNNO');
    assert.equal(actionFor({ ...base, action: 'tag' }), 'DUNNO');
  });

  test('a refusal is its reply on one line; a refusal without a reply has no action', () => {
    const reply = { code: 450, enhanced: '4.7.25', lines: ['[192.0.2.20] Rejected by X mail gateway:', 'no PTR. Details: http://p/ip/192.0.2.20?r=ABC'] } as const;
    assert.equal(actionFor({ ...base, action: 'reject', reply }), '450 4.7.25 [192.0.2.20] Rejected by X mail gateway: no PTR. Details: http://p/ip/192.0.2.20?r=ABC');
    assert.equal(actionFor({ ...base, action: 'reject' }), undefined);
  });

  test('renderAction: one line and an empty line, never a CR or LF inside', () => {
    assert.equal(renderAction('DUNNO'), 'action=DUNNO\n\n');
    assert.equal(renderAction('450 a\r\nOK\n'), 'action=450 a??OK?\n\n');
    assert.match(temporaryFailure('Example'), /^451 4\.3\.0 Temporary failure of the Example mail gateway/);
  });
});
