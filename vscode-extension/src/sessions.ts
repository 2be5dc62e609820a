// The Sessions view in the Explorer: what `replayLens/sessions` lists, with status icons.
// A server without that request gets a clear message (viewsWelcome), not an error.
import * as vscode from 'vscode';
import { errorMessage, UnsupportedError } from './errors';
import { Requests, SessionInfo, SessionsResult } from './protocol';
import type { ServerManager } from './server';

export const KIND_LABELS: Record<string, string> = {
  recording: 'recording',
  fixture: 'fixture',
  'codex-bundle': 'Codex trace',
  'codex-rollout': 'Codex rollout',
  'cato-audit': 'CATO audit log',
  'langgraph-checkpoints': 'LangGraph checkpoints',
  'majordomo-run': 'majordomo run',
};

const KIND_ICONS: Record<string, string> = {
  recording: 'record',
  fixture: 'file-code',
  'codex-bundle': 'folder-library',
  'codex-rollout': 'history',
  'cato-audit': 'shield',
  'langgraph-checkpoints': 'database',
  'majordomo-run': 'checklist',
};

/** Sessions that `replayLens.replaySession` accepts from the tree: fixtures and recordings. */
export function isReplayable(session: Pick<SessionInfo, 'kind'>): boolean {
  return session.kind === 'fixture' || session.kind === 'recording';
}

export interface ItemView {
  label: string;
  description: string;
  tooltip: string;
  icon: string;
  color?: string;
  contextValue: string;
}

export function sessionItemView(session: SessionInfo, relativePath: string): ItemView {
  const kind = KIND_LABELS[session.kind] ?? session.kind;
  const steps = typeof session.steps === 'number' ? `${session.steps} step${session.steps === 1 ? '' : 's'}` : '';
  const status = session.status ?? 'unknown';
  const statusIcon: Record<string, [string, string | undefined]> = {
    ok: ['pass', 'testing.iconPassed'],
    stale: ['warning', 'list.warningForeground'],
    error: ['error', 'list.errorForeground'],
  };
  const [icon, color] = statusIcon[status] ?? [KIND_ICONS[session.kind] ?? 'circle-outline', undefined];
  return {
    label: session.title || relativePath,
    description: [kind, steps].filter(Boolean).join(' · '),
    tooltip: `${session.title ?? session.id}\n${relativePath}\n${kind}${steps ? `, ${steps}` : ''}\nstatus: ${status}`,
    icon,
    color,
    contextValue: `session${isReplayable(session) ? ' replayable' : ''}`,
  };
}

export class SessionItem extends vscode.TreeItem {
  constructor(readonly session: SessionInfo) {
    const uri = vscode.Uri.parse(session.uri);
    const view = sessionItemView(session, vscode.workspace.asRelativePath(uri, false));
    super(view.label, vscode.TreeItemCollapsibleState.None);
    this.description = view.description;
    this.tooltip = view.tooltip;
    this.iconPath = new vscode.ThemeIcon(view.icon, view.color ? new vscode.ThemeColor(view.color) : undefined);
    this.contextValue = view.contextValue;
    this.resourceUri = uri;
    this.id = `${session.uri}#${session.id}`;
    this.command = { command: 'replayLens.openSession', title: 'Open Session', arguments: [session] };
  }
}

export class SessionsProvider implements vscode.TreeDataProvider<SessionItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private sessions: SessionInfo[] = [];
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly server: ServerManager,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  refresh(delayMs = 0): void {
    if (this.refreshTimer) {
      clearTimeout(this.refreshTimer);
    }
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.changed.fire();
    }, delayMs);
  }

  /** The sessions of the last listing (for quick picks). */
  async list(): Promise<SessionInfo[]> {
    const result = await this.server.request<SessionsResult>(Requests.sessions, {});
    this.sessions = Array.isArray(result?.sessions) ? result.sessions : [];
    return this.sessions;
  }

  getTreeItem(element: SessionItem): vscode.TreeItem {
    return element;
  }

  async getChildren(element?: SessionItem): Promise<SessionItem[]> {
    if (element || this.server.currentState !== 'running') {
      return [];
    }
    try {
      const sessions = await this.list();
      await vscode.commands.executeCommand('setContext', 'replayLens.sessionsUnsupported', false);
      return sessions.map((s) => new SessionItem(s));
    } catch (e) {
      if (e instanceof UnsupportedError) {
        await vscode.commands.executeCommand('setContext', 'replayLens.sessionsUnsupported', true);
      } else {
        this.log.error(`Listing sessions failed: ${errorMessage(e)}`);
      }
      return [];
    }
  }

  dispose(): void {
    if (this.refreshTimer) {
      clearTimeout(this.refreshTimer);
    }
    this.changed.dispose();
  }
}
