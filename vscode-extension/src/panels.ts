// The webview panels: the replay report and a session's steps (a virtual list the webview fills
// page by page as it scrolls). Clicking a report's step opens the fixture or recording at that turn.
import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import { errorMessage } from './errors';
import { renderMessage, renderReport, renderStepsView, RenderContext, stepDetail, stepRow } from './html';
import { Range, ReplayReport, Requests, SessionInfo, SessionStep, StepsResult } from './protocol';
import type { ServerManager } from './server';
import { isRecordingPath, turnRange } from './turns';

/** Steps per request of the steps view (the server allows up to 1000). */
export const STEPS_PAGE_SIZE = 200;

interface OpenMessage {
  type: 'open';
  uri: string;
  range?: Range;
  turn?: number;
}
type WebviewMessage =
  | OpenMessage
  | { type: 'pages'; generation: number; pages: number[] }
  | { type: 'all'; generation: number }
  | { type: 'detail'; generation: number; position: number }
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
  /** Which list the webview shows: replies to an older one are dropped by the webview. */
  private generation = 0;
  private total = 0;
  private readonly pages = new Map<number, Promise<SessionStep[]>>();

  constructor(
    extensionUri: vscode.Uri,
    log: vscode.LogOutputChannel,
    private readonly server: ServerManager,
    private readonly replay: (uri: string, sessionId?: string) => Promise<void>,
    private readonly replayable: (session: SessionInfo) => boolean,
  ) {
    super('replayLens.session', extensionUri, log);
  }

  /** Shows the session's steps: the first page tells their number; the webview asks for the rest as it scrolls. */
  async show(session: SessionInfo): Promise<void> {
    this.session = session;
    this.generation += 1;
    this.pages.clear();
    const title = session.title ?? vscode.workspace.asRelativePath(vscode.Uri.parse(session.uri), false);
    const panel = this.ensure(`Session: ${title}`);
    let first: StepsResult;
    try {
      first = await this.request(1);
    } catch (e) {
      panel.webview.html = renderMessage(this.context(panel.webview), title, errorMessage(e));
      throw e;
    }
    const steps = Array.isArray(first?.steps) ? first.steps : [];
    this.pages.set(1, Promise.resolve(steps));
    this.total = typeof first.total === 'number' ? first.total : steps.length;
    panel.webview.html = renderStepsView(
      session,
      { total: this.total, pageSize: STEPS_PAGE_SIZE, generation: this.generation },
      this.context(panel.webview),
      this.replayable(session),
    );
  }

  private request(page: number): Promise<StepsResult> {
    const session = this.session!;
    return this.server.request<StepsResult>(Requests.steps, { uri: session.uri, sessionId: session.id, page, pageSize: STEPS_PAGE_SIZE });
  }

  /** The steps of one page, asked of the server once per shown list. */
  private page(page: number): Promise<SessionStep[]> {
    let steps = this.pages.get(page);
    if (!steps) {
      steps = this.request(page).then((r) => (Array.isArray(r?.steps) ? r.steps : []));
      this.pages.set(page, steps);
      steps.catch(() => this.pages.delete(page)); // asked again when the webview scrolls back
    }
    return steps;
  }

  private get pageCount(): number {
    return Math.max(1, Math.ceil(this.total / STEPS_PAGE_SIZE));
  }

  /** Sends the rows of `page` to the webview (nothing when the list shown has changed meanwhile). */
  private async sendPage(page: number, generation: number): Promise<void> {
    const steps = await this.page(page);
    const panel = this.panel;
    if (!panel || generation !== this.generation) return;
    const ctx = this.context(panel.webview);
    const rows = steps.map((step, i) => stepRow(step, (page - 1) * STEPS_PAGE_SIZE + i, ctx));
    await panel.webview.postMessage({ type: 'rows', generation, page, rows });
  }

  /** The detail of the step at `position`, with the input messages new since its caller's previous call. */
  private async sendDetail(position: number, generation: number): Promise<void> {
    const page = Math.floor(position / STEPS_PAGE_SIZE) + 1;
    const step = (await this.page(page))[position % STEPS_PAGE_SIZE];
    const panel = this.panel;
    if (!step || !panel || !this.session || generation !== this.generation) return;
    let previous = 0;
    const who = step.caller || step.name || step.model || step.kind;
    if (step.kind === 'model') {
      // Back through the pages already read: the same caller's previous model call.
      for (let p = position - 1; p >= 0; p--) {
        const held = this.pages.get(Math.floor(p / STEPS_PAGE_SIZE) + 1);
        if (!held) break;
        const earlier = (await held)[p % STEPS_PAGE_SIZE];
        if (earlier?.kind === 'model' && (earlier.caller || earlier.name || earlier.model || earlier.kind) === who) {
          previous = Array.isArray(earlier.input) ? earlier.input.length : 0;
          break;
        }
      }
    }
    const html = stepDetail(step, previous, this.session.uri, this.context(panel.webview));
    await panel.webview.postMessage({ type: 'detail', generation, position, html });
  }

  protected async onMessage(message: WebviewMessage): Promise<void> {
    if (!this.session) {
      return;
    }
    const current = 'generation' in message && message.generation === this.generation;
    if (message.type === 'pages' && current && Array.isArray(message.pages)) {
      const wanted = message.pages.filter((p) => Number.isInteger(p) && p >= 1 && p <= this.pageCount);
      await Promise.all(wanted.map((p) => this.sendPage(p, message.generation)));
    } else if (message.type === 'all' && current) {
      for (let p = 1; p <= this.pageCount && message.generation === this.generation; p++) {
        await this.sendPage(p, message.generation);
      }
    } else if (message.type === 'detail' && current && Number.isInteger(message.position) && message.position >= 0 && message.position < this.total) {
      await this.sendDetail(message.position, message.generation);
    } else if (message.type === 'replay') {
      await this.replay(this.session.uri, this.session.id);
    }
  }

  /** The pages asked of the server for the list shown (for tests). */
  get pagesRead(): number[] {
    return [...this.pages.keys()].sort((a, b) => a - b);
  }
}
