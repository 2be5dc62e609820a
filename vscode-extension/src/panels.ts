// The webview panels: the replay report and a session's steps (paginated). Clicking a step opens
// the fixture or recording at that turn.
import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import { errorMessage } from './errors';
import { renderMessage, renderReport, renderSteps, RenderContext } from './html';
import { Range, ReplayReport, Requests, SessionInfo, StepsResult } from './protocol';
import type { ServerManager } from './server';
import { isRecordingPath, turnRange } from './turns';

export const STEPS_PAGE_SIZE = 50;

interface OpenMessage {
  type: 'open';
  uri: string;
  range?: Range;
  turn?: number;
}
type WebviewMessage =
  | OpenMessage
  | { type: 'page'; page: number }
  | { type: 'rerun' }
  | { type: 'replay' }
  | { type: 'rehash'; uri: string; turn: number }
  | { type: 'diff'; step: number };

/** What the report's buttons do beside "Replay again". */
export interface ReportActions {
  rehash(uri: string, turn: number): Promise<void>;
  diff(report: ReplayReport, step: number): Promise<void>;
}

function nonce(): string {
  return crypto.randomBytes(16).toString('hex');
}

/** The folders a webview may load from: the style sheet and the bundled script. */
function mediaRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'media'), vscode.Uri.joinPath(extensionUri, 'dist')];
}

function renderContext(webview: vscode.Webview, extensionUri: vscode.Uri): RenderContext {
  return {
    nonce: nonce(),
    cspSource: webview.cspSource,
    styleUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'webview.css')).toString(),
    scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js')).toString(),
    label: (uri: string) => {
      try {
        return vscode.workspace.asRelativePath(vscode.Uri.parse(uri), false);
      } catch {
        return uri;
      }
    },
  };
}

function lineOfCall(document: vscode.TextDocument, index: number): number | undefined {
  let seen = -1;
  for (let line = 0; line < document.lineCount; line++) {
    if (document.lineAt(line).text.trim() !== '') {
      seen++;
      if (seen === index) {
        return line;
      }
    }
  }
  return undefined;
}

/** Opens `uri` at `range`, or at fixture turn / recording call `turn`. */
export async function openLocation(uri: string, range?: Range, turn?: number): Promise<void> {
  const target = vscode.Uri.parse(uri);
  if (target.scheme === 'file') {
    try {
      await vscode.workspace.fs.stat(target);
    } catch {
      throw new Error(`${vscode.workspace.asRelativePath(target, false)} does not exist (any more) in this workspace`);
    }
  }
  const document = await vscode.workspace.openTextDocument(target);
  let selection: vscode.Range | undefined;
  if (range) {
    selection = new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character);
  } else if (typeof turn === 'number') {
    if (isRecordingPath(document.uri.path)) {
      const line = lineOfCall(document, turn);
      if (line !== undefined) {
        selection = new vscode.Range(line, 0, line, 0);
      }
    } else {
      const r = turnRange(document.getText(), turn);
      if (r) {
        const start = document.positionAt(r.start);
        selection = new vscode.Range(start, start);
      }
    }
  }
  const editor = await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.One, selection, preview: false });
  if (selection) {
    editor.revealRange(selection, vscode.TextEditorRevealType.AtTop);
  }
}

abstract class Panel implements vscode.Disposable {
  protected panel: vscode.WebviewPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly viewType: string,
    protected readonly extensionUri: vscode.Uri,
    protected readonly log: vscode.LogOutputChannel,
  ) {}

  protected context(webview: vscode.Webview): RenderContext {
    return renderContext(webview, this.extensionUri);
  }

  protected ensure(title: string): vscode.WebviewPanel {
    if (this.panel) {
      this.panel.title = title;
      this.panel.reveal(this.panel.viewColumn ?? vscode.ViewColumn.Beside, false);
      return this.panel;
    }
    const panel = vscode.window.createWebviewPanel(this.viewType, title, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false }, {
      enableScripts: true,
      enableCommandUris: false,
      localResourceRoots: mediaRoots(this.extensionUri),
      retainContextWhenHidden: false,
    });
    this.panel = panel;
    panel.onDidDispose(() => {
      this.panel = undefined;
    }, undefined, this.disposables);
    panel.webview.onDidReceiveMessage((m: WebviewMessage) => void this.handle(m), undefined, this.disposables);
    return panel;
  }

  private async handle(message: WebviewMessage): Promise<void> {
    try {
      if (message.type === 'open' && typeof message.uri === 'string') {
        await openLocation(message.uri, message.range, message.turn);
      } else {
        await this.onMessage(message);
      }
    } catch (e) {
      this.log.error(`${this.viewType}: ${errorMessage(e)}`);
      void vscode.window.showErrorMessage(`Replay Lens: ${errorMessage(e)}`);
    }
  }

  protected abstract onMessage(message: WebviewMessage): Promise<void>;

  get visible(): boolean {
    return !!this.panel;
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

export class ReportPanel extends Panel {
  private report: ReplayReport | undefined;

  constructor(
    extensionUri: vscode.Uri,
    log: vscode.LogOutputChannel,
    private readonly rerun: (uri: string, sessionId?: string) => Promise<void>,
    private readonly actions?: ReportActions,
  ) {
    super('replayLens.report', extensionUri, log);
  }

  show(report: ReplayReport): void {
    this.report = report;
    const uri = report.session?.uri;
    const name = report.session?.title ?? (uri ? vscode.workspace.asRelativePath(vscode.Uri.parse(uri), false).split('/').pop() : 'session');
    const panel = this.ensure(`Replay: ${name}`);
    panel.webview.html = renderReport(report, this.context(panel.webview));
  }

  /** The last report shown (for tests and "Replay again"). */
  get current(): ReplayReport | undefined {
    return this.report;
  }

  protected async onMessage(message: WebviewMessage): Promise<void> {
    if (message.type === 'rerun' && this.report?.session?.uri) {
      await this.rerun(this.report.session.uri, this.report.session.id);
    } else if (message.type === 'rehash' && typeof message.uri === 'string' && Number.isInteger(message.turn)) {
      await this.actions?.rehash(message.uri, message.turn);
    } else if (message.type === 'diff' && this.report && Number.isInteger(message.step)) {
      await this.actions?.diff(this.report, message.step);
    }
  }
}

export class SessionPanel extends Panel {
  private session: SessionInfo | undefined;
  private page = 1;

  constructor(
    extensionUri: vscode.Uri,
    log: vscode.LogOutputChannel,
    private readonly server: ServerManager,
    private readonly replay: (uri: string, sessionId?: string) => Promise<void>,
    private readonly replayable: (session: SessionInfo) => boolean,
  ) {
    super('replayLens.session', extensionUri, log);
  }

  async show(session: SessionInfo, page = 1): Promise<void> {
    this.session = session;
    this.page = page;
    const title = session.title ?? vscode.workspace.asRelativePath(vscode.Uri.parse(session.uri), false);
    const panel = this.ensure(`Session: ${title}`);
    let result: StepsResult;
    try {
      result = await this.server.request<StepsResult>(Requests.steps, {
        uri: session.uri,
        sessionId: session.id,
        page,
        pageSize: STEPS_PAGE_SIZE,
      });
    } catch (e) {
      panel.webview.html = renderMessage(this.context(panel.webview), title, errorMessage(e));
      throw e;
    }
    const steps = Array.isArray(result?.steps) ? result.steps : [];
    panel.webview.html = renderSteps(
      session,
      { page: result.page ?? page, pageSize: result.pageSize ?? STEPS_PAGE_SIZE, total: result.total ?? steps.length, steps },
      this.context(panel.webview),
      this.replayable(session),
    );
  }

  protected async onMessage(message: WebviewMessage): Promise<void> {
    if (!this.session) {
      return;
    }
    if (message.type === 'page' && Number.isInteger(message.page) && message.page >= 1) {
      await this.show(this.session, message.page);
    } else if (message.type === 'replay') {
      await this.replay(this.session.uri, this.session.id);
    }
  }

  get currentPage(): number {
    return this.page;
  }
}
