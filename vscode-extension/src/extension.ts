// Replay Lens for VS Code, a client of the Python language server: this file only composes the
// parts (server, status bar, views, panels, commands) and wires the events that restart the server.
import * as vscode from 'vscode';
import { registerCommands, rehashTurn, replay, reportFailure, trackFixtureEditor } from './commands';
import { ReportPanel, SessionPanel } from './panels';
import { onDidChangeInterpreter } from './python';
import { NORMALIZED_SCHEME, NormalizedInputProvider, ResultViews } from './results';
import { registerRunTests } from './runTests';
import { ServerManager } from './server';
import { isReplayable, SessionsProvider } from './sessions';
import { RESTART_SETTINGS } from './settings';
import { StatusBar } from './statusBar';

export { NORMALIZED_SCHEME };

/** What the extension exposes to its tests and to other extensions. */
export interface ReplayLensApi {
  server: ServerManager;
  reports: ReportPanel;
  sessionsPanel: SessionPanel;
}

let server: ServerManager | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<ReplayLensApi> {
  const log = vscode.window.createOutputChannel('Replay Lens', { log: true });
  const statusBar = new StatusBar();
  const normalized = new NormalizedInputProvider();
  const results = new ResultViews(normalized, () => reports, log);
  const manager = (server = new ServerManager(context, log, statusBar, (command, args, result) => results.onCommandResult(command, args, result)));
  const replayAgain = (uri: string, id?: string) => replay({ manager, reports }, uri, id).catch((e) => reportFailure(log, e, 'Replay'));
  const reports: ReportPanel = new ReportPanel(context.extensionUri, log, replayAgain, {
    rehash: (uri, turn) => rehashTurn({ manager, results }, uri, turn).catch((e) => reportFailure(log, e, 'Rehash')),
    diff: (report, step) => results.openDiff(report, step),
  });
  const sessionsPanel = new SessionPanel(context.extensionUri, log, manager, replayAgain, isReplayable);
  const sessions = new SessionsProvider(manager, log);
  context.subscriptions.push(
    log,
    statusBar,
    normalized,
    manager,
    sessions,
    reports,
    sessionsPanel,
    vscode.workspace.registerTextDocumentContentProvider(NORMALIZED_SCHEME, normalized),
    (sessions.view = vscode.window.createTreeView('replayLens.sessions', { treeDataProvider: sessions, showCollapseAll: true })),
    ...registerCommands({ manager, log, sessions, reports, sessionsPanel, results }),
    trackFixtureEditor(),
    vscode.workspace.onDidChangeConfiguration((e) => {
      const changed = RESTART_SETTINGS.filter((s) => e.affectsConfiguration(s));
      if (changed.length) manager.scheduleRestart(`settings changed: ${changed.join(', ')}`);
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => manager.scheduleRestart('the workspace is now trusted')),
    log.onDidChangeLogLevel(() => manager.onLogLevelChanged()),
    manager.onDidChangeState(() => sessions.refresh(200)),
    manager.onDidChangeStatus((status) => status.indexing || sessions.refresh(500)),
  );
  void onDidChangeInterpreter(() => vscode.workspace.isTrusted && manager.scheduleRestart('the Python interpreter changed')).then(
    (d) => d && context.subscriptions.push(d),
  );
  registerRunTests(context, manager, log, (e, what) => reportFailure(log, e, what));
  await vscode.commands.executeCommand('setContext', 'replayLens.active', true);
  await manager.start();
  return { server: manager, reports, sessionsPanel };
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
