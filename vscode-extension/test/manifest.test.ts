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

test('the Sessions view is in the Explorer, with messages for an empty list and an older server', () => {
  assert.equal(pkg.contributes.views.explorer[0].id, 'replayLens.sessions');
  const welcome = pkg.contributes.viewsWelcome.map((w: { contents: string; when: string }) => w.when);
  assert.ok(welcome.includes('replayLens.sessionsUnsupported'));
});

test('the package ships only the bundle', () => {
  const ignore = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8');
  assert.match(ignore, /^\*\*$/m);
  assert.match(ignore, /^!dist\/extension\.js$/m);
  assert.equal(pkg.main, './dist/extension.js');
});
