// The Sessions view, in Replay Lens's own activity-bar container: what `replayLens/sessions`
// lists, grouped by kind (and by folder when a kind spans several), with labels that tell equal
// titles apart, the reason of a red entry in its tooltip, and a filter.
// A server without that request gets a clear message (viewsWelcome), not an error.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { errorMessage, UnsupportedError } from './errors';
import { ListingFinding, Requests, SessionInfo, SessionsResult } from './protocol';
import type { ServerManager } from './server';
import { plural } from './text';

export const KIND_LABELS: Record<string, string> = {
  recording: 'recording',
  fixture: 'fixture',
  'codex-bundle': 'Codex trace',
  'codex-rollout': 'Codex rollout',
  'cato-audit': 'CATO audit log',
  'langgraph-checkpoints': 'LangGraph checkpoints',
  'langgraph-postgres': 'LangGraph checkpoints (PostgreSQL)',
  'majordomo-run': 'majordomo run',
};

/** Group headings, in this order; unknown kinds follow. */
const KIND_GROUPS: Array<[string, string]> = [
  ['recording', 'Recordings'],
  ['fixture', 'Fixtures'],
  ['codex-bundle', 'Codex traces'],
  ['codex-rollout', 'Codex rollouts'],
  ['cato-audit', 'CATO audit logs'],
  ['langgraph-checkpoints', 'LangGraph checkpoints'],
  ['langgraph-postgres', 'LangGraph checkpoints (PostgreSQL)'],
  ['majordomo-run', 'majordomo runs'],
];

const KIND_ICONS: Record<string, string> = {
  recording: 'record',
  fixture: 'file-code',
  'codex-bundle': 'folder-library',
  'codex-rollout': 'history',
  'cato-audit': 'shield',
  'langgraph-checkpoints': 'database',
  'langgraph-postgres': 'database',
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

/** Why an entry is not green, in words a user can act on. */
export function statusReason(session: SessionInfo, findings: readonly string[]): string | undefined {
  if (findings.length) return findings.join('\n');
  if (session.status === 'stale') return 'Has stale turns: their keys do not match the current rules. Rehash them (Rehash Stale Turns in This File).';
  if (session.status === 'error') return 'Has errors: see the Problems panel for this file.';
  return undefined;
}

export function sessionItemView(session: SessionInfo, relativePath: string, label = session.title || relativePath, findings: readonly string[] = []): ItemView {
  const kind = KIND_LABELS[session.kind] ?? session.kind;
  const steps = typeof session.steps === 'number' ? plural(session.steps, 'step') : '';
  const status = session.status ?? 'unknown';
  const statusIcon: Record<string, [string, string | undefined]> = {
    ok: ['pass', 'testing.iconPassed'],
    stale: ['warning', 'list.warningForeground'],
    error: ['error', 'list.errorForeground'],
  };
  const [icon, color] = findings.length ? ['error', 'list.errorForeground'] : (statusIcon[status] ?? [KIND_ICONS[session.kind] ?? 'circle-outline', undefined]);
  const reason = statusReason(session, findings);
  return {
    label,
    description: [kind, steps].filter(Boolean).join(' · '),
    tooltip: [session.title ?? session.id, relativePath, `${kind}${steps ? `, ${steps}` : ''}`, `status: ${status}`, ...(reason ? ['', reason] : [])].join('\n'),
    icon,
    color,
    contextValue: `session${isReplayable(session) ? ' replayable' : ''}`,
  };
}

/**
 * One label per session: its title, and where titles repeat, the title with its file (and its
 * id when one file holds several sessions of that title).
 */
export function uniqueLabels(sessions: readonly SessionInfo[], relativePath: (s: SessionInfo) => string): string[] {
  const base = sessions.map((s) => s.title || relativePath(s));
  const count = (values: string[], v: string) => values.filter((x) => x === v).length;
  const withFile = sessions.map((s, i) => (count(base, base[i]) > 1 ? `${base[i]} · ${path.posix.basename(relativePath(s))}` : base[i]));
  return sessions.map((s, i) => (count(withFile, withFile[i]) > 1 ? `${withFile[i]}#${s.id}` : withFile[i]));
}

/** Whether a session matches the filter text (label, kind, path; case-insensitive). */
export function matchesFilter(filter: string, label: string, session: SessionInfo, relativePath: string): boolean {
  const needle = filter.trim().toLowerCase();
  if (!needle) return true;
  return [label, KIND_LABELS[session.kind] ?? session.kind, session.kind, relativePath, session.status ?? ''].some((h) => h.toLowerCase().includes(needle));
}

export interface Entry {
  session: SessionInfo;
  label: string;
  relativePath: string;
  findings: string[];
}

export interface Group {
  label: string;
  children: Array<Entry | Group>;
}

/** Kind → (folder →) sessions. A kind whose sessions share one folder has no folder level. */
export function groupEntries(entries: readonly Entry[]): Group[] {
  const kinds = [...KIND_GROUPS];
  for (const e of entries) if (!kinds.some(([k]) => k === e.session.kind)) kinds.push([e.session.kind, e.session.kind]);
  const groups: Group[] = [];
  for (const [kind, heading] of kinds) {
    const ofKind = entries.filter((e) => e.session.kind === kind);
    if (!ofKind.length) continue;
    const folderOf = (e: Entry) => path.posix.dirname(e.relativePath.replace(/\\/g, '/'));
    const folders = [...new Set(ofKind.map(folderOf))].sort();
    const children: Array<Entry | Group> =
      folders.length === 1 ? ofKind : folders.map((folder) => ({ label: folder === '.' ? '(workspace root)' : folder, children: ofKind.filter((e) => folderOf(e) === folder) }));
    groups.push({ label: `${heading} (${ofKind.length})`, children });
  }
  return groups;
}

export class SessionItem extends vscode.TreeItem {
  constructor(
    readonly session: SessionInfo,
    entry: Entry,
  ) {
    const uri = vscode.Uri.parse(session.uri);
    const view = sessionItemView(session, entry.relativePath, entry.label, entry.findings);
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

export class GroupItem extends vscode.TreeItem {
  constructor(
    readonly group: Group,
    parentId: string,
  ) {
    super(group.label, vscode.TreeItemCollapsibleState.Expanded);
    this.id = `${parentId}/${group.label.replace(/ \(\d+\)$/, '')}`;
    this.contextValue = 'group';
  }
}

type Node = SessionItem | GroupItem;

export class SessionsProvider implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private sessions: SessionInfo[] = [];
  private refreshTimer: NodeJS.Timeout | undefined;
  private filterText = '';
  /** Set by the view: "N of M sessions match" while a filter is on. */
  view: vscode.TreeView<Node> | undefined;

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

  get filter(): string {
    return this.filterText;
  }

  setFilter(text: string): void {
    this.filterText = text.trim();
    void vscode.commands.executeCommand('setContext', 'replayLens.sessionsFiltered', this.filterText !== '');
    this.refresh();
  }

  private listingFindings: ListingFinding[] = [];

  /** The sessions of the last listing (for quick picks). */
  async list(): Promise<SessionInfo[]> {
    const result = await this.server.request<SessionsResult>(Requests.sessions, {});
    this.sessions = Array.isArray(result?.sessions) ? result.sessions : [];
    this.listingFindings = Array.isArray(result?.findings) ? result.findings : [];
    return this.sessions;
  }

  getTreeItem(element: Node): vscode.TreeItem {
    return element;
  }

  private entries(sessions: SessionInfo[]): Entry[] {
    const relative = (s: SessionInfo) => vscode.workspace.asRelativePath(vscode.Uri.parse(s.uri), false);
    const labels = uniqueLabels(sessions, relative);
    return sessions.map((session, i) => {
      const uri = session.uri;
      const findings = this.listingFindings
        .filter((f) => (f.uri && f.uri === uri) || (f.path && session.path && f.path === session.path) || (f.path && vscode.Uri.file(f.path).toString() === uri))
        .map((f) => f.message ?? '')
        .filter(Boolean);
      return { session, label: labels[i], relativePath: relative(session), findings };
    });
  }

  async getChildren(element?: Node): Promise<Node[]> {
    if (element instanceof GroupItem) {
      return element.group.children.map((child) => ('session' in child ? new SessionItem(child.session, child) : new GroupItem(child, element.id ?? '')));
    }
    if (element || this.server.currentState !== 'running') {
      return [];
    }
    try {
      const sessions = await this.list();
      await vscode.commands.executeCommand('setContext', 'replayLens.sessionsUnsupported', false);
      const all = this.entries(sessions);
      const shown = all.filter((e) => matchesFilter(this.filterText, e.label, e.session, e.relativePath));
      if (this.view) {
        this.view.message = this.filterText ? `Filter "${this.filterText}": ${shown.length} of ${plural(all.length, 'session')}` : undefined;
      }
      return groupEntries(shown).map((g) => new GroupItem(g, 'replayLens'));
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
