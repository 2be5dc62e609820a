import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const sources = fs
  .readdirSync(path.join(root, 'src'))
  .map((f) => fs.readFileSync(path.join(root, 'src', f), 'utf8'))
  .join('\n');

test('the palette commands, all under the category "Replay Lens"', () => {
  const commands: Array<{ command: string; title: string; category: string }> = pkg.contributes.commands;
  const titles = commands.map((c) => c.title);
  for (const title of ['Replay This Session', 'Rehash Stale Turns in This File', 'Show Normalized Input', 'Open Session', 'Restart Server']) {
    assert.ok(titles.includes(title), title);
  }
  for (const c of commands) {
    assert.equal(c.category, 'Replay Lens', c.command);
    assert.ok(sources.includes(`'${c.command}'`), `${c.command} is registered in src/`);
  }
});

test('client command ids do not collide with the server commands (the language client registers those)', () => {
  const ids = pkg.contributes.commands.map((c: { command: string }) => c.command);
  for (const serverCommand of ['replayLens.rehash', 'replayLens.showNormalizedInput', 'replayLens.replaySession']) {
    assert.ok(!ids.includes(serverCommand), serverCommand);
  }
});

test('activation on fixtures, recordings and commands, never on every JSON file', () => {
  const events: string[] = pkg.activationEvents;
  assert.ok(events.includes('workspaceContains:**/replay-lens.toml'));
  assert.ok(events.some((e) => e.startsWith('workspaceContains:') && e.endsWith('.jsonl')));
  assert.ok(events.includes('onLanguage:jsonl'));
  assert.ok(!events.includes('*'));
  assert.ok(!events.includes('onLanguage:json'));
  for (const c of pkg.contributes.commands) {
    if (c.command !== 'replayLens.showOutput' && c.command !== 'replayLens.refreshSessions') {
      assert.ok(events.includes(`onCommand:${c.command}`), c.command);
    }
  }
});

test('the settings', () => {
  const props = pkg.contributes.configuration.properties;
  for (const key of ['replayLens.interpreter', 'replayLens.serverArgs', 'replayLens.trace.server', 'replayLens.fixtureGlobs']) {
    assert.ok(props[key], key);
  }
  assert.deepEqual(props['replayLens.trace.server'].enum, ['off', 'messages', 'verbose']);
});

test('workspace trust: limited support, interpreter and server arguments restricted', () => {
  const trust = pkg.capabilities.untrustedWorkspaces;
  assert.equal(trust.supported, 'limited');
  assert.deepEqual(trust.restrictedConfigurations.sort(), ['replayLens.interpreter', 'replayLens.serverArgs']);
});

test('the Sessions view has its own activity-bar container, with messages for an empty list and an older server', () => {
  assert.deepEqual(pkg.contributes.viewsContainers.activitybar, [{ id: 'replayLens', title: 'Replay Lens', icon: 'media/activity.svg' }]);
  assert.ok(fs.existsSync(path.join(root, 'media', 'activity.svg')));
  assert.equal(pkg.contributes.views.replayLens[0].id, 'replayLens.sessions');
  assert.equal(pkg.contributes.views.explorer, undefined);
  const welcome = pkg.contributes.viewsWelcome.map((w: { contents: string; when: string }) => w.when);
  assert.ok(welcome.includes('replayLens.sessionsUnsupported'));
});

test('the package ships only the bundle', () => {
  const ignore = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8');
  assert.match(ignore, /^\*\*$/m);
  assert.match(ignore, /^!dist\/extension\.js$/m);
  assert.equal(pkg.main, './dist/extension.js');
});

test('the package carries the webview files, the icon, the walkthrough and the bundled server', () => {
  const ignore = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8');
  for (const shipped of ['dist/webview.js', 'media/webview.css', 'media/icon.png', 'media/walkthrough/**', 'bundled/tool/lsp_server.py', 'bundled/libs/**']) {
    assert.ok(ignore.split('\n').includes(`!${shipped}`), shipped);
  }
  assert.equal(pkg.icon, 'media/icon.png');
  const icon = fs.readFileSync(path.join(root, pkg.icon));
  assert.equal(icon.subarray(1, 4).toString(), 'PNG');
  assert.equal(icon.readUInt32BE(16), 128, 'a 128 px wide icon');
});

test('importStrategy: the bundled server by default', () => {
  const setting = pkg.contributes.configuration.properties['replayLens.importStrategy'];
  assert.deepEqual(setting.enum, ['useBundled', 'fromEnvironment']);
  assert.equal(setting.default, 'useBundled');
});

test('the walkthrough: sample, stale turn, rehash, replay, capture; each step with its media', () => {
  const [walkthrough] = pkg.contributes.walkthroughs;
  const steps: Array<{ id: string; description: string; media: { markdown: string } }> = walkthrough.steps;
  assert.deepEqual(
    steps.map((s) => s.id),
    ['openSample', 'seeStaleTurn', 'rehash', 'replay', 'capture'],
  );
  for (const step of steps) assert.ok(fs.existsSync(path.join(root, step.media.markdown)), step.media.markdown);
  assert.match(steps[2].description, /command:replayLens\.rehashStaleTurns/);
  assert.match(steps[3].description, /command:replayLens\.replayThisSession/);
  assert.match(steps[4].description, /command:replayLens\.runTests/);
});

// The when-clauses' regular expressions, as VS Code evaluates them on a resource path.
function whenRegexes(when: string): RegExp[] {
  return [...when.matchAll(/=~ \/(.+?)\/(?=\)| \|\||$)/g)].map((m) => new RegExp(m[1]));
}

test('Explorer context menus for trace files: Open as Replay Session and Replay This Session', () => {
  const menu: Array<{ command: string; when: string }> = pkg.contributes.menus['explorer/context'];
  assert.deepEqual(
    menu.map((m) => m.command),
    ['replayLens.openAsSession', 'replayLens.replayThisSession'],
  );
  const title = pkg.contributes.commands.find((c: { command: string }) => c.command === 'replayLens.openAsSession').title;
  assert.equal(title, 'Open as Replay Session');
  const [extname, filename, fullPath] = whenRegexes(menu[0].when);
  const matches = (p: string) => extname.test(path.posix.extname(p)) || filename.test(path.posix.basename(p)) || fullPath.test(p);
  for (const yes of ['/ws/recordings/a.jsonl', '/ws/replay/a.json', '/ws/fixtures/b.json', '/ws/x.fixture.json', '/ws/traces/c.db', '/ws/traces/r.jsonl.zst', '/ws/audit.sqlite3']) {
    assert.ok(matches(yes), yes);
  }
  for (const no of ['/ws/package.json', '/ws/replay-report.json', '/ws/src/app.py', '/ws/replay/sub/deep.txt']) {
    assert.ok(!matches(no), no);
  }
});

test('commands offered by file kind: Rehash only on a fixture, Show Normalized Input on .json and .jsonl', () => {
  const palette: Array<{ command: string; when: string }> = pkg.contributes.menus.commandPalette;
  const rehash = palette.find((m) => m.command === 'replayLens.rehashStaleTurns');
  assert.equal(rehash?.when, 'replayLens.fixtureEditor'); // set by commands.ts's trackFixtureEditor
  const normalized = palette.find((m) => m.command === 'replayLens.showNormalizedInputAtCursor');
  const [re] = whenRegexes(normalized?.when ?? '');
  assert.deepEqual(['.json', '.jsonl', '.py'].map((e) => re.test(e)), [true, true, false]);
});
