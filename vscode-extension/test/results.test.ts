// The words of command results: plural forms, and the server's reasons kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizedInputMissing, rehashMessage } from '../src/results';
import { plural } from '../src/text';

test('plural forms', () => {
  assert.equal(plural(1, 'step'), '1 step');
  assert.equal(plural(0, 'step'), '0 steps');
  assert.equal(plural(2, 'miss', 'misses'), '2 misses');
  assert.equal(plural(1234, 'turn'), '1,234 turns');
});

test('Show Normalized Input keeps the reason the server gives for having no input', () => {
  assert.equal(
    normalizedInputMissing({ text: null, message: 'no recording links to this turn: its input is unknown' }),
    'Replay Lens: no normalized input for this turn: no recording links to this turn: its input is unknown.',
  );
  assert.equal(normalizedInputMissing(undefined), 'Replay Lens: no normalized input for this turn (the server returned none).');
  assert.equal(normalizedInputMissing({ text: null, message: '  ' }), 'Replay Lens: no normalized input for this turn (the server returned none).');
});

test('the rehash message: one turn, several turns, nothing to do with the reason, refused', () => {
  assert.deepEqual(rehashMessage('a.json', { applied: true, turns: [2] }), { severity: 'info', text: 'Replay Lens: rehashed turn 2 of a.json under the current rules.' });
  assert.equal(rehashMessage('a.json', { applied: true, turns: [2, 3] }).text, 'Replay Lens: rehashed 2 turns (2, 3) of a.json under the current rules.');
  assert.equal(
    rehashMessage('a.json', { applied: false, turns: [], message: 'the file has syntax errors' }).text,
    'Replay Lens: no stale turn of a.json can be rehashed from a recording (the file has syntax errors).',
  );
  assert.deepEqual(rehashMessage('a.json', { applied: false, turns: [1] }), {
    severity: 'warning',
    text: 'Replay Lens: the rehash of a.json was not applied (the file changed, or the edit was refused).',
  });
});
