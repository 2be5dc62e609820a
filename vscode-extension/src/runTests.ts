// "Replay Lens: Run Replay Tests": the server runs pytest with the capture (`--replay-lens=capture`)
// for the tests that replay the active fixture (or all of them), with a cancellable progress, and
// the captures turn unverifiable keys into verdicts. It runs the project's code, so only in a
// trusted workspace (the server refuses too, unless the extension told it the workspace is trusted).
import * as vscode from 'vscode';
import { Commands, RunReplayTestsResult } from './protocol';

export const RUN_TESTS_COMMAND = 'replayLens.runTests';

export interface RunTestsMessage {
  text: string;
  severity: 'info' | 'warning';
}

/** What to tell the user once pytest is done (or was cancelled). */
export function runTestsMessage(result: RunReplayTestsResult, fixture?: string): RunTestsMessage {
  const which = fixture ? `the replay tests of ${fixture}` : 'the replay tests';
  if (result.cancelled) {
    return { text: `Replay Lens: ${which} were cancelled.`, severity: 'warning' };
  }
  const counts = Object.entries(result.outcomes ?? {})
    .map(([word, count]) => `${count} ${word}`)
    .join(', ');
  const summary = counts || result.summary || `pytest exited with ${result.exitCode}`;
  const failed = (result.exitCode ?? 0) !== 0;
  return {
    text: `Replay Lens: ran ${which} with the capture: ${summary}. ${failed ? 'See Problems for the misses and their diffs.' : 'Every captured call is checked in Problems.'}`,
    severity: failed ? 'warning' : 'info',
  };
}

export function showRunTestsResult(result: unknown, uri: string | undefined, log: vscode.LogOutputChannel): void {
  if (!result || typeof result !== 'object') {
    return;
  }
  const typed = result as RunReplayTestsResult;
  for (const line of typed.output ?? []) {
    log.info(`pytest: ${line}`);
  }
  const name = uri ? vscode.Uri.parse(uri).path.split('/').pop() : undefined;
  const message = runTestsMessage(typed, name);
  const show = message.severity === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
  void show(message.text, 'Show Problems', 'Show Output').then((choice) => {
    if (choice === 'Show Problems') void vscode.commands.executeCommand('workbench.actions.view.problems');
    if (choice === 'Show Output') log.show(true);
  });
}

interface Runner {
  executeCommand<T>(command: string, argument: unknown): Promise<T>;
}

export function registerRunTests(
  context: vscode.ExtensionContext,
  manager: Runner,
  log: vscode.LogOutputChannel,
  fail: (e: unknown, what: string) => void,
): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(RUN_TESTS_COMMAND, async (arg?: unknown) => {
      if (!vscode.workspace.isTrusted) {
        const choice = await vscode.window.showInformationMessage(
          'Replay Lens runs the replay tests (your project\'s code) only in a trusted workspace.',
          'Manage Workspace Trust',
        );
        if (choice) void vscode.commands.executeCommand('workbench.trust.manage');
        return;
      }
      const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
      const fixture = uri && uri.scheme === 'file' && uri.path.endsWith('.json') ? uri.toString() : undefined;
      try {
        const result = await manager.executeCommand<RunReplayTestsResult>(Commands.runReplayTests, fixture ? { uri: fixture } : {});
        showRunTestsResult(result, fixture, log);
      } catch (e) {
        fail(e, 'Run Replay Tests');
      }
    }),
  );
}
