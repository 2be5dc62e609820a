import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { turnAtCursor, turnAtOffset, turnCount, turnRange } from '../src/turns';

const FIXTURE = `{
  "scenario": "s",
  "turns": [
    {"caller": "lead_agent", "input_hash": "aa"},
    {"caller": "中文 😀", "input_hash": "bb"}
  ]
}
`;

test('the turn under an offset', () => {
  assert.equal(turnCount(FIXTURE), 2);
  assert.equal(turnAtOffset(FIXTURE, FIXTURE.indexOf('lead_agent')), 0);
  assert.equal(turnAtOffset(FIXTURE, FIXTURE.indexOf('bb')), 1);
  assert.equal(turnAtOffset(FIXTURE, FIXTURE.indexOf('scenario')), undefined);
  const r = turnRange(FIXTURE, 1);
  assert.ok(r);
  assert.equal(FIXTURE.slice(r.start, r.end), '{"caller": "中文 😀", "input_hash": "bb"}');
  assert.equal(turnRange(FIXTURE, 5), undefined);
});

test('a fixture that is invalid mid-edit still has its turns', () => {
  const broken = FIXTURE.replace('"input_hash": "bb"}', '"input_hash": "bb"');
  assert.equal(turnAtOffset(broken, broken.indexOf('lead_agent')), 0);
  assert.equal(turnAtOffset('not json', 3), undefined);
  assert.equal(turnAtOffset('[1, 2]', 1), undefined);
});

test('the call under the cursor in a JSONL recording is its non-empty line index', () => {
  const text = '{"a": 1}\n\n{"b": 2}\n{"c": 3}\n';
  assert.equal(turnAtCursor('/r/x.jsonl', text, 0, 0), 0);
  assert.equal(turnAtCursor('/r/x.jsonl', text, 0, 1), undefined);
  assert.equal(turnAtCursor('/r/x.jsonl', text, 0, 3), 2);
  assert.equal(turnAtCursor('/r/x.json', FIXTURE, FIXTURE.indexOf('bb'), 4), 1);
});

test('the sample workspace fixture has its turns found', () => {
  const file = path.resolve(__dirname, '..', '..', 'fixtures', 'replay', 'write_note.ultra.json');
  const text = fs.readFileSync(file, 'utf8');
  const n = turnCount(text);
  assert.ok(n >= 3, `expected at least 3 turns, got ${n}`);
  const second = text.indexOf('"caller"', text.indexOf('"caller"') + 1);
  assert.equal(turnAtOffset(text, second), 1);
});
