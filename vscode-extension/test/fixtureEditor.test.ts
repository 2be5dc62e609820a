// The context key that offers Rehash in the palette: true only while a fixture is the active editor
// (the built-in fixture globs and replayLens.fixtureGlobs; never a recording, a report or a .py).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import * as vscode from 'vscode';
import { trackFixtureEditor } from '../src/commands';

const mock = vscode as any;
const originalMatch = mock.languages.match;
let asked: string[] = [];

beforeEach(() => {
  mock.resetMock();
  asked = [];
  // VS Code matches a glob against the file's path; these tests' globs are plain folder names.
  mock.languages.match = (filter: { pattern: string }, document: { uri: { path: string } }) => {
    asked.push(filter.pattern);
    const folder = /^\*\*\/(\w+)\//.exec(filter.pattern)?.[1];
    return folder && document.uri.path.includes(`/${folder}/`) ? 10 : 0;
  };
});

afterEach(() => {
  mock.languages.match = originalMatch;
  mock.window.activeTextEditor = undefined;
});

const editorOn = (path: string) => ({ document: { uri: mock.Uri.file(path) } });

test('a fixture under replay/ is a fixture editor; a report, a .py and a recording are not', () => {
  const cases: Array<[string | undefined, boolean]> = [
    ['/ws/replay/write_note.ultra.json', true],
    ['/ws/replay-report.json', false],
    ['/ws/src/app.py', false],
    ['/ws/recordings/write_note.ultra.jsonl', false],
    [undefined, false],
  ];
  for (const [path, want] of cases) {
    mock.window.activeTextEditor = path ? editorOn(path) : undefined;
    const tracker = trackFixtureEditor();
    assert.equal(mock.recorded.context.get('replayLens.fixtureEditor'), want, path);
    tracker.dispose();
  }
  assert.ok(!asked.includes('**/*.jsonl'), 'recordings are no fixtures');
});

test('the key follows the active editor and replayLens.fixtureGlobs', () => {
  mock.window.activeTextEditor = editorOn('/ws/golden/b.json');
  const tracker = trackFixtureEditor();
  assert.equal(mock.recorded.context.get('replayLens.fixtureEditor'), false);
  mock.testState.config['replayLens.fixtureGlobs'] = { defaultValue: [], globalValue: ['**/golden/*.json'] };
  mock.configurationChanged.fire({ affectsConfiguration: (section: string) => section === 'replayLens.fixtureGlobs' });
  assert.equal(mock.recorded.context.get('replayLens.fixtureEditor'), true);
  mock.window.activeTextEditor = editorOn('/ws/notes.json');
  mock.activeEditorChanged.fire(mock.window.activeTextEditor);
  assert.equal(mock.recorded.context.get('replayLens.fixtureEditor'), false);
  tracker.dispose();
});
