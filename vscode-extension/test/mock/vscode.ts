// A small stand-in for the `vscode` module, enough for the extension's own logic to run under
// node's test runner. It records what the extension does (commands, messages, context keys,
// status bar items, webviews) in `recorded`, and lets tests set configuration and trust.
import * as path from 'node:path';

export const recorded = {
  commands: new Map<string, (...args: unknown[]) => unknown>(),
  executed: [] as Array<{ command: string; args: unknown[] }>,
  context: new Map<string, unknown>(),
  messages: [] as Array<{ level: 'info' | 'warning' | 'error'; message: string; items: string[] }>,
  statusItems: [] as StatusBarItem[],
  panels: [] as WebviewPanel[],
  logs: [] as string[],
  treeViews: [] as string[],
};

export const testState = {
  config: {} as Record<string, { globalValue?: unknown; workspaceValue?: unknown; workspaceFolderValue?: unknown; defaultValue?: unknown }>,
  trusted: true,
  workspaceFolder: '/ws',
  extensions: new Map<string, unknown>(),
  answer: undefined as string | undefined,
};

export function resetMock(): void {
  recorded.commands.clear();
  recorded.executed.length = 0;
  recorded.context.clear();
  recorded.messages.length = 0;
  recorded.statusItems.length = 0;
  recorded.panels.length = 0;
  recorded.logs.length = 0;
  recorded.treeViews.length = 0;
  testState.config = {};
  testState.trusted = true;
  testState.workspaceFolder = '/ws';
  testState.extensions.clear();
  testState.answer = undefined;
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly authority: string,
    readonly path: string,
    readonly query: string,
    readonly fragment: string,
  ) {}
  static parse(value: string): Uri {
    const m = /^([a-z][a-z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/i.exec(value);
    if (!m) throw new Error(`bad uri ${value}`);
    return new Uri(m[1], m[2] ?? '', decodeURIComponent(m[3] ?? ''), m[4] ?? '', m[5] ?? '');
  }
  static file(p: string): Uri {
    return new Uri('file', '', p, '', '');
  }
  static from(c: { scheme: string; authority?: string; path?: string; query?: string; fragment?: string }): Uri {
    return new Uri(c.scheme, c.authority ?? '', c.path ?? '', c.query ?? '', c.fragment ?? '');
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return new Uri(base.scheme, base.authority, path.posix.join(base.path, ...parts), '', '');
  }
  get fsPath(): string {
    return this.path;
  }
  toString(): string {
    return `${this.scheme}://${this.authority}${this.path}${this.query ? `?${this.query}` : ''}${this.fragment ? `#${this.fragment}` : ''}`;
  }
}

export class Disposable {
  constructor(private readonly fn: () => void = () => undefined) {}
  static from(...ds: Array<{ dispose(): unknown }>): Disposable {
    return new Disposable(() => ds.forEach((d) => d.dispose()));
  }
  dispose(): void {
    this.fn();
  }
}

export class EventEmitter<T> {
  private listeners: Array<(e: T) => void> = [];
  event = (listener: (e: T) => void): Disposable => {
    this.listeners.push(listener);
    return new Disposable(() => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    });
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}
export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(a: number | Position, b: number | Position, c?: number, d?: number) {
    if (typeof a === 'number') {
      this.start = new Position(a, b as number);
      this.end = new Position(c as number, d as number);
    } else {
      this.start = a;
      this.end = b as Position;
    }
  }
}
export class Selection extends Range {}

export class ThemeColor {
  constructor(readonly id: string) {}
}
export class ThemeIcon {
  constructor(
    readonly id: string,
    readonly color?: ThemeColor,
  ) {}
}
export enum TreeItemCollapsibleState {
  None = 0,
  Collapsed = 1,
  Expanded = 2,
}
export class TreeItem {
  description?: string;
  tooltip?: string;
  iconPath?: ThemeIcon;
  contextValue?: string;
  resourceUri?: Uri;
  id?: string;
  command?: { command: string; title: string; arguments?: unknown[] };
  constructor(
    readonly label: string,
    readonly collapsibleState: TreeItemCollapsibleState = TreeItemCollapsibleState.None,
  ) {}
}
export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}
export enum ViewColumn {
  Active = -1,
  Beside = -2,
  One = 1,
  Two = 2,
}
export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}
export enum TextEditorRevealType {
  Default = 0,
  InCenter = 1,
  InCenterIfOutsideViewport = 2,
  AtTop = 3,
}

export class StatusBarItem {
  text = '';
  tooltip: string | undefined;
  command: string | undefined;
  name: string | undefined;
  backgroundColor: ThemeColor | undefined;
  visible = false;
  constructor(
    readonly id: string,
    readonly alignment: StatusBarAlignment,
    readonly priority: number,
  ) {}
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  dispose(): void {
    this.visible = false;
  }
}

export class Webview {
  html = '';
  cspSource = 'vscode-webview://test';
  asWebviewUri(uri: Uri): Uri {
    return Uri.from({ scheme: 'vscode-webview', path: uri.path });
  }
  readonly received = new EventEmitter<unknown>();
  /** Messages the extension posted to the webview. */
  readonly posted: unknown[] = [];
  postMessage(message: unknown): Promise<boolean> {
    this.posted.push(message);
    return Promise.resolve(true);
  }
  onDidReceiveMessage = (listener: (m: unknown) => void, _thisArg?: unknown, disposables?: Disposable[]) => {
    const d = this.received.event(listener);
    disposables?.push(d);
    return d;
  };
}

export class WebviewPanel {
  readonly webview = new Webview();
  private readonly disposed = new EventEmitter<void>();
  viewColumn = ViewColumn.Two;
  constructor(
    readonly viewType: string,
    public title: string,
    readonly options: unknown,
  ) {}
  reveal(): void {}
  onDidDispose = (listener: () => void, _thisArg?: unknown, disposables?: Disposable[]) => {
    const d = this.disposed.event(listener);
    disposables?.push(d);
    return d;
  };
  dispose(): void {
    this.disposed.fire();
  }
}

export enum ConfigurationTarget {
  Global = 1,
  Workspace = 2,
  WorkspaceFolder = 3,
}

export enum LogLevel {
  Off = 0,
  Trace = 1,
  Debug = 2,
  Info = 3,
  Warning = 4,
  Error = 5,
}

function logChannel(name: string) {
  const write = (level: string) => (message: string) => recorded.logs.push(`[${level}] ${message}`);
  return {
    name,
    logLevel: 2,
    onDidChangeLogLevel: new EventEmitter<number>().event,
    trace: write('trace'),
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: (m: unknown) => recorded.logs.push(`[error] ${String(m)}`),
    append: (v: string) => recorded.logs.push(v),
    appendLine: (v: string) => recorded.logs.push(v),
    replace: () => undefined,
    clear: () => undefined,
    show: () => undefined,
    hide: () => undefined,
    dispose: () => undefined,
  };
}

function message(level: 'info' | 'warning' | 'error') {
  return async (text: string, ...items: unknown[]) => {
    recorded.messages.push({ level, message: text, items: items.filter((i): i is string => typeof i === 'string') });
    return testState.answer;
  };
}

export const window = {
  activeTextEditor: undefined as unknown,
  createOutputChannel: (name: string) => logChannel(name),
  createStatusBarItem: (id: string, alignment: StatusBarAlignment, priority: number) => {
    const item = new StatusBarItem(id, alignment, priority);
    recorded.statusItems.push(item);
    return item;
  },
  showInformationMessage: message('info'),
  showWarningMessage: message('warning'),
  showErrorMessage: message('error'),
  showQuickPick: async () => undefined,
  withProgress: async <T>(_options: unknown, task: () => Promise<T>) => task(),
  createWebviewPanel: (viewType: string, title: string, _column: unknown, options: unknown) => {
    const panel = new WebviewPanel(viewType, title, options);
    recorded.panels.push(panel);
    return panel;
  },
  createTreeView: (id: string) => {
    recorded.treeViews.push(id);
    return new Disposable();
  },
  registerTreeDataProvider: (id: string) => {
    recorded.treeViews.push(id);
    return new Disposable();
  },
  showTextDocument: async () => ({ revealRange: () => undefined }),
  onDidChangeActiveTextEditor: (listener: (editor: unknown) => void) => activeEditorChanged.event(listener),
};

export const activeEditorChanged = new EventEmitter<unknown>();

export const configurationChanged = new EventEmitter<{ affectsConfiguration(section: string): boolean }>();

export const workspace = {
  get isTrusted() {
    return testState.trusted;
  },
  get workspaceFolders() {
    return testState.workspaceFolder ? [{ uri: Uri.file(testState.workspaceFolder), name: path.basename(testState.workspaceFolder), index: 0 }] : undefined;
  },
  getConfiguration: (section: string) => ({
    get: <T>(key: string, fallback?: T): T | undefined => {
      const v = testState.config[`${section}.${key}`];
      const value = v ? (v.workspaceFolderValue ?? v.workspaceValue ?? v.globalValue ?? v.defaultValue) : undefined;
      return (value as T) ?? fallback;
    },
    inspect: (key: string) => testState.config[`${section}.${key}`] ?? { key: `${section}.${key}` },
  }),
  asRelativePath: (uri: Uri | string) => {
    const p = typeof uri === 'string' ? uri : uri.path;
    return testState.workspaceFolder && p.startsWith(`${testState.workspaceFolder}/`) ? p.slice(testState.workspaceFolder.length + 1) : p;
  },
  onDidChangeConfiguration: configurationChanged.event,
  onDidGrantWorkspaceTrust: new EventEmitter<void>().event,
  registerTextDocumentContentProvider: () => new Disposable(),
  openTextDocument: async () => {
    throw new Error('openTextDocument is not mocked');
  },
};

export const commands = {
  registerCommand: (id: string, handler: (...args: unknown[]) => unknown) => {
    if (recorded.commands.has(id)) throw new Error(`command ${id} already exists`);
    recorded.commands.set(id, handler);
    return new Disposable(() => recorded.commands.delete(id));
  },
  executeCommand: async (command: string, ...args: unknown[]) => {
    recorded.executed.push({ command, args });
    if (command === 'setContext') {
      recorded.context.set(args[0] as string, args[1]);
      return undefined;
    }
    const handler = recorded.commands.get(command);
    return handler ? handler(...args) : undefined;
  },
};

export const extensions = {
  getExtension: (id: string) => testState.extensions.get(id),
};

export const env = { language: 'en', appName: 'test' };
export const version = '1.100.0';

// Base classes that vscode-languageclient extends when it is loaded.
class Plain {
  constructor(...args: unknown[]) {
    Object.assign(this, { args });
  }
}
export class CallHierarchyItem extends Plain {}
export class CodeLens extends Plain {}
export class CompletionItem extends Plain {}
export class DocumentLink extends Plain {}
export class InlayHint extends Plain {}
export class SymbolInformation extends Plain {}
export class TypeHierarchyItem extends Plain {}
export class CodeAction extends Plain {}
export class Diagnostic extends Plain {}
export class CancellationError extends Error {}

export const languages = {
  setTextDocumentLanguage: async (document: unknown) => document,
  match: () => 0,
};

// The report mapping's file system questions (commands.ts): only named, never called by the unit tests.
export enum FileType {
  Unknown = 0,
  File = 1,
  Directory = 2,
  SymbolicLink = 64,
}
export class RelativePattern extends Plain {}
