import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorMessage, isMethodNotFound, UnsupportedError } from '../src/errors';
import { runTestsMessage } from '../src/runTests';
import { groupEntries, isReplayable, matchesFilter, sessionItemView, statusReason, uniqueLabels } from '../src/sessions';
import type { SessionInfo } from '../src/protocol';
import { statusView } from '../src/statusBar';

test('MethodNotFound is recognized by code and by message', () => {
  assert.ok(isMethodNotFound({ code: -32601, message: 'Unhandled method replayLens/sessions' }));
  assert.ok(isMethodNotFound(new Error('Method Not Found: replayLens/steps')));
  assert.ok(!isMethodNotFound({ code: -32603, message: 'internal error' }));
  assert.equal(errorMessage({ message: 'x' }), 'x');
  assert.equal(errorMessage('y'), 'y');
  assert.match(new UnsupportedError('the request replayLens/sessions').message, /does not support the request replayLens\/sessions yet/);
});

test('the status bar: preset, fingerprint and stale count', () => {
  const v = statusView('running', { preset: 'deerflow', fingerprint: '78bb2da9a05118ae', fixtures: 3, turns: 10, stale: 3, unverifiable: 1, indexing: false });
  assert.equal(v.text, '$(warning) Replay Lens · deerflow 78bb2da9 · 3 stale');
  assert.equal(v.severity, 'warning');
  assert.match(v.tooltip, /fingerprint 78bb2da9a05118ae/);
  assert.match(v.tooltip, /Unverifiable turns: 1/);
  assert.equal(statusView('running', { preset: 'deerflow', stale: 0 }).text, '$(check) Replay Lens · deerflow · no stale turns');
  const unverifiable = statusView('running', { preset: 'deerflow', stale: 0, unverifiable: 19 });
  assert.equal(unverifiable.text, '$(question) Replay Lens · deerflow · 19 unverifiable');
  assert.equal(unverifiable.command, 'replayLens.runTests');
  assert.match(unverifiable.tooltip, /Click to run the replay tests with the capture/);
  assert.match(unverifiable.tooltip, /Next step: record the session .*pytest --replay-lens=capture/s);
  assert.equal(v.command, undefined);
  assert.equal(statusView('running', { preset: 'deerflow', indexing: true, stale: 2 }).text, '$(sync~spin) Replay Lens · deerflow · indexing…');
  assert.equal(statusView('failed', undefined, 'did not start').severity, 'error');
  assert.match(statusView('starting', undefined).text, /loading~spin/);
});

test('the result of a replay tests run', () => {
  const failed = runTestsMessage(
    { cancelled: false, exitCode: 1, tests: ['tests/test_agent.py::test_greet'], outcomes: { failed: 1 }, summary: '1 failed in 6.8s', output: [] },
    'greet.ultra.json',
  );
  assert.equal(failed.severity, 'warning');
  assert.match(failed.text, /the replay tests of greet\.ultra\.json with the capture: 1 failed\. See Problems/);
  const passed = runTestsMessage({ cancelled: false, exitCode: 0, tests: [], outcomes: { passed: 3 }, summary: '3 passed', output: [] });
  assert.equal(passed.severity, 'info');
  assert.match(passed.text, /the replay tests with the capture: 3 passed\./);
  assert.match(runTestsMessage({ cancelled: true, exitCode: null, tests: [], outcomes: {}, summary: 'cancelled', output: [] }).text, /cancelled/);
});

test('session items: status icons and which can be replayed', () => {
  const ok = sessionItemView({ id: '1', uri: 'file:///ws/r.jsonl', kind: 'recording', title: 'write_note', steps: 4, status: 'ok' }, 'r.jsonl');
  assert.equal(ok.icon, 'pass');
  assert.equal(ok.color, 'testing.iconPassed');
  assert.equal(ok.description, 'recording · 4 steps');
  assert.equal(ok.contextValue, 'session replayable');
  const stale = sessionItemView({ id: '2', uri: 'file:///ws/f.json', kind: 'fixture', steps: 1, status: 'stale' }, 'f.json');
  assert.equal(stale.icon, 'warning');
  assert.equal(stale.label, 'f.json');
  assert.equal(stale.description, 'fixture · 1 step');
  const db = sessionItemView({ id: '3', uri: 'file:///ws/c.sqlite', kind: 'langgraph-checkpoints', status: 'unknown' }, 'c.sqlite');
  assert.equal(db.icon, 'database');
  assert.equal(db.contextValue, 'session');
  assert.equal(sessionItemView({ id: '4', uri: 'file:///ws/x', kind: 'cato-audit', status: 'error' }, 'x').icon, 'error');
  assert.ok(!isReplayable({ kind: 'codex-rollout' }));
});

test('sessions: unique labels (file, then id), grouped by kind and folder, a filter, the reason of a red entry', () => {
  const s = (id: string, kind: string, rel: string, title?: string, extra: Partial<SessionInfo> = {}): SessionInfo => ({ id, kind, uri: `file:///ws/${rel}`, title, ...extra });
  const sessions = [
    s('a', 'codex-rollout', 'traces/codex/r1.jsonl', 'Codex 0.58.0 session in /home/dev/notes'),
    s('b', 'codex-rollout', 'traces/codex/r2.jsonl', 'Codex 0.58.0 session in /home/dev/notes'),
    s('x', 'cato-audit', 'traces/cato/audit.db', 'CATO session'),
    s('y', 'cato-audit', 'traces/cato/audit.db', 'CATO session'),
    s('w', 'recording', 'recordings/w.jsonl', 'w.jsonl'),
    s('f', 'fixture', 'replay/f.json', 'f.json'),
    s('g', 'fixture', 'tests/fixtures/g.json', 'g.json'),
  ];
  const rel = (x: SessionInfo) => x.uri.replace('file:///ws/', '');
  const labels = uniqueLabels(sessions, rel);
  assert.deepEqual(labels, [
    'Codex 0.58.0 session in /home/dev/notes · r1.jsonl',
    'Codex 0.58.0 session in /home/dev/notes · r2.jsonl',
    'CATO session · audit.db#x',
    'CATO session · audit.db#y',
    'w.jsonl',
    'f.json',
    'g.json',
  ]);
  const entries = sessions.map((session, i) => ({ session, label: labels[i], relativePath: rel(session), findings: [] }));
  const groups = groupEntries(entries);
  assert.deepEqual(
    groups.map((g) => g.label),
    ['Recordings (1)', 'Fixtures (2)', 'Codex rollouts (2)', 'CATO audit logs (2)'],
  );
  // fixtures in two folders get a folder level; the others do not
  assert.deepEqual(
    groups[1].children.map((c) => ('label' in c && 'children' in c ? c.label : '')),
    ['replay', 'tests/fixtures'],
  );
  assert.ok('session' in groups[0].children[0]);
  assert.equal(matchesFilter('cato', labels[2], sessions[2], rel(sessions[2])), true);
  assert.equal(matchesFilter('LangGraph', labels[2], sessions[2], rel(sessions[2])), false);
  assert.equal(matchesFilter('codex/r2', labels[1], sessions[1], rel(sessions[1])), true);
  const red = sessionItemView(sessions[2], rel(sessions[2]), labels[2], ['the audit log has no sessions table']);
  assert.equal(red.icon, 'error');
  assert.match(red.tooltip, /\n\nthe audit log has no sessions table$/);
  assert.equal(statusReason({ ...sessions[5], status: 'error' }, []), 'Has errors: see the Problems panel for this file.');
  assert.equal(statusReason({ ...sessions[5], status: 'ok' }, []), undefined);
});
