import assert from 'node:assert/strict';
import { test } from 'node:test';
import { changeCounts, diffSides, diffTexts, elide, normalizeDiff, parseUnified, Part, tokenize } from '../src/diff';

const join = (parts: Part[], op: Part['op']) => parts.filter((p) => p.op === op).map((p) => p.text).join('|');

test('tokens: words, spaces, punctuation; CJK by character', () => {
  assert.deepEqual(tokenize('req_7Hq2 at 2026-11-20'), ['req_7Hq2', ' ', 'at', ' ', '2026', '-', '11', '-', '20']);
  assert.deepEqual(tokenize('写一个笔记'), ['写', '一', '个', '笔', '记']);
});

test('a word diff shows exactly the text that differs', () => {
  const parts = diffTexts('{"content": "Today is <DATE>, id req_AAAA"}', '{"content": "Today is <DATE>, id req_BBBB"}');
  assert.equal(join(parts, 'delete'), 'req_AAAA');
  assert.equal(join(parts, 'insert'), 'req_BBBB');
  assert.equal(parts.map((p) => (p.op === 'insert' ? '' : p.text)).join(''), '{"content": "Today is <DATE>, id req_AAAA"}');
  assert.equal(parts.map((p) => (p.op === 'delete' ? '' : p.text)).join(''), '{"content": "Today is <DATE>, id req_BBBB"}');
});

test('CJK text differs by character', () => {
  const parts = diffTexts('写一个笔记', '写两个笔记');
  assert.equal(join(parts, 'delete'), '一');
  assert.equal(join(parts, 'insert'), '两');
});

test('identical texts give one equal part', () => {
  assert.deepEqual(diffTexts('same', 'same'), [{ op: 'equal', text: 'same' }]);
  assert.deepEqual(changeCounts(diffTexts('same', 'same')), { inserted: 0, deleted: 0 });
});

test('a unified diff is parsed and changed lines refined to words', () => {
  const parts = parseUnified('--- recorded\n+++ current\n@@ -1,2 +1,2 @@\n context line\n-port 8080 open\n+port 9090 open\n');
  assert.equal(join(parts, 'delete'), '8080');
  assert.equal(join(parts, 'insert'), '9090');
  assert.ok(parts[0].op === 'equal' && parts[0].text.startsWith('context line'));
});

test('every diff shape the server may send is understood', () => {
  const expect = (parts: Part[] | undefined) => {
    assert.ok(parts);
    assert.equal(join(parts, 'delete'), 'old');
    assert.equal(join(parts, 'insert'), 'new');
  };
  expect(normalizeDiff([[0, 'a '], [-1, 'old'], [1, 'new']]));
  expect(normalizeDiff([{ op: 'equal', text: 'a ' }, { op: 'delete', text: 'old' }, { op: 'insert', text: 'new' }]));
  expect(normalizeDiff([{ type: '-', value: 'old' }, { type: '+', value: 'new' }]));
  expect(normalizeDiff([{ value: 'a ', added: false, removed: false }, { value: 'old', removed: true }, { value: 'new', added: true }]));
  expect(normalizeDiff({ recorded: 'a old', current: 'a new' }));
  expect(normalizeDiff({ ops: [['-', 'old'], ['+', 'new']] }));
  expect(normalizeDiff(['-old', '+new']));
  expect(normalizeDiff('-old\n+new\n'));
  expect(normalizeDiff(undefined, { expected: 'old', actual: 'new' }));
  assert.deepEqual(normalizeDiff('plain text, not a diff'), [{ op: 'equal', text: 'plain text, not a diff' }]);
  assert.equal(normalizeDiff([{ weird: true }]), undefined);
  assert.equal(normalizeDiff(42), undefined);
});

test('long unchanged runs are elided around the changes', () => {
  const long = 'x'.repeat(1000);
  const segments = elide([{ op: 'equal', text: long }, { op: 'delete', text: 'a' }, { op: 'insert', text: 'b' }, { op: 'equal', text: long }], 50);
  assert.equal(segments[0].elided, 950);
  assert.equal(segments[1].text.length, 50);
  assert.equal(segments.at(-1)?.elided, 950);
  assert.equal(segments.at(-2)?.text.length, 50);
  assert.deepEqual(elide([{ op: 'equal', text: 'short' }]), [{ op: 'equal', text: 'short' }]);
});

test('large inputs with a small change stay fast', () => {
  const a = Array.from({ length: 20000 }, (_, i) => `w${i}`).join(' ');
  const b = a.replace('w10000', 'changed');
  const started = Date.now();
  const parts = diffTexts(a, b);
  assert.ok(Date.now() - started < 2000);
  assert.equal(join(parts, 'delete'), 'w10000');
  assert.equal(join(parts, 'insert'), 'changed');
});

test('the two sides of a diff, for the diff editor: whole texts, gaps between hunks marked', () => {
  const unified = '--- turn 0 as keyed\n+++ step 0 (current rules)\n@@ -1,4 +1,2 @@\n [human]\n-  --- BEGIN USER INPUT ---\n   Create note.txt\n-  --- END USER INPUT ---';
  assert.deepEqual(diffSides(unified), {
    left: '[human]\n  --- BEGIN USER INPUT ---\n  Create note.txt\n  --- END USER INPUT ---\n',
    right: '[human]\n  Create note.txt\n',
  });
  const gapped = '--- a\n+++ b\n@@ -3,2 +3,2 @@\n same\n-old\n+new\n@@ -10 +10 @@\n-x\n+y';
  assert.deepEqual(diffSides(gapped), {
    left: '⋯ 2 unchanged lines not in the report ⋯\nsame\nold\n⋯ 5 unchanged lines not in the report ⋯\nx\n',
    right: '⋯ 2 unchanged lines not in the report ⋯\nsame\nnew\n⋯ 5 unchanged lines not in the report ⋯\ny\n',
  });
  // diff-match-patch operations
  assert.deepEqual(diffSides([[0, 'Title: '], [-1, 'A'], [1, 'B'], [0, '!']]), { left: 'Title: A!', right: 'Title: B!' });
  assert.equal(diffSides(42), undefined);
});
