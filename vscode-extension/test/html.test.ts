import assert from 'node:assert/strict';
import { test } from 'node:test';
import { barClass, csp, escapeHtml, formatDuration, formatTokens, renderReport, renderStepsView, stepDetail, stepRow } from '../src/html';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ReplayReport } from '../src/protocol';

const ctx = {
  nonce: 'abc123',
  cspSource: 'vscode-webview://x',
  styleUri: 'vscode-webview://x/ext/media/webview.css',
  scriptUri: 'vscode-webview://x/ext/dist/webview.js',
  label: (uri: string) => uri.replace('file:///ws/', '') };

const REPORT: ReplayReport = {
  session: { id: 'write_note', uri: 'file:///ws/recordings/write_note.ultra.jsonl', kind: 'recording' },
  fixture: { uri: 'file:///ws/replay/write_note.ultra.json' },
  summary: { hits: 2, legacyHits: 0, misses: 1, exhausted: 0, unused: 1 },
  steps: [
    { index: 0, status: 'hit', caller: 'lead_agent', kind: 'model', durationMs: 1200, tokens: { input: 3664, output: 434 }, turn: 0 },
    { index: 1, status: 'tool', caller: 'write_file', kind: 'tool', durationMs: 30 },
    {
      index: 2,
      status: 'miss',
      caller: 'middleware:title',
      kind: 'model',
      durationMs: 800,
      tokens: 116,
      uri: 'file:///ws/recordings/write_note.ultra.jsonl',
      range: { start: { line: 1, character: 0 }, end: { line: 1, character: 10 } },
      nearest: { turn: 1, diff: [[0, '[{"content": "Title: '], [-1, 'Write a Note'], [1, 'Write <script>alert(1)</script>'], [0, '"}]']] },
    },
    { index: 3, status: 'hit', caller: 'lead_agent', kind: 'model', turn: 2 },
  ],
  unused: [3],
  first_divergence: 2,
};

test('a strict content security policy with a nonce, no inline styles or remote content', () => {
  const html = renderReport(REPORT, ctx);
  const policy = csp(ctx);
  assert.match(policy, /default-src 'none'/);
  assert.match(policy, /script-src 'nonce-abc123'/);
  assert.match(policy, /style-src vscode-webview:\/\/x(;|$)/, 'style sheets from the extension only');
  assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval|https?:/);
  assert.ok(html.includes(`content="${policy.replace(/'/g, '&#39;')}"`));
  assert.doesNotMatch(html, /\sstyle="/, 'no style attributes (blocked by the policy)');
  assert.doesNotMatch(html, /\son[a-z]+="/, 'no inline event handlers (blocked by the policy)');
  const scripts = html.match(/<script[^>]*>/g) ?? [];
  assert.equal(scripts.length, 1);
  assert.equal(scripts[0], '<script nonce="abc123" src="vscode-webview://x/ext/dist/webview.js">');
  assert.doesNotMatch(html, /<style\b/, 'the styles are media/webview.css');
  assert.deepEqual(html.match(/<link[^>]*>/g), ['<link rel="stylesheet" href="vscode-webview://x/ext/media/webview.css">']);
  assert.doesNotMatch(html, /<(img|iframe)\b/);
});

test('theme colors only, in the page and in media/webview.css', () => {
  const html = renderReport(REPORT, ctx);
  const css = fs.readFileSync(path.join(__dirname, '..', 'media', 'webview.css'), 'utf8');
  const colors = (html + css).match(/(?:color|background)\s*:\s*[^;]+;/g) ?? [];
  assert.ok(colors.length > 20, 'the style sheet sets colors');
  for (const c of colors) {
    assert.match(c, /var\(--vscode-|none|inherit|transparent|currentColor/, c);
  }
});

test('text from the server is escaped', () => {
  const html = renderReport(REPORT, ctx);
  assert.ok(!html.includes('<script>alert(1)</script>'));
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.equal(escapeHtml(`<a href="x" onclick='y'>&`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;');
});

test('the summary, the verdict and the first divergence', () => {
  const html = renderReport(REPORT, ctx);
  assert.match(html, /Replay would fail: 1 miss/);
  assert.match(html, /<span class="n">2<\/span><span class="muted">hits<\/span>/);
  assert.match(html, /<span class="n">1<\/span><span class="muted">misses<\/span>/);
  assert.match(html, /<span class="n">1<\/span><span class="muted">unused turns<\/span>/);
  assert.match(html, /First divergence at step 2/);
  assert.match(html, /id="step-2" class="step divergent"/);
  assert.match(html, /data-goto="miss-2"/);
});

test('the timeline: durations, tokens, and where each step opens', () => {
  const html = renderReport(REPORT, ctx);
  assert.match(html, /1\.20 s/);
  assert.match(html, /3,664 in · 434 out/);
  assert.match(html, /116 tok/);
  // a step with a range opens there; one with only a turn opens the fixture at that turn
  assert.match(html, /id="step-2"[^>]*data-open="file:\/\/\/ws\/recordings\/write_note\.ultra\.jsonl" data-range="1,0,1,10"/);
  assert.match(html, /id="step-0"[^>]*data-open="file:\/\/\/ws\/replay\/write_note\.ultra\.json" data-turn="0"/);
  // a tool step without location is not clickable
  assert.match(html, /id="step-1" class="step noopen"/);
  // every step is a button: keyboard accessible
  assert.equal((html.match(/<button id="step-/g) ?? []).length, 4);
  assert.match(html, /data-autofocus/);
});

test('a miss shows the nearest recorded turn and a colored diff', () => {
  const html = renderReport(REPORT, ctx);
  assert.match(html, /Nearest recorded input: <strong>turn 1<\/strong>/);
  assert.match(html, /data-open="file:\/\/\/ws\/replay\/write_note\.ultra\.json" data-turn="1">Open recorded turn 1/);
  assert.match(html, /<del>Write a Note<\/del>/);
  assert.match(html, /<ins>Write &lt;script&gt;alert\(1\)&lt;\/script&gt;<\/ins>/);
  const css = fs.readFileSync(path.join(__dirname, '..', 'media', 'webview.css'), 'utf8');
  assert.match(css, /del, \.del \{ background: var\(--vscode-diffEditor-removedTextBackground/);
  assert.match(css, /ins, \.ins \{ background: var\(--vscode-diffEditor-insertedTextBackground/);
});

test('unused turns open the fixture', () => {
  const html = renderReport(REPORT, ctx);
  assert.match(html, /<h2>Unused turns<\/h2>/);
  assert.match(html, /data-open="file:\/\/\/ws\/replay\/write_note\.ultra\.json" data-turn="3">turn 3/);
});

test('a clean replay, a report with missing parts, and camelCase fields', () => {
  const html = renderReport({ steps: [{ index: 0, status: 'hit' }], firstDivergence: null }, ctx);
  assert.match(html, /Replay would pass/);
  assert.match(html, /No divergence/);
  assert.doesNotMatch(html, /<h2 id="misses">/);
  const empty = renderReport({}, ctx);
  assert.match(empty, /The session has no steps/);
  const counted = renderReport({ steps: [{ index: 0, status: 'miss' }, { index: 1, status: 'exhausted' }], firstDivergence: 0 }, ctx);
  assert.match(counted, /Replay would fail: 1 miss, 1 call with its turns already consumed/);
  assert.match(counted, /No recorded turn of the fixture is near/);
});

test('the steps view is a virtual list: the page holds no row, each row comes from the extension', () => {
  const session = { id: 's', uri: 'file:///ws/recordings/a.jsonl', kind: 'recording', title: 'a' };
  const html = renderStepsView(session, { total: 5000, pageSize: 200, generation: 3 }, ctx, true);
  assert.match(html, /<div id="vlist" class="vlist" data-total="5000" data-page-size="200" data-generation="3">/);
  assert.match(html, /5,000 steps/);
  assert.match(html, /data-action="replay"/);
  assert.doesNotMatch(html, /class="pager"|data-page=/);
  assert.equal((html.match(/<button id="step-/g) ?? []).length, 0);
  const row = stepRow({ index: 250, kind: 'model', caller: 'lead_agent', summary: 'call 250', durationMs: 12, tokens: { input: 5, output: 6 } }, 250, ctx);
  assert.match(row.html, /^<li><button id="step-250" class="step"[^>]*data-select="250"/);
  assert.deepEqual({ ...row, html: '' }, { position: 250, index: 250, html: '', kind: 'model', caller: 'lead_agent', status: '', search: 'lead_agent call 250 lead_agent model', tokensIn: 5, tokensOut: 6, ms: 12 });
  const none = renderStepsView(session, { total: 0, pageSize: 200, generation: 1 }, ctx, false);
  assert.match(none, /The session has no steps/);
  assert.doesNotMatch(none, /data-action="replay"|id="step-search"/);
});

test('formatting helpers', () => {
  assert.equal(formatDuration(undefined), '');
  assert.equal(formatDuration(12.4), '12 ms');
  assert.equal(formatDuration(1234), '1.23 s');
  assert.equal(formatDuration(125_000), '2 min 5 s');
  assert.equal(formatTokens(1234567), '1,234,567 tok');
  assert.equal(formatTokens({ total: 10 }), '10 tok');
  assert.equal(formatTokens({ input_tokens: 5, output_tokens: 6 }), '5 in · 6 out');
  assert.equal(barClass(50, 100), 'w50');
  assert.equal(barClass(1, 1000), 'w5');
  assert.equal(barClass(undefined, 100), 'w0');
  assert.equal(barClass(100, 100), 'w100');
});

test('the report of the real `python -m server replay --format json`', () => {
  // Saved from the CLI on the sample workspace (paths rewritten to /ws).
  const report = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'test', 'data', 'replay-report.json'), 'utf8'));
  const html = renderReport(report, ctx);
  assert.match(html, /Replay would fail: 3 misses/);
  assert.match(html, /<span class="n">4<\/span><span class="muted">model calls<\/span>/);
  assert.match(html, /under rules <code>deerflow<\/code>/);
  assert.match(html, /First divergence at step 0/);
  assert.match(html, /no turn has key b2729027d714… \(caller &#39;lead_agent&#39;\) under rules deerflow/);
  // the miss: nearest turn 0, its note, the diff with the side names of the unified header
  assert.match(html, /id="miss-0"/);
  assert.match(html, /Nearest recorded input: <strong>turn 0<\/strong> <span class="muted">\(similarity 99\.9%\)/);
  assert.match(html, /turn 0 is stale: keyed under the current rules without rules user-input-begin/);
  assert.match(html, /<del>− turn 0 as keyed under the current rules/);
  assert.match(html, /<ins>\+ step 0 \(current rules\)<\/ins>/);
  assert.match(html, /<del> {2}--- BEGIN USER INPUT ---\n<\/del>/);
  assert.match(html, /data-open="file:\/\/\/ws\/replay\/write_note\.ultra\.json" data-range="6,4,41,5" data-turn="0">Open recorded turn 0/);
  assert.match(html, /recorded as <code>aa1a42486f3f…<\/code>/);
  // the timeline: steps open the recording line; tool steps show their name and reason
  assert.match(html, /id="step-2"[^>]*data-open="file:\/\/\/ws\/recordings\/write_note\.ultra\.jsonl" data-range="2,0,2,2168"/);
  assert.match(html, /write_file<\/span>/);
  assert.match(html, /not checked: the model call that asked for it missed/);
  assert.match(html, /3,664 in · 434 out/);
});

test('a miss offers "Open in diff editor"; a stale nearest turn also "Rehash turn N"', () => {
  const plain = renderReport(REPORT, ctx);
  assert.match(plain, /<button class="secondary" data-action="diff" data-args="\{&quot;step&quot;:2\}">Open in diff editor<\/button>/);
  assert.doesNotMatch(plain, /data-action="rehash"/, 'no Rehash when the nearest turn is not stale');
  const stale: ReplayReport = {
    ...REPORT,
    steps: REPORT.steps!.map((s) =>
      s.index === 2 ? { ...s, nearest: { turn: 1, uri: 'file:///ws/replay/write_note.ultra.json', note: 'turn 1 is stale: keyed under the current rules without rules x', diff: '@@ -1 +1 @@\n-a\n+b' } } : s,
    ),
  };
  const html = renderReport(stale, ctx);
  assert.match(
    html,
    /<button class="primary" data-action="rehash" data-args="\{&quot;uri&quot;:&quot;file:\/\/\/ws\/replay\/write_note\.ultra\.json&quot;,&quot;turn&quot;:1\}">Rehash turn 1<\/button>/,
  );
});

test('the steps view: a detail per step (new input messages, output, tool arguments and result), search, filters, totals', () => {
  const session = { uri: 'file:///ws/recordings/w.jsonl', kind: 'recording', id: 'w', title: 'w' };
  const system = { type: 'system', data: { content: 'You are DeerFlow.' } };
  const human = { type: 'human', data: { content: 'Create note.txt' } };
  const ai = { type: 'ai', data: { content: '', tool_calls: [{ name: 'write_file', args: { path: 'note.txt' } }] } };
  const tool = { type: 'tool', data: { content: 'OK' } };
  const steps = [
    { index: 0, kind: 'model', caller: 'lead_agent', tokens: { input: 3664, output: 434 }, durationMs: 1200, input: [system, human], output: ai },
    { index: 1, kind: 'tool', name: 'write_file', status: 'success', arguments: { path: 'note.txt', content: 'hi' }, result: 'OK: wrote 2 bytes' },
    { index: 2, kind: 'model', caller: 'lead_agent', tokens: { input: 3900, output: 20 }, input: [system, human, ai, tool], output: { type: 'ai', data: { content: 'Done.' } } },
  ];
  const html = renderStepsView(session, { total: 3, pageSize: 200, generation: 1 }, ctx, true);
  assert.match(html, /<input type="search" id="step-search"/);
  assert.match(html, /<select id="filter-kind"><option value="">all<\/option><\/select>/); // the webview adds the values it meets
  assert.match(html, /<p class="muted" id="totals" role="status"><\/p>/);
  const rows = steps.map((s, i) => stepRow(s, i, ctx));
  assert.deepEqual(rows.map((r) => [r.kind, r.caller, r.tokensIn, r.tokensOut, r.ms]), [['model', 'lead_agent', 3664, 434, 1200], ['tool', 'write_file', 0, 0, 0], ['model', 'lead_agent', 3900, 20, 0]]);
  const detail = (i: number, previous: number) => stepDetail(steps[i], previous, session.uri, ctx);
  assert.match(detail(0, 0), /Input: 2 messages<\/h4>.*You are DeerFlow\./s);
  // a message that only asks for tools reads as the calls it makes, not as their JSON
  assert.match(detail(2, 2), /<span class="role">ai<\/span><pre class="content">-&gt; write_file\(path=&quot;note\.txt&quot;\)<\/pre>/);
  const openai = { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'search', arguments: '{"q": "x"}' } }] };
  const asked = stepDetail({ index: 0, kind: 'model', input: [openai], output: null }, 0, session.uri, ctx);
  assert.match(asked, /-&gt; search\(q=&quot;x&quot;\)/);
  // the second call of lead_agent: only the 2 messages its first call did not send
  assert.match(detail(2, 2), /Input: 2 messages new in this call \(2 carried over\)/);
  assert.doesNotMatch(detail(2, 2), /You are DeerFlow/);
  assert.match(detail(2, 2), /Output<\/h4>.*Done\./s);
  assert.match(detail(1, 0), /Arguments<\/h4><pre class="content">\{\n {2}&quot;path&quot;: &quot;note\.txt&quot;/);
  assert.match(detail(1, 0), /Result<\/h4><pre class="content">OK: wrote 2 bytes<\/pre>/);
  assert.match(detail(0, 0), /<dt>tokens<\/dt><dd>3,664 in · 434 out<\/dd>/);
  assert.match(detail(0, 0), /<dt>duration<\/dt><dd>1\.20 s<\/dd>/);
  assert.match(detail(1, 0), /<section class="detail" id="detail-1"[^]*data-open="file:\/\/\/ws\/recordings\/w\.jsonl"/);
});
