// The output channel: each line once, at its level.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as vscode from 'vscode';
import { clientOutput, ServerStderr, traceOutput } from '../src/logging';

function recordingLog() {
  const lines: string[] = [];
  const write = (level: string) => (message: string) => lines.push(`${level} ${message}`);
  const log = { name: 'Replay Lens', trace: write('trace'), debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
  return { lines, log: log as unknown as vscode.LogOutputChannel };
}

test("the server's stderr: Python logging records at their level, split across chunks; anything else is an error", () => {
  const { lines, log } = recordingLog();
  const stderr = new ServerStderr(log);
  stderr.feed('2026-12-06 04:00:00,123 INFO server.lsp.server: Replay Lens 0.1.0 start');
  stderr.feed('ing\n2026-12-06 04:00:01,000 WARNING server.lsp.state: a broken fixture\n2026-12-06 04:00:02,5 DEBUG pygls: sent\n');
  stderr.feed('Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad\n');
  stderr.feed('2026-12-06 04:00:03,000 CRITICAL server: gone');
  stderr.flush();
  assert.deepEqual(lines, [
    'info server.lsp.server: Replay Lens 0.1.0 starting',
    'warn server.lsp.state: a broken fixture',
    'debug pygls: sent',
    'error Traceback (most recent call last):',
    'error   File "x.py", line 1',
    'error ValueError: bad',
    'error server: gone',
  ]);
  assert.deepEqual(stderr.lastLines(2), ['ValueError: bad', '2026-12-06 04:00:03,000 CRITICAL server: gone']);
});

test("the client's messages at their level; the window/logMessage copies of the server's records are dropped", () => {
  const { lines, log } = recordingLog();
  const channel = clientOutput(log);
  channel.appendLine('[Info  - 04:00:00] WARNING server.lsp.state: a broken fixture');
  channel.appendLine('[Error - 04:00:01] Request textDocument/hover failed.');
  channel.appendLine('  Message: boom\n  Code: -32603 ');
  channel.appendLine('[Warn  - 04:00:02] Unknown notification');
  channel.append('no prefix: same level as before\n');
  assert.deepEqual(lines, [
    'error Request textDocument/hover failed.',
    'error   Message: boom\n  Code: -32603 ',
    'warn Unknown notification',
    'warn no prefix: same level as before',
  ]);
});

test('the JSON-RPC trace goes to the trace level', () => {
  const { lines, log } = recordingLog();
  const channel = traceOutput(log);
  channel.appendLine("[Trace - 04:00:00] Sending request 'initialize - (0)'.");
  channel.appendLine('Params: {"processId": 1}');
  channel.appendLine('');
  assert.deepEqual(lines, ["trace Sending request 'initialize - (0)'.", 'trace Params: {"processId": 1}']);
});
