import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BUILTIN_FIXTURE_GLOBS,
  combinedGlob,
  documentSelector,
  effectiveValue,
  fileGlobs,
  resolveInterpreter,
  serverCommandLine,
  serverLogLevel,
  substituteVariables,
  importStrategy,
  parseVersion,
  isSupportedPython,
  candidates,
} from '../src/settings';

const vars = { workspaceFolder: '/ws', userHome: '/home/u', env: { VENV: '/opt/venv' } };

test('the document selector covers fixtures and JSONL recordings, not every JSON file', () => {
  const selector = documentSelector([]);
  const patterns = selector.map((f) => ('pattern' in f ? f.pattern : `language:${f.language}`));
  assert.ok(patterns.includes('**/replay/**/*.json'));
  assert.ok(patterns.includes('**/*.jsonl'));
  assert.ok(patterns.includes('language:jsonl'));
  assert.ok(!patterns.includes('**/*.json'), 'must not take over every JSON file');
  assert.ok(!selector.some((f) => 'language' in f && f.language === 'json'));
  assert.ok(selector.every((f) => f.scheme === 'file'));
});

test('extra fixture globs are added once, in order, ignoring blanks and non-strings', () => {
  const globs = fileGlobs(['tests/golden/*.json', '  ', 42, '**/replay/**/*.json', 'tests/golden/*.json']);
  assert.deepEqual(globs, [...BUILTIN_FIXTURE_GLOBS, 'tests/golden/*.json', '**/*.jsonl']);
  assert.equal(combinedGlob(['a', 'b']), '{a,b}');
  assert.equal(combinedGlob(['a']), 'a');
});

test('an untrusted workspace ignores workspace values of a setting', () => {
  const inspected = { defaultValue: [], globalValue: ['/usr/bin/python3.12'], workspaceValue: ['./evil/python'] };
  assert.deepEqual(effectiveValue(inspected, true), ['./evil/python']);
  assert.deepEqual(effectiveValue(inspected, false), ['/usr/bin/python3.12']);
  assert.deepEqual(effectiveValue({ defaultValue: [], workspaceFolderValue: ['x'] }, false), []);
  assert.equal(effectiveValue(undefined, true), undefined);
});

test('variables are substituted like the Python tool extensions do', () => {
  assert.equal(substituteVariables('${workspaceFolder}/.venv/bin/python', vars), '/ws/.venv/bin/python');
  assert.equal(substituteVariables('${userHome}/py', vars), '/home/u/py');
  assert.equal(substituteVariables('~/py', vars), '/home/u/py');
  assert.equal(substituteVariables('${env:VENV}/bin/python', vars), '/opt/venv/bin/python');
  assert.equal(substituteVariables('${env:MISSING}x', vars), 'x');
});

test('the interpreter: setting, else the Python extension, else python3', () => {
  assert.deepEqual(resolveInterpreter({ setting: ['${workspaceFolder}/.venv/bin/python', '-X', 'utf8'], pythonExtension: ['/py/ext'], trusted: true, variables: vars }), {
    command: '/ws/.venv/bin/python',
    args: ['-X', 'utf8'],
    source: 'setting',
  });
  assert.deepEqual(resolveInterpreter({ setting: [], pythonExtension: ['/py/ext'], trusted: true, variables: vars }), {
    command: '/py/ext',
    args: [],
    source: 'python-extension',
  });
  assert.deepEqual(resolveInterpreter({ setting: undefined, pythonExtension: undefined, trusted: true, variables: vars, platform: 'linux' }), {
    command: 'python3',
    args: [],
    source: 'default',
  });
  assert.equal(resolveInterpreter({ setting: [], trusted: true, variables: vars, platform: 'win32' }).command, 'python');
  assert.equal(resolveInterpreter({ setting: '/single/python', trusted: true, variables: vars }).command, '/single/python');
});

test('an untrusted workspace never runs the Python extension interpreter (it may be a workspace venv)', () => {
  const r = resolveInterpreter({ setting: [], pythonExtension: ['/ws/.venv/bin/python'], trusted: false, variables: vars, platform: 'linux' });
  assert.deepEqual(r, { command: 'python3', args: [], source: 'default' });
});

test('a setting with ${workspaceFolder} and no folder open is not used as is', () => {
  const r = resolveInterpreter({ setting: ['${workspaceFolder}/.venv/bin/python'], trusted: true, variables: { userHome: '/h', env: {} }, platform: 'linux' });
  assert.equal(r.source, 'default');
});

test('the server command line is python -m server --stdio plus the extra arguments', () => {
  const py = { command: '/py', args: ['-X', 'utf8'], source: 'setting' as const };
  // The bundled server by its script path, isolated (-I): nothing of the workspace is importable.
  const bundled = serverCommandLine(py, ['--log-level', 'debug', 3], { strategy: 'useBundled', launcher: '/ext/bundled/tool/lsp_server.py', logLevel: 'info' });
  assert.deepEqual(bundled, {
    command: '/py',
    args: ['-X', 'utf8', '-I', '/ext/bundled/tool/lsp_server.py', '--stdio', '--log-level', 'info', '--log-level', 'debug'],
  });
  const fromEnvironment = serverCommandLine(py, [], { strategy: 'fromEnvironment', launcher: '/x', logLevel: 'warning' });
  assert.deepEqual(fromEnvironment.args, ['-X', 'utf8', '-I', '-m', 'server', '--stdio', '--log-level', 'warning']);
});

test('importStrategy defaults to the bundled server; the channel level maps to the server log level', () => {
  assert.equal(importStrategy(undefined), 'useBundled');
  assert.equal(importStrategy('nonsense'), 'useBundled');
  assert.equal(importStrategy('fromEnvironment'), 'fromEnvironment');
  // vscode.LogLevel: Off 0, Trace 1, Debug 2, Info 3, Warning 4, Error 5
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(serverLogLevel), ['error', 'debug', 'debug', 'info', 'warning', 'error']);
});

test('the Python version check: 3.11 or newer', () => {
  assert.deepEqual(parseVersion('3.11.7\n'), [3, 11, 7]);
  assert.equal(parseVersion('Python 3.11.7'), undefined);
  assert.equal(parseVersion(''), undefined);
  assert.equal(isSupportedPython([3, 11, 0]), true);
  assert.equal(isSupportedPython([3, 13, 1]), true);
  assert.equal(isSupportedPython([4, 0, 0]), true);
  assert.equal(isSupportedPython([3, 10, 12]), false);
  assert.equal(isSupportedPython([2, 7, 18]), false);
  // the default python3 falls back to python; a chosen interpreter is the only one tried
  assert.deepEqual(candidates({ command: 'python3', args: [], source: 'default' }, 'linux').map((c) => c.command), ['python3', 'python']);
  assert.deepEqual(candidates({ command: '/x/python', args: [], source: 'setting' }, 'linux').map((c) => c.command), ['/x/python']);
});
