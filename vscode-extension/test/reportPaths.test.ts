// A report made on another machine (CI) or in a sibling checkout, mapped into this workspace:
// real files in a temporary folder, found the way the extension finds them (by name, then by path).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { renderReport, similarityText } from '../src/html';
import type { ReplayReport } from '../src/protocol';
import { bestMatch, fileUriPath, mapReport, segments, sharedTail, toFileUri, WorkspaceFiles } from '../src/reportPaths';

function tree(root: string, files: string[]): void {
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), '{}\n');
  }
}

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

function workspaceFiles(folders: string[]): WorkspaceFiles & { asked: string[] } {
  const asked: string[] = [];
  return {
    folders,
    asked,
    isFile: (p) => Promise.resolve(fs.existsSync(p) && fs.statSync(p).isFile()),
    named: (name) => {
      asked.push(name);
      return Promise.resolve(folders.flatMap(walk).filter((p) => path.basename(p) === name));
    },
  };
}

const temp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'replay-lens-report-'));

/** A version 2 report as `replay --format json` writes it: files under the project root only. */
function portableReport(): ReplayReport {
  return {
    version: 2,
    session: { id: 'write_note.ultra', kind: 'recording', file: 'recordings/write_note.ultra.jsonl', path: 'recordings/write_note.ultra.jsonl' },
    fixture: { file: 'replay/write_note.ultra.json', path: 'replay/write_note.ultra.json' },
    summary: { misses: 1 },
    steps: [
      {
        index: 0,
        status: 'miss',
        file: 'recordings/write_note.ultra.jsonl',
        path: 'recordings/write_note.ultra.jsonl',
        nearest: {
          turn: 0,
          file: 'replay/write_note.ultra.json',
          path: 'replay/write_note.ultra.json',
          recorded: { file: 'recordings/write_note.ultra.jsonl', path: 'recordings/write_note.ultra.jsonl', range: null, label: null },
        },
      },
    ],
  };
}

test('path helpers: segments, file URIs, shared tails, best match', () => {
  assert.deepEqual(segments('C:\\work\\a\\b.json'), ['C:', 'work', 'a', 'b.json']);
  assert.deepEqual(segments('./replay//x.json'), ['replay', 'x.json']);
  assert.equal(fileUriPath('file:///home/runner/work/a%20b/x.json'), '/home/runner/work/a b/x.json');
  assert.equal(fileUriPath('file:///c%3A/work/x.json'), 'c:/work/x.json');
  assert.equal(fileUriPath('postgresql://me@host/db'), undefined);
  assert.equal(fileUriPath(toFileUri('/tmp/a b/#1.json')), '/tmp/a b/#1.json');
  assert.equal(sharedTail(['a', 'b', 'c'], ['x', 'b', 'c']), 2);
  const candidates = ['/ws/other/replay/x.json', '/ws/agent/replay/x.json', '/ws/x.json'];
  assert.equal(bestMatch(segments('/home/runner/work/agent/replay/x.json'), candidates, 1), '/ws/agent/replay/x.json');
  assert.equal(bestMatch(['replay', 'x.json'], candidates, 2), '/ws/other/replay/x.json'); // a tie: the shortest, then the first
  assert.equal(bestMatch(['replay', 'y.json'], candidates, 1), undefined);
});

test('a version 2 report maps every file under the workspace folder, and under a project folder in it', async () => {
  const ws = temp();
  tree(ws, ['recordings/write_note.ultra.jsonl', 'replay/write_note.ultra.json']);
  const { report, missing } = await mapReport(portableReport(), workspaceFiles([ws]));
  assert.deepEqual(missing, []);
  assert.equal(report.session?.uri, toFileUri(path.join(ws, 'recordings/write_note.ultra.jsonl')));
  assert.equal((report.fixture as { uri?: string }).uri, toFileUri(path.join(ws, 'replay/write_note.ultra.json')));
  const step = report.steps![0];
  assert.equal(step.uri, report.session?.uri);
  assert.equal(step.nearest?.uri, (report.fixture as { uri?: string }).uri);
  assert.equal((step.nearest?.recorded as { uri?: string }).uri, report.session?.uri);

  const mono = temp(); // the project is packages/agent of a monorepo workspace
  tree(mono, ['packages/agent/recordings/write_note.ultra.jsonl', 'packages/agent/replay/write_note.ultra.json', 'packages/other/write_note.ultra.json']);
  const nested = await mapReport(portableReport(), workspaceFiles([mono]));
  assert.deepEqual(nested.missing, []);
  assert.equal(fileUriPath((nested.report.fixture as { uri: string }).uri), path.join(mono, 'packages/agent/replay/write_note.ultra.json'));
});

test('a fixture beside the project (`../shared/x.json`) is found by the path past the `..`', async () => {
  const ws = temp();
  tree(ws, ['agent/recordings/write_note.ultra.jsonl', 'shared/x.json', 'other/x.json']);
  const report: ReplayReport = { version: 2, fixture: { file: '../shared/x.json', path: '../shared/x.json' }, summary: {}, steps: [] };
  const { report: mapped, missing } = await mapReport(report, workspaceFiles([ws]));
  assert.deepEqual(missing, []);
  assert.equal(fileUriPath(mapped.fixture!.uri!), path.join(ws, 'shared/x.json'));
});

test('a version 1 report from CI (absolute /home/runner paths) maps by the longest matching tail', async () => {
  const ws = temp();
  tree(ws, ['recordings/write_note.ultra.jsonl', 'replay/write_note.ultra.json', 'old/replay/write_note.ultra.json']);
  const ci = '/home/runner/work/agent/agent';
  const v1: ReplayReport = {
    version: 1,
    session: { id: 's', uri: `file://${ci}/recordings/write_note.ultra.jsonl` },
    fixture: { uri: `file://${ci}/replay/write_note.ultra.json` },
    summary: {},
    steps: [{ index: 0, status: 'miss', uri: `file://${ci}/recordings/write_note.ultra.jsonl`, nearest: { turn: 0, uri: `file://${ci}/replay/write_note.ultra.json` } }],
  };
  const { report, missing } = await mapReport(v1, workspaceFiles([ws]));
  assert.deepEqual(missing, []);
  assert.equal(fileUriPath(report.fixture!.uri!), path.join(ws, 'replay/write_note.ultra.json')); // not old/replay/...
  assert.equal(fileUriPath(report.steps![0].nearest!.uri!), path.join(ws, 'replay/write_note.ultra.json'));
  assert.equal(v1.fixture!.uri, `file://${ci}/replay/write_note.ultra.json`); // the report read is left as it was
});

test('a file found nowhere loses its link and is named; nothing outside the workspace is ever used', async () => {
  const ws = temp();
  const sibling = temp(); // a sibling checkout that has every file: never used, it is not in the workspace
  tree(sibling, ['recordings/write_note.ultra.jsonl', 'replay/write_note.ultra.json']);
  tree(ws, ['recordings/write_note.ultra.jsonl']);
  const v1: ReplayReport = {
    session: { id: 's', uri: toFileUri(path.join(sibling, 'recordings/write_note.ultra.jsonl')) },
    fixture: { uri: toFileUri(path.join(sibling, 'replay/write_note.ultra.json')) },
    summary: {},
    steps: [],
  };
  const { report, missing } = await mapReport(v1, workspaceFiles([ws]));
  assert.equal(fileUriPath(report.session!.uri!), path.join(ws, 'recordings/write_note.ultra.jsonl')); // "Replay again" runs this one
  assert.equal(report.fixture!.uri, undefined);
  assert.deepEqual(missing, [path.join(sibling, 'replay/write_note.ultra.json')]);

  const v2 = await mapReport(portableReport(), workspaceFiles([ws]));
  assert.deepEqual(v2.missing, ['replay/write_note.ultra.json']);
  assert.equal(v2.report.steps![0].nearest!.uri, undefined);
});

test('a report made in this workspace keeps its URIs, and a database URL stays as it is', async () => {
  const ws = temp();
  tree(ws, ['recordings/a.jsonl', 'replay/a.json']);
  const uri = toFileUri(path.join(ws, 'replay/a.json'));
  const files = workspaceFiles([ws]);
  const { report, missing } = await mapReport(
    { session: { id: 't', uri: 'postgresql://me@127.0.0.1:5432/agents' }, fixture: { uri }, summary: {}, steps: [] },
    files,
  );
  assert.deepEqual(missing, []);
  assert.equal(report.fixture!.uri, uri);
  assert.equal(report.session!.uri, 'postgresql://me@127.0.0.1:5432/agents');
  assert.deepEqual(files.asked, []); // found directly: no search of the workspace
});

// -- the report view of a mapped report, and its similarity ------------------------------------------
const ctx = {
  nonce: 'n',
  cspSource: 'vscode-webview://x',
  styleUri: 'vscode-webview://x/media/webview.css',
  scriptUri: 'vscode-webview://x/dist/webview.js',
  label: (uri: string) => uri.replace(/^file:\/\/\/ws\//, ''),
};

test('files not in this workspace are named, without links; "Replay again" only for a session found here', () => {
  const report = portableReport();
  const html = renderReport({ ...report, unresolved: ['replay/write_note.ultra.json'] }, ctx);
  assert.match(html, /1 file of this report is not in this workspace/);
  assert.match(html, /<li class="mono">replay\/write_note\.ultra\.json<\/li>/);
  assert.match(html, /against fixture <span class="mono">replay\/write_note\.ultra\.json<\/span> <span class="muted">\(not in this workspace\)/);
  assert.doesNotMatch(html, /data-open="/); // no place has a uri: nothing to open
  assert.doesNotMatch(html, /data-action="rerun"/);
  const here = renderReport(
    { ...report, session: { ...report.session, uri: 'file:///ws/recordings/write_note.ultra.jsonl' }, fixture: { uri: 'file:///ws/replay/write_note.ultra.json' } },
    ctx,
  );
  assert.match(here, /data-action="rerun"/);
  assert.match(here, /Session <button class="link mono" data-open="file:\/\/\/ws\/recordings\/write_note\.ultra\.jsonl">recordings\/write_note\.ultra\.jsonl/);
  assert.doesNotMatch(here, /not in this workspace/);
});

test('similarity reads 100% only for identical inputs: the server text, else floored, never 100% beside a diff', () => {
  assert.equal(similarityText({ similarity: 0.9975, similarityText: '99.7%' }), '99.7%');
  assert.equal(similarityText({ similarity: 1, diff: '--- a\n+++ b\n-x\n+y' }), '99.9%'); // a version 1 report, rounded
  assert.equal(similarityText({ similarity: 1, diff: '' }), '100%');
  assert.equal(similarityText({ similarity: 0.9975, diff: 'd' }), '99.7%');
  assert.equal(similarityText({ similarity: 0.57, diff: 'd' }), '57%');
  assert.equal(similarityText({ similarity: 0.999 }), '99.9%');
  for (let i = 0; i <= 1000; i++) {
    const ratio = i / 1000;
    const shown = similarityText({ similarity: ratio, diff: ratio < 1 ? 'd' : '' });
    assert.equal(shown === '100%', ratio === 1, `${ratio} -> ${shown}`);
    assert.ok(Number.parseFloat(shown) <= ratio * 100 + 1e-9, `${ratio} -> ${shown}`);
  }
  const html = renderReport(
    { summary: { misses: 1 }, steps: [{ index: 0, status: 'miss', nearest: { turn: 0, similarity: 1, diff: '--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y' } }] },
    ctx,
  );
  assert.match(html, /\(similarity 99\.9%\)/);
});
