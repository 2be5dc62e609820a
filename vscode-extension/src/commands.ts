// The palette, Explorer and Sessions view commands. Each one asks the server and shows the
// result (results.ts); failures become one message with the cause, never a raw error.
import * as vscode from 'vscode';
import { errorMessage, UnsupportedError } from './errors';
import type { ReportPanel, SessionPanel } from './panels';
import { Commands, isReplayReport, NormalizedInputResult, RehashResult, ReplayReport, SessionInfo } from './protocol';
import { fileName, ResultViews } from './results';
import type { ServerManager } from './server';
import { isReplayable, KIND_LABELS, SessionItem, SessionsProvider } from './sessions';
import { mapReport, WorkspaceFiles } from './reportPaths';
import { fileGlobs, RECORDING_GLOBS } from './settings';
import { plural } from './text';
import { isFixturePath, isRecordingPath, isSessionPath, turnAtCursor } from './turns';

export interface CommandDeps {
  manager: ServerManager;
  log: vscode.LogOutputChannel;
  sessions: SessionsProvider;
  reports: ReportPanel;
  sessionsPanel: SessionPanel;
  results: ResultViews;
}

function documentUri(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) {
    return arg;
  }
  if (arg && typeof arg === 'object' && 'uri' in arg && typeof (arg).uri === 'string') {
    return vscode.Uri.parse((arg as { uri: string }).uri);
  }
  return vscode.window.activeTextEditor?.document.uri;
}

function isSessionFile(uri: vscode.Uri | undefined): uri is vscode.Uri {
  return !!uri && uri.scheme === 'file' && isSessionPath(uri.path);
}

function asSession(arg: unknown): SessionInfo | undefined {
  if (arg instanceof SessionItem) {
    return arg.session;
  }
  if (arg && typeof arg === 'object' && 'uri' in arg && 'kind' in arg) {
    return arg as SessionInfo;
  }
  return undefined;
}

/** Shows a failure once: a missing server feature as a warning, anything else as an error with the output. */
export function reportFailure(log: vscode.LogOutputChannel, e: unknown, what: string): void {
  if (e instanceof UnsupportedError) {
    void vscode.window.showWarningMessage(`Replay Lens: ${e.message} (${what} is not available).`, 'Show Output').then((c) => {
      if (c) log.show(true);
    });
    return;
  }
  log.error(`${what}: ${errorMessage(e)}`);
  void vscode.window.showErrorMessage(`Replay Lens: ${what} failed: ${errorMessage(e)}`, 'Show Output').then((c) => {
    if (c) log.show(true);
  });
}

export async function replay(deps: Pick<CommandDeps, 'manager' | 'reports'>, uri: string, sessionId?: string): Promise<void> {
  const report = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Replay Lens: replaying ${fileName(uri)}…` },
    () => deps.manager.executeCommand<ReplayReport>(Commands.replaySession, sessionId ? { uri, sessionId } : { uri }),
  );
  if (!report || typeof report !== 'object') {
    throw new Error('the server returned no report');
  }
  deps.reports.show(report);
}

async function pickSession(deps: CommandDeps, placeHolder: string, filter: (s: SessionInfo) => boolean): Promise<SessionInfo | undefined> {
  const all = (await deps.sessions.list()).filter(filter);
  if (all.length === 0) {
    void vscode.window.showInformationMessage('Replay Lens: no session found in this workspace.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    all.map((s) => ({
      label: s.title || fileName(s.uri),
      description: `${KIND_LABELS[s.kind] ?? s.kind}${typeof s.steps === 'number' ? ` · ${plural(s.steps, 'step')}` : ''}${s.status ? ` · ${s.status}` : ''}`,
      detail: vscode.workspace.asRelativePath(vscode.Uri.parse(s.uri), false),
      session: s,
    })),
    { placeHolder, matchOnDescription: true, matchOnDetail: true },
  );
  return picked?.session;
}

/** Rehashes one turn (the report's button on a stale miss). */
export async function rehashTurn(deps: Pick<CommandDeps, 'manager' | 'results'>, uri: string, turn: number): Promise<void> {
  const result = await deps.manager.executeCommand<RehashResult>(Commands.rehash, { uri, turn });
  deps.results.showRehash(uri, result);
}

async function replayThisSession(deps: CommandDeps, arg?: unknown): Promise<void> {
  const session = asSession(arg);
  if (session) {
    return replay(deps, session.uri, session.id);
  }
  const uri = documentUri(arg);
  if (isSessionFile(uri)) {
    return replay(deps, uri.toString());
  }
  const picked = await pickSession(deps, 'Replay which session?', isReplayable);
  if (picked) {
    await replay(deps, picked.uri, picked.id);
  }
}

async function rehashStaleTurns(deps: CommandDeps, arg?: unknown): Promise<void> {
  const uri = documentUri(arg);
  if (!uri || uri.scheme !== 'file' || !isFixturePath(uri.path)) {
    void vscode.window.showInformationMessage(
      `Replay Lens: Rehash works on a fixture file (.json)${uri ? `; ${fileName(uri)} is not one` : ''}. Open a fixture to rehash its stale turns.`,
    );
    return;
  }
  const result = await deps.manager.executeCommand<RehashResult>(Commands.rehash, { uri: uri.toString() });
  deps.results.showRehash(uri, result);
}

async function showNormalizedInputAtCursor(deps: CommandDeps): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('Replay Lens: put the cursor in a turn of a fixture (or a call of a recording).');
    return;
  }
  const document = editor.document;
  const position = editor.selection.active;
  const turn = turnAtCursor(document.uri.path, document.getText(), document.offsetAt(position), position.line);
  if (turn === undefined) {
    void vscode.window.showInformationMessage(`Replay Lens: the cursor is not in ${isRecordingPath(document.uri.path) ? 'a recorded call' : 'a turn of a fixture'}.`);
    return;
  }
  const result = await deps.manager.executeCommand<NormalizedInputResult>(Commands.showNormalizedInput, { uri: document.uri.toString(), turn });
  await deps.results.showNormalized(document.uri, turn, result);
}

async function openSession(deps: CommandDeps, arg?: unknown): Promise<void> {
  const session = asSession(arg);
  if (session) {
    return deps.sessionsPanel.show(session);
  }
  const uri = documentUri(arg);
  let listing: SessionInfo[] | undefined;
  try {
    listing = await deps.sessions.list();
  } catch (e) {
    if (!(e instanceof UnsupportedError) || !isSessionFile(uri)) {
      throw e;
    }
  }
  const inFile = uri && listing ? listing.filter((s) => s.uri === uri.toString()) : [];
  if (inFile.length === 1) {
    return deps.sessionsPanel.show(inFile[0]);
  }
  if (!listing && uri) {
    return deps.sessionsPanel.show({ id: '', uri: uri.toString(), kind: isRecordingPath(uri.path) ? 'recording' : 'fixture' });
  }
  const picked = await pickSession(deps, 'Open which session?', (s) => inFile.length === 0 || inFile.includes(s));
  if (picked) {
    await deps.sessionsPanel.show(picked);
  }
}

/** A report saved by CI (`python -m server replay --format json > report.json`), shown without a server. */
async function openReportFile(deps: CommandDeps, arg?: unknown): Promise<void> {
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
  // Made elsewhere (CI, another checkout): its files are mapped into this workspace, or named as missing.
  const mapped = await mapReport(report, workspaceFiles());
  deps.reports.show({ ...mapped.report, unresolved: mapped.missing });
  if (mapped.missing.length > 0) {
    void vscode.window.showWarningMessage(
      `Replay Lens: ${plural(mapped.missing.length, 'file')} of ${fileName(uri)} ${mapped.missing.length === 1 ? 'is' : 'are'} not in this workspace: ${mapped.missing.slice(0, 3).join(', ')}${mapped.missing.length > 3 ? ', …' : ''}. Open the project the report was made for to follow its links.`,
    );
  }
}

/** The workspace as the report mapping reads it: its folders, and files found by name (no build output). */
function workspaceFiles(): WorkspaceFiles {
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
  return {
    folders: folders.map((f) => f.uri.fsPath),
    isFile: async (path) => {
      try {
        return (await vscode.workspace.fs.stat(vscode.Uri.file(path))).type === vscode.FileType.File;
      } catch {
        return false;
      }
    },
    named: async (name) => {
      const glob = `**/${name.replace(/[[\]{}*?!]/g, (c) => `[${c}]`)}`;
      const found = await Promise.all(folders.map((f) => vscode.workspace.findFiles(new vscode.RelativePattern(f, glob), '**/node_modules/**', 200)));
      return found.flat().map((u) => u.fsPath);
    },
  };
}

/**
 * The context key `replayLens.fixtureEditor`: whether the active editor holds a fixture (a `.json`
 * file under the built-in globs or `replayLens.fixtureGlobs`). The palette offers Rehash only then:
 * on any other file (a report, a `.py`) it could only say that the file is no fixture.
 */
export function trackFixtureEditor(): vscode.Disposable {
  const update = () => {
    const document = vscode.window.activeTextEditor?.document;
    const globs = fileGlobs(vscode.workspace.getConfiguration('replayLens').get<unknown[]>('fixtureGlobs', [])).filter((g) => !RECORDING_GLOBS.includes(g));
    const fixture =
      !!document && document.uri.scheme === 'file' && isFixturePath(document.uri.path) && globs.some((pattern) => vscode.languages.match({ scheme: 'file', pattern }, document) > 0);
    void vscode.commands.executeCommand('setContext', 'replayLens.fixtureEditor', fixture);
  };
  update();
  return vscode.Disposable.from(
    vscode.window.onDidChangeActiveTextEditor(update),
    vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('replayLens.fixtureGlobs') && update()),
  );
}

/** Registers every command of the manifest; the returned disposables unregister them. */
export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const guarded =
    (what: string, handler: (deps: CommandDeps, arg?: unknown) => Promise<void>) =>
    async (arg?: unknown): Promise<void> => {
      try {
        await handler(deps, arg);
      } catch (e) {
        reportFailure(deps.log, e, what);
      }
    };
  const commands: Record<string, (arg?: unknown) => unknown> = {
    'replayLens.replayThisSession': guarded('Replay', replayThisSession),
    'replayLens.rehashStaleTurns': guarded('Rehash', rehashStaleTurns),
    'replayLens.showNormalizedInputAtCursor': guarded('Show Normalized Input', showNormalizedInputAtCursor),
    'replayLens.openSession': guarded('Open Session', openSession),
    'replayLens.openAsSession': guarded('Open Session', openSession),
    'replayLens.openReportFile': guarded('Open Replay Report', openReportFile),
    'replayLens.restartServer': () => deps.manager.restart('Restart Server command'),
    'replayLens.refreshSessions': () => deps.sessions.refresh(),
    'replayLens.filterSessions': async () => {
      const text = await vscode.window.showInputBox({
        title: 'Filter sessions',
        prompt: 'Part of a name, a kind (recording, fixture, Codex, CATO, LangGraph), a path or a status (stale, error)',
        value: deps.sessions.filter,
      });
      if (text !== undefined) deps.sessions.setFilter(text);
    },
    'replayLens.clearSessionsFilter': () => deps.sessions.setFilter(''),
    'replayLens.showOutput': () => deps.log.show(true),
  };
  return Object.entries(commands).map(([id, handler]) => vscode.commands.registerCommand(id, handler));
}
