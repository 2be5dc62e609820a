// The extension activated against the mocked `vscode` module: commands are registered, a server
// that cannot start leaves the editor usable, and an older server (MethodNotFound) gives clear
// messages instead of errors.
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import * as vscode from 'vscode';
import { activate, deactivate } from '../src/extension';
import { UnsupportedError } from '../src/errors';
import { SessionsProvider } from '../src/sessions';
import { ServerManager } from '../src/server';
import { StatusBar } from '../src/statusBar';
import { ReportPanel } from '../src/panels';
import { findOnPath } from '../src/settings';

 
const mock = vscode as any;
const pkg = require('../package.json');

function context() {
  return { subscriptions: [] as Array<{ dispose(): unknown }>, extensionUri: mock.Uri.file('/ext'), extensionPath: '/ext' };
}

beforeEach(() => mock.resetMock());

test('activation registers every contributed command and reports a server that cannot start', async () => {
  mock.testState.config['replayLens.interpreter'] = { defaultValue: [], globalValue: ['/nonexistent/bin/python'] };
  const ctx = context();
   
  await activate(ctx as any);
  for (const c of pkg.contributes.commands) {
    assert.ok(mock.recorded.commands.has(c.command), c.command);
  }
  assert.equal(mock.recorded.context.get('replayLens.active'), true);
  assert.equal(mock.recorded.context.get('replayLens.serverRunning'), false);
  assert.ok(mock.recorded.treeViews.includes('replayLens.sessions'));
  const item = mock.recorded.statusItems[0];
  assert.equal(item.command, 'replayLens.showOutput');
  assert.match(item.text, /\$\(error\)/);
  assert.ok(mock.recorded.logs.some((l: string) => l.startsWith('[error]') && l.includes('/nonexistent/bin/python') && l.includes('does not exist')));
  // Exactly one notification: what was tried, and two ways out.
  assert.deepEqual(mock.recorded.messages, [
    {
      level: 'error',
      message: 'Replay Lens needs Python 3.11 or newer to run its server. Tried: /nonexistent/bin/python (from replayLens.interpreter): does not exist.',
      items: ['Select Interpreter', 'Open Settings'],
    },
  ]);

  // Commands do not throw while the server is down: they say so.
  mock.recorded.messages.length = 0;
  await mock.commands.executeCommand('replayLens.replayThisSession', mock.Uri.file('/ws/replay/a.json'));
  await mock.commands.executeCommand('replayLens.rehashStaleTurns', mock.Uri.file('/ws/replay/a.json'));
  assert.equal(mock.recorded.messages.length, 2);
  for (const m of mock.recorded.messages) {
    assert.equal(m.level, 'error');
    assert.match(m.message, /server is not running/);
  }
  ctx.subscriptions.forEach((d) => d.dispose());
  await deactivate();
});

test('an untrusted workspace ignores the workspace interpreter setting', async () => {
  mock.testState.trusted = false;
  mock.testState.config['replayLens.interpreter'] = { defaultValue: [], globalValue: ['/user/python'], workspaceValue: ['/workspace/evil'] };
  const ctx = context();
   
  await activate(ctx as any);
  assert.ok(mock.recorded.logs.some((l: string) => l.includes('/user/python')));
  assert.ok(!mock.recorded.logs.some((l: string) => l.includes('/workspace/evil')));
  ctx.subscriptions.forEach((d) => d.dispose());
  await deactivate();
});

function runningManager(sendRequest: (method: unknown, params: unknown) => Promise<unknown>, commands: string[] = []) {
  const log = mock.window.createOutputChannel('t', { log: true });
   
  const manager = new ServerManager(context() as any, log, new StatusBar(), () => undefined);
   
  const m = manager as any;
  m.client = { sendRequest, initializeResult: { capabilities: { executeCommandProvider: { commands } } } };
  m.state = 'running';
  return { manager, log };
}

test('MethodNotFound from the server becomes a clear "not supported" error', async () => {
  const { manager } = runningManager(async () => {
    throw Object.assign(new Error('Unhandled method replayLens/sessions'), { code: -32601 });
  });
  await assert.rejects(manager.request('replayLens/sessions', {}), UnsupportedError);
});

test('a command the server does not advertise is not sent', async () => {
  let sent = 0;
  const { manager } = runningManager(async () => {
    sent++;
    return {};
  }, ['replayLens.rehash']);
  await assert.rejects(manager.executeCommand('replayLens.replaySession', { uri: 'file:///x' }), /does not support the command replayLens\.replaySession/);
  assert.equal(sent, 0);
  await manager.executeCommand('replayLens.rehash', { uri: 'file:///x' });
  assert.equal(sent, 1);
});

test('the Sessions view shows a message, not an error, when the server cannot list sessions', async () => {
  const { manager, log } = runningManager(async () => {
    throw Object.assign(new Error('method not found'), { code: -32601 });
  });
  const provider = new SessionsProvider(manager, log);
  assert.deepEqual(await provider.getChildren(), []);
  assert.equal(mock.recorded.context.get('replayLens.sessionsUnsupported'), true);
});

test('the Sessions view lists what the server found', async () => {
  const { manager, log } = runningManager(async (method) => {
    assert.equal(method, 'replayLens/sessions');
    return { sessions: [{ id: 'a', uri: 'file:///ws/recordings/a.jsonl', kind: 'recording', title: 'a', steps: 3, status: 'stale' }] };
  });
  const provider = new SessionsProvider(manager, log);
  const groups = await provider.getChildren();
  assert.deepEqual(
    groups.map((g) => g.label),
    ['Recordings (1)'],
  );
  const items = await provider.getChildren(groups[0]);
  assert.equal(items.length, 1);
  assert.equal(items[0].label, 'a');
  assert.equal(items[0].description, 'recording · 3 steps');
  assert.equal(items[0].command?.command, 'replayLens.openSession');
  assert.match(items[0].tooltip as string, /Has stale turns: .* Rehash them/);
  assert.equal(mock.recorded.context.get('replayLens.sessionsUnsupported'), false);
});

test('the report panel renders with a nonce and opens files from its messages', async () => {
  const log = mock.window.createOutputChannel('t', { log: true });
  const reruns: string[] = [];
  const panel = new ReportPanel(mock.Uri.file('/ext'), log, async (uri) => {
    reruns.push(uri);
  });
  panel.show({ session: { id: 's', uri: 'file:///ws/recordings/a.jsonl', kind: 'recording' }, steps: [{ index: 0, status: 'hit' }], first_divergence: null });
  const webviewPanel = mock.recorded.panels[0];
  assert.equal(webviewPanel.viewType, 'replayLens.report');
  assert.equal(webviewPanel.title, 'Replay: a.jsonl');
  assert.equal(webviewPanel.options.enableScripts, true);
  assert.deepEqual(
    webviewPanel.options.localResourceRoots.map((u: { path: string }) => u.path),
    ['/ext/media', '/ext/dist'],
  );
  assert.match(webviewPanel.webview.html, /<script nonce="[0-9a-f]{32}" src="[^"]*\/ext\/dist\/webview\.js"><\/script>/);
  assert.match(webviewPanel.webview.html, /<link rel="stylesheet" href="[^"]*\/ext\/media\/webview\.css">/);
  const nonce = /nonce="([0-9a-f]{32})"/.exec(webviewPanel.webview.html)?.[1];
  assert.ok(nonce);
  webviewPanel.webview.received.fire({ type: 'rerun' });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(reruns, ['file:///ws/recordings/a.jsonl']);
  // a second report reuses the panel, with a fresh nonce
  panel.show({ session: { uri: 'file:///ws/recordings/b.jsonl' }, steps: [] });
  assert.equal(mock.recorded.panels.length, 1);
  assert.notEqual(/nonce="([0-9a-f]{32})"/.exec(webviewPanel.webview.html)?.[1], nonce);
});

test('the session panel asks for steps page by page as the webview scrolls, and replays on request', async () => {
  const requests: Array<{ method: unknown; params: { page: number; pageSize: number; uri: string; sessionId?: string } }> = [];
  const total = 5000;
  const { manager, log } = runningManager(async (method, params) => {
    const p = params as { page: number; pageSize: number; uri: string };
    requests.push({ method, params: p });
    const first = (p.page - 1) * p.pageSize;
    const steps = Array.from({ length: Math.max(0, Math.min(p.pageSize, total - first)) }, (_, i) => ({
      index: first + i,
      kind: 'model',
      caller: (first + i) % 2 ? 'title' : 'lead_agent',
      summary: `s${first + i}`,
      input: Array.from({ length: first + i + 1 }, () => ({ type: 'human', data: { content: 'x' } })),
    }));
    return { page: p.page, pageSize: p.pageSize, total, steps };
  });
  const replays: string[] = [];
  const { SessionPanel, STEPS_PAGE_SIZE } = await import('../src/panels');
  const panel = new SessionPanel(mock.Uri.file('/ext'), log, manager, async (uri) => void replays.push(uri), () => true);
  const session = { id: 'abc', uri: 'file:///ws/recordings/a.jsonl', kind: 'recording', title: 'a' };
  await panel.show(session);
  assert.deepEqual(requests[0], { method: 'replayLens/steps', params: { uri: session.uri, sessionId: 'abc', page: 1, pageSize: STEPS_PAGE_SIZE } });
  const webviewPanel = mock.recorded.panels[0];
  const html = webviewPanel.webview.html;
  assert.equal(webviewPanel.viewType, 'replayLens.session');
  assert.match(html, /id="vlist" class="vlist" data-total="5000" data-page-size="200" data-generation="(\d+)"/);
  assert.doesNotMatch(html, /<button id="step-/, 'no row is in the page itself: the webview asks for what it shows');
  const generation = Number(/data-generation="(\d+)"/.exec(html)![1]);
  const settle = () => new Promise((r) => setTimeout(r, 10));
  // The webview scrolled to steps 2,400-2,460: pages 1 (held) and 13 (asked now).
  webviewPanel.webview.received.fire({ type: 'pages', generation, pages: [1, 13, 0, 99] });
  await settle();
  assert.deepEqual(requests.map((r) => r.params.page), [1, 13], 'page 1 is not asked twice; pages out of range are ignored');
  const rows = webviewPanel.webview.posted as Array<{ type: string; page: number; rows: Array<{ position: number; index: number; html: string; caller: string }> }>;
  assert.deepEqual(rows.map((m) => [m.type, m.page, m.rows.length]), [['rows', 1, 200], ['rows', 13, 200]]);
  assert.equal(rows[1].rows[0].position, 2400);
  assert.match(rows[1].rows[0].html, /id="step-2400"[^>]*data-select="2400"/);
  // A step's detail: the same caller's previous call (2400) is on a page already read.
  webviewPanel.webview.received.fire({ type: 'detail', generation, position: 2402 });
  await settle();
  const detail = webviewPanel.webview.posted.at(-1) as { type: string; position: number; html: string };
  assert.equal(detail.type, 'detail');
  assert.match(detail.html, /id="detail-2402"/);
  assert.match(detail.html, /Input: 2 messages new in this call \(2,401 carried over\)/);
  // A message of an older list is dropped; "Replay this session" replays.
  webviewPanel.webview.received.fire({ type: 'pages', generation: generation - 1, pages: [2] });
  webviewPanel.webview.received.fire({ type: 'replay' });
  await settle();
  assert.deepEqual(requests.map((r) => r.params.page), [1, 13]);
  assert.deepEqual(replays, [session.uri]);
  // A filter reads every page, once each.
  webviewPanel.webview.received.fire({ type: 'all', generation });
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(panel.pagesRead, Array.from({ length: 25 }, (_, i) => i + 1));
  assert.equal(requests.length, 25);
  assert.equal(webviewPanel.webview.posted.filter((m: unknown) => (m as { type: string }).type === 'rows').length, 2 + 25);
});

test('the session panel shows a clear message when the server has no steps request', async () => {
  const { manager, log } = runningManager(async () => {
    throw Object.assign(new Error('Method not found'), { code: -32601 });
  });
  const { SessionPanel } = await import('../src/panels');
  const panel = new SessionPanel(mock.Uri.file('/ext'), log, manager, async () => undefined, () => false);
  await assert.rejects(panel.show({ id: '', uri: 'file:///ws/x.jsonl', kind: 'recording' }), UnsupportedError);
  assert.match(mock.recorded.panels[0].webview.html, /does not support the request replayLens\/steps yet/);
});

test('a change of the interpreter, server arguments or fixture globs restarts the server; the trace level does not', async () => {
  mock.testState.config['replayLens.interpreter'] = { defaultValue: [], globalValue: ['/nonexistent/python'] };
  const ctx = context();
   
  const api = await activate(ctx as any);
  const reasons: string[] = [];
  api.server.scheduleRestart = (reason: string) => void reasons.push(reason);
  const change = (...sections: string[]) => mock.configurationChanged.fire({ affectsConfiguration: (s: string) => sections.includes(s) });
  change('replayLens.trace.server');
  change('replayLens.interpreter');
  change('replayLens.serverArgs', 'replayLens.fixtureGlobs');
  change('editor.fontSize');
  assert.deepEqual(reasons, ['settings changed: replayLens.interpreter', 'settings changed: replayLens.serverArgs, replayLens.fixtureGlobs']);
  ctx.subscriptions.forEach((d) => d.dispose());
  await deactivate();
});

test('without the setting, the Python extension selected interpreter runs the server (trusted workspaces only)', async () => {
  const environments = {
    getActiveEnvironmentPath: () => ({ id: 'venv', path: '/ws/.venv' }),
    resolveEnvironment: async () => ({ executable: { uri: mock.Uri.file('/nonexistent/ws/.venv/bin/python') } }),
    onDidChangeActiveEnvironmentPath: () => new mock.Disposable(),
  };
  mock.testState.extensions.set('ms-python.python', { isActive: true, exports: { environments } });
  for (const trusted of [true, false]) {
    mock.recorded.logs.length = 0;
    mock.recorded.commands.clear();
    mock.testState.trusted = trusted;
    const savedPath = process.env.PATH;
    process.env.PATH = '/nonexistent-bin'; // python3 is not on the PATH: nothing is spawned
    const ctx = context();
     
    await activate(ctx as any);
    process.env.PATH = savedPath;
    const start = mock.recorded.logs.find((l: string) => l.includes('Tried: ')) ?? '';
    if (trusted) {
      assert.match(start, /Tried: \/nonexistent\/ws\/\.venv\/bin\/python \(from the Python extension\): does not exist\.$/);
    } else {
      // python3, then python, from the PATH
      assert.match(start, /Tried: python3 \(from the PATH\): not found; python \(from the PATH\): not found\.$/);
    }
    ctx.subscriptions.forEach((d) => d.dispose());
    await deactivate();
  }
});

test('the interpreter is looked up on the PATH before it is started', () => {
  assert.equal(findOnPath('node', process.env), process.execPath.startsWith('/usr/bin') ? '/usr/bin/node' : findOnPath('node', process.env));
  assert.ok(findOnPath('node', process.env));
  assert.equal(findOnPath('surely-not-a-command-xyz', process.env), undefined);
  assert.equal(findOnPath('node', { PATH: '' }), undefined);
});

test('Rehash on a file that is not a fixture says so (not "the server is not running", not a URI error)', async () => {
  mock.testState.config['replayLens.interpreter'] = { defaultValue: [], globalValue: ['/nonexistent/bin/python'] };
  const ctx = context();
  await activate(ctx as any);
  mock.recorded.messages.length = 0;
  await mock.commands.executeCommand('replayLens.rehashStaleTurns', mock.Uri.file('/ws/src/app.py'));
  assert.deepEqual(mock.recorded.messages, [
    { level: 'info', message: 'Replay Lens: Rehash works on a fixture file (.json); app.py is not one. Open a fixture to rehash its stale turns.', items: [] },
  ]);
  ctx.subscriptions.forEach((d) => d.dispose());
  await deactivate();
});
