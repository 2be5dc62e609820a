// Replay Lens for VS Code: a client of the Python language server (`python -m server --stdio`).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { errorMessage, UnsupportedError } from './errors';
import { ReportPanel, SessionPanel } from './panels';
import { onDidChangeInterpreter } from './python';
import { Commands, isReplayReport, NormalizedInputResult, RehashResult, ReplayReport, SessionInfo } from './protocol';
import { ServerManager } from './server';
import { isReplayable, KIND_LABELS, SessionItem, SessionsProvider } from './sessions';
import { registerRunTests, showRunTestsResult } from './runTests';
import { RESTART_SETTINGS } from './settings';
import { StatusBar } from './statusBar';
import { isRecordingPath, turnAtCursor } from './turns';

export const NORMALIZED_SCHEME = 'replay-lens-normalized';

/** What the extension exposes to its tests and to other extensions. */
export interface ReplayLensApi {
  server: ServerManager;
  reports: ReportPanel;
  sessionsPanel: SessionPanel;
}

let server: ServerManager | undefined;

class NormalizedInputProvider implements vscode.TextDocumentContentProvider {
  private readonly contents = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  set(uri: vscode.Uri, text: string): void {
    this.contents.set(uri.toString(), text);
    this.changed.fire(uri);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? '';
  }
}

function documentUri(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) {
    return arg;
  }
  if (arg && typeof arg === 'object' && 'uri' in arg && typeof (arg as { uri: unknown }).uri === 'string') {
    return vscode.Uri.parse((arg as { uri: string }).uri);
  }
  return vscode.window.activeTextEditor?.document.uri;
}

function fileName(uri: string | vscode.Uri): string {
  const u = typeof uri === 'string' ? vscode.Uri.parse(uri) : uri;
  return path.posix.basename(u.path);
}

export async function activate(context: vscode.ExtensionContext): Promise<ReplayLensApi> {
  const log = vscode.window.createOutputChannel('Replay Lens', { log: true });
  const statusBar = new StatusBar();
  const normalized = new NormalizedInputProvider();
  context.subscriptions.push(log, statusBar, vscode.workspace.registerTextDocumentContentProvider(NORMALIZED_SCHEME, normalized));
  await vscode.commands.executeCommand('setContext', 'replayLens.active', true);

  const showNormalized = async (uri: string | vscode.Uri, turn: number | undefined, result: NormalizedInputResult | undefined) => {
    const text = typeof result === 'string' ? result : result?.text;
    if (typeof text !== 'string') {
      void vscode.window.showWarningMessage('Replay Lens: the server returned no normalized input for this turn.');
      return;
    }
    const target = vscode.Uri.from({
      scheme: NORMALIZED_SCHEME,
      path: `/${fileName(uri)} turn ${turn ?? '?'} normalized`,
      query: typeof uri === 'string' ? uri : uri.toString(),
    });
    normalized.set(target, text);
    let document = await vscode.workspace.openTextDocument(target);
    if (/^\s*[[{]/.test(text) && document.languageId !== 'json') {
      document = await vscode.languages.setTextDocumentLanguage(document, 'json').then(
        (d) => d,
        () => document,
      );
    }
    await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
  };

  const reportRehash = (uri: string | vscode.Uri | undefined, result: RehashResult | undefined) => {
    const turns = Array.isArray(result?.turns) ? result.turns : [];
    const name = uri ? fileName(uri) : 'this file';
    if (result?.applied && turns.length) {
      void vscode.window.showInformationMessage(
        `Replay Lens: rehashed ${turns.length === 1 ? `turn ${turns[0]}` : `${turns.length} turns (${turns.join(', ')})`} of ${name} under the current rules.`,
      );
    } else if (turns.length === 0) {
      void vscode.window.showInformationMessage(`Replay Lens: no stale turn of ${name} can be rehashed from a recording.`);
    } else {
      void vscode.window.showWarningMessage(`Replay Lens: the rehash of ${name} was not applied (the file changed, or the edit was refused).`);
    }
  };

  // A server command run by VS Code itself (a code lens, a code action's command) returns its
  // result to nobody: show it as the palette commands do.
  const onCommandResult = (command: string, args: unknown[], result: unknown) => {
    const arg = (args?.[0] ?? {}) as { uri?: string; turn?: number };
    if (command === Commands.replaySession && result && typeof result === 'object') {
      reports.show(result as ReplayReport);
    } else if (command === Commands.showNormalizedInput && arg.uri) {
      void showNormalized(arg.uri, arg.turn, result as NormalizedInputResult);
    } else if (command === Commands.rehash && result && typeof result === 'object') {
      reportRehash(arg.uri, result as RehashResult);
    } else if (command === Commands.runReplayTests) {
      showRunTestsResult(result, arg.uri, log);
    }
  };

  server = new ServerManager(context, log, statusBar, onCommandResult);
  const manager = server;
  context.subscriptions.push(manager);

  const sessions = new SessionsProvider(manager, log);
  const tree = vscode.window.createTreeView('replayLens.sessions', { treeDataProvider: sessions, showCollapseAll: false });
  context.subscriptions.push(sessions, tree);

  const fail = (e: unknown, what: string) => {
    if (e instanceof UnsupportedError) {
      void vscode.window.showWarningMessage(`Replay Lens: ${e.message} (${what} is not available).`, 'Show Output').then((c) => {
        if (c) log.show(true);
      });
    } else {
      log.error(`${what}: ${errorMessage(e)}`);
      void vscode.window.showErrorMessage(`Replay Lens: ${what} failed: ${errorMessage(e)}`, 'Show Output').then((c) => {
        if (c) log.show(true);
      });
    }
  };

  const replay = async (uri: string, sessionId?: string) => {
    const report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Replay Lens: replaying ${fileName(uri)}…` },
      () => manager.executeCommand<ReplayReport>(Commands.replaySession, sessionId ? { uri, sessionId } : { uri }),
    );
    if (!report || typeof report !== 'object') {
      throw new Error('the server returned no report');
    }
    reports.show(report);
  };

  const reports = new ReportPanel(log, (uri, id) => replay(uri, id).catch((e) => fail(e, 'Replay')));
  const sessionsPanel = new SessionPanel(log, manager, (uri, id) => replay(uri, id).catch((e) => fail(e, 'Replay')), isReplayable);
  context.subscriptions.push(reports, sessionsPanel);

  const pickSession = async (placeHolder: string, filter: (s: SessionInfo) => boolean): Promise<SessionInfo | undefined> => {
    const all = (await sessions.list()).filter(filter);
    if (all.length === 0) {
      void vscode.window.showInformationMessage('Replay Lens: no session found in this workspace.');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      all.map((s) => ({
        label: s.title || fileName(s.uri),
        description: `${KIND_LABELS[s.kind] ?? s.kind}${typeof s.steps === 'number' ? ` · ${s.steps} steps` : ''}${s.status ? ` · ${s.status}` : ''}`,
        detail: vscode.workspace.asRelativePath(vscode.Uri.parse(s.uri), false),
        session: s,
      })),
      { placeHolder, matchOnDescription: true, matchOnDetail: true },
    );
    return picked?.session;
  };

  const isSessionFile = (uri: vscode.Uri | undefined) => !!uri && uri.scheme === 'file' && /\.(json|jsonl|zst|db|sqlite3?)$/i.test(uri.path);

  const register = (id: string, handler: (...args: unknown[]) => Promise<void> | void) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, handler));

  register('replayLens.replayThisSession', async (arg?: unknown) => {
    try {
      if (arg instanceof SessionItem) {
        return await replay(arg.session.uri, arg.session.id);
      }
      if (arg && typeof arg === 'object' && 'uri' in arg && 'kind' in arg) {
        const s = arg as SessionInfo;
        return await replay(s.uri, s.id);
      }
      const uri = documentUri(arg);
      if (isSessionFile(uri)) {
        return await replay(uri!.toString());
      }
      const session = await pickSession('Replay which session?', isReplayable);
      if (session) {
        await replay(session.uri, session.id);
      }
    } catch (e) {
      fail(e, 'Replay');
    }
  });

  registerRunTests(context, manager, log, fail);

  register('replayLens.rehashStaleTurns', async (arg?: unknown) => {
    const uri = documentUri(arg);
    if (!uri) {
      void vscode.window.showInformationMessage('Replay Lens: open a fixture file to rehash its stale turns.');
      return;
    }
    try {
      const result = await manager.executeCommand<RehashResult>(Commands.rehash, { uri: uri.toString() });
      reportRehash(uri, result);
    } catch (e) {
      fail(e, 'Rehash');
    }
  });

  register('replayLens.showNormalizedInputAtCursor', async () => {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showInformationMessage('Replay Lens: put the cursor in a turn of a fixture (or a call of a recording).');
      return;
    }
    const document = editor.document;
    const position = editor.selection.active;
    const turn = turnAtCursor(document.uri.path, document.getText(), document.offsetAt(position), position.line);
    if (turn === undefined) {
      void vscode.window.showInformationMessage(
        `Replay Lens: the cursor is not in ${isRecordingPath(document.uri.path) ? 'a recorded call' : 'a turn of a fixture'}.`,
      );
      return;
    }
    try {
      const result = await manager.executeCommand<NormalizedInputResult>(Commands.showNormalizedInput, { uri: document.uri.toString(), turn });
      await showNormalized(document.uri, turn, result);
    } catch (e) {
      fail(e, 'Show Normalized Input');
    }
  });

  register('replayLens.openSession', async (arg?: unknown) => {
    try {
      if (arg instanceof SessionItem) {
        return await sessionsPanel.show(arg.session);
      }
      if (arg && typeof arg === 'object' && 'uri' in arg && 'kind' in arg) {
        return await sessionsPanel.show(arg as SessionInfo);
      }
      const uri = documentUri(arg);
      let listing: SessionInfo[] | undefined;
      try {
        listing = await sessions.list();
      } catch (e) {
        if (!(e instanceof UnsupportedError) || !isSessionFile(uri)) {
          throw e;
        }
      }
      const inFile = uri && listing ? listing.filter((s) => s.uri === uri.toString()) : [];
      if (inFile.length === 1) {
        return await sessionsPanel.show(inFile[0]);
      }
      if (!listing && uri) {
        return await sessionsPanel.show({ id: '', uri: uri.toString(), kind: isRecordingPath(uri.path) ? 'recording' : 'fixture' });
      }
      const session = await pickSession('Open which session?', (s) => inFile.length === 0 || inFile.includes(s));
      if (session) {
        await sessionsPanel.show(session);
      }
    } catch (e) {
      fail(e, 'Open Session');
    }
  });

  // A report saved by CI (`python -m server replay --format json > report.json`), shown without a server.
  register('replayLens.openReportFile', async (arg?: unknown) => {
    try {
      let uri = arg instanceof vscode.Uri ? arg : undefined;
      let text: string | undefined;
      const editor = vscode.window.activeTextEditor;
      if (!uri && editor && /\.json$/i.test(editor.document.uri.path)) {
        uri = editor.document.uri;
        text = editor.document.getText();
      }
      if (!uri) {
        const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Replay report': ['json'] }, openLabel: 'Open Report' });
        uri = picked?.[0];
      }
      if (!uri) {
        return;
      }
      text ??= new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
      let report: unknown;
      try {
        report = JSON.parse(text);
      } catch {
        report = undefined;
      }
      if (!isReplayReport(report)) {
        void vscode.window.showWarningMessage(`Replay Lens: ${fileName(uri)} is not a replay report (the output of python -m server replay --format json).`);
        return;
      }
      reports.show(report);
    } catch (e) {
      fail(e, 'Open Replay Report');
    }
  });

  register('replayLens.restartServer', () => manager.restart('Restart Server command'));
  register('replayLens.refreshSessions', () => sessions.refresh());
  register('replayLens.showOutput', () => log.show(true));

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      const changed = RESTART_SETTINGS.filter((s) => e.affectsConfiguration(s));
      if (changed.length) {
        manager.scheduleRestart(`settings changed: ${changed.join(', ')}`);
      }
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => manager.scheduleRestart('the workspace is now trusted')),
    manager.onDidChangeState(() => sessions.refresh(200)),
    manager.onDidChangeStatus((status) => {
      if (!status.indexing) sessions.refresh(500);
    }),
  );
  void onDidChangeInterpreter(() => {
    if (vscode.workspace.isTrusted) manager.scheduleRestart('the Python interpreter changed');
  }).then((d) => d && context.subscriptions.push(d));

  await manager.start();
  return { server: manager, reports, sessionsPanel };
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
