// The status bar item: "Replay Lens", the rules preset / fingerprint and the count of stale (or, when
// none is stale, unverifiable) turns; a click shows the output channel (or runs the capture).
import * as vscode from 'vscode';
import type { StatusParams } from './protocol';

export type ServerState = 'starting' | 'running' | 'stopped' | 'failed';

export interface StatusView {
  text: string;
  tooltip: string;
  severity: 'none' | 'warning' | 'error';
  /** What a click runs: the replay tests when keys are unverifiable, else the output. */
  command?: string;
}

export function statusView(state: ServerState, status: StatusParams | undefined, detail?: string): StatusView {
  if (state === 'starting') {
    return { text: '$(loading~spin) Replay Lens', tooltip: 'Replay Lens: starting the server…', severity: 'none' };
  }
  if (state === 'failed') {
    return { text: '$(error) Replay Lens', tooltip: `Replay Lens: the server is not running${detail ? ` (${detail})` : ''}. Click to show the output.`, severity: 'error' };
  }
  if (state === 'stopped') {
    return { text: '$(circle-slash) Replay Lens', tooltip: 'Replay Lens: the server is stopped.', severity: 'none' };
  }
  if (!status) {
    return { text: '$(check) Replay Lens', tooltip: 'Replay Lens: the server is running.', severity: 'none' };
  }
  const fingerprint = status.fingerprint ? status.fingerprint.slice(0, 8) : '';
  const rules = [status.preset, fingerprint].filter(Boolean).join(' ');
  const stale = status.stale ?? 0;
  const unverifiable = status.unverifiable ?? 0;
  // "✓ no stale turns" would be a false all-clear when keys could not be checked at all.
  const icon = status.indexing ? '$(sync~spin)' : stale > 0 ? '$(warning)' : unverifiable > 0 ? '$(question)' : '$(check)';
  const staleText = status.indexing
    ? 'indexing…'
    : stale > 0
      ? `${stale} stale`
      : unverifiable > 0
        ? `${unverifiable} unverifiable`
        : 'no stale turns';
  const lines = [
    `Replay Lens${status.indexing ? ' (indexing)' : ''}`,
    `Rules: ${status.preset ?? 'unknown'}${status.fingerprint ? ` (fingerprint ${status.fingerprint})` : ''}`,
    `Fixtures: ${status.fixtures ?? 0}, turns: ${status.turns ?? 0}`,
    `Stale turns: ${stale}`,
    `Unverifiable turns: ${unverifiable}`,
    ...(unverifiable > 0
      ? [
          '',
          'Unverifiable keys have no recorded input, so they cannot be checked.',
          'Next step: record the session (a recordings/*.jsonl of its calls), or run the',
          'replay tests with the capture (pytest --replay-lens=capture) to give every turn a verdict.',
        ]
      : []),
    '',
    stale === 0 && unverifiable > 0 ? 'Click to run the replay tests with the capture.' : 'Click to show the output.',
  ];
  return {
    // The item names its extension: "deerflow 78bb2da9 · 3 stale" alone does not say whose it is.
    text: `${icon} Replay Lens · ${rules ? `${rules} · ` : ''}${staleText}`,
    tooltip: lines.join('\n'),
    severity: stale > 0 && !status.indexing ? 'warning' : 'none',
    command: stale === 0 && unverifiable > 0 && !status.indexing ? 'replayLens.runTests' : undefined,
  };
}

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private state: ServerState = 'stopped';
  private status: StatusParams | undefined;
  private detail: string | undefined;

  constructor() {
    this.item = vscode.window.createStatusBarItem('replayLens.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Replay Lens';
    this.item.command = 'replayLens.showOutput';
    this.render();
    this.item.show();
  }

  setState(state: ServerState, detail?: string): void {
    this.state = state;
    this.detail = detail;
    if (state !== 'running') {
      this.status = undefined;
    }
    this.render();
  }

  setStatus(status: StatusParams): void {
    this.status = status;
    this.render();
  }

  private render(): void {
    const view = statusView(this.state, this.status, this.detail);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.command = view.command ?? 'replayLens.showOutput';
    this.item.backgroundColor =
      view.severity === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : view.severity === 'warning'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
