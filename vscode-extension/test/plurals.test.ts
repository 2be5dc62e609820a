import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stepDetail, stepRow } from '../src/html';
import { statusView } from '../src/statusBar';

// Counts in the extension's words take the singular at 1 ("1 step", never "1 steps").
const ctx = {
  nonce: 'abc123',
  cspSource: 'vscode-webview://x',
  styleUri: 'vscode-webview://x/ext/media/webview.css',
  scriptUri: 'vscode-webview://x/ext/dist/webview.js',
  label: (uri: string) => uri.replace('file:///ws/', ''),
};

test('a value cut one character short says "1 more character"', () => {
  const result = 'x'.repeat(20_001);
  const html = stepDetail({ index: 2, kind: 'tool', name: 'read_file', result }, 0, 'file:///ws/recordings/a.jsonl', ctx);
  assert.match(html, /… \(1 more character\)/);
  const longer = stepDetail({ index: 2, kind: 'tool', name: 'read_file', result: 'x'.repeat(21_234) }, 0, 'file:///ws/recordings/a.jsonl', ctx);
  assert.match(longer, /… \(1,234 more characters\)/);
});

test('one new input message is "1 message"', () => {
  const input = [{ type: 'system', data: { content: 'sys' } }, { type: 'human', data: { content: 'hi' } }];
  const html = stepDetail({ index: 3, kind: 'model', caller: 'lead', input }, 1, 'file:///ws/recordings/a.jsonl', ctx);
  assert.match(html, /Input: 1 message new in this call \(1 carried over\)/);
});

test('a step without a duration keeps a hidden place for its bar, so the tokens stay on the first line', () => {
  const row = stepRow({ index: 0, kind: 'model', caller: 'lead', tokens: { input: 1, output: 2 } }, 0, ctx);
  assert.match(row.html, /<span class="no-track"><\/span>/);
  assert.match(row.html, /1 in · 2 out/);
});

test('the status bar names Replay Lens in every state with counts', () => {
  assert.equal(statusView('running', { preset: 'deerflow', stale: 1 }).text, '$(warning) Replay Lens · deerflow · 1 stale');
  assert.equal(statusView('running', { stale: 0, unverifiable: 1 }).text, '$(question) Replay Lens · 1 unverifiable');
});
