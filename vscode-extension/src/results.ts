// How the results of the server's commands are shown, whoever ran them (a palette command here,
// or VS Code itself for a code lens or a code action, whose result goes to nobody otherwise).
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ReportPanel } from './panels';
import { diffSides, unifiedLabels } from './diff';
import { Commands, NormalizedInputResult, RehashResult, ReplayReport } from './protocol';
import { plural } from './text';
import { showRunTestsResult } from './runTests';

export const NORMALIZED_SCHEME = 'replay-lens-normalized';

export function fileName(uri: string | vscode.Uri): string {
  const u = typeof uri === 'string' ? vscode.Uri.parse(uri) : uri;
  return path.posix.basename(u.path);
}

/** Read-only documents holding normalized inputs (`replay-lens-normalized:` URIs). */
export class NormalizedInputProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
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

  dispose(): void {
    this.changed.dispose();
  }
}

/** The server's words when it has no text: `{text: null, message: "no recording links to this turn…"}`. */
export function normalizedInputMissing(result: NormalizedInputResult | string | undefined): string {
  const message = result && typeof result === 'object' && typeof result.message === 'string' && result.message.trim() ? result.message.trim() : '';
  return `Replay Lens: no normalized input for this turn${message ? `: ${message}` : ' (the server returned none)'}.`;
}

/** The message after a rehash, with "1 turn" / "2 turns" and the server's reason when nothing was applied. */
export function rehashMessage(name: string, result: RehashResult | undefined): { severity: 'info' | 'warning'; text: string } {
  const turns = Array.isArray(result?.turns) ? result.turns : [];
  const reason = typeof result?.message === 'string' && result.message ? ` (${result.message})` : '';
  if (result?.applied && turns.length) {
    const which = turns.length === 1 ? `turn ${turns[0]}` : `${plural(turns.length, 'turn')} (${turns.join(', ')})`;
    return { severity: 'info', text: `Replay Lens: rehashed ${which} of ${name} under the current rules.` };
  }
  if (turns.length === 0) {
    return { severity: 'info', text: `Replay Lens: no stale turn of ${name} can be rehashed from a recording${reason}.` };
  }
  return { severity: 'warning', text: `Replay Lens: the rehash of ${name} was not applied${reason || ' (the file changed, or the edit was refused)'}.` };
}

export class ResultViews {
  constructor(
    private readonly normalized: NormalizedInputProvider,
    private readonly reports: () => ReportPanel,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  async showNormalized(uri: string | vscode.Uri, turn: number | undefined, result: NormalizedInputResult | string | undefined): Promise<void> {
    const text = typeof result === 'string' ? result : result?.text;
    if (typeof text !== 'string') {
      void vscode.window.showWarningMessage(normalizedInputMissing(result));
      return;
    }
    const target = vscode.Uri.from({
      scheme: NORMALIZED_SCHEME,
      path: `/${fileName(uri)} turn ${turn ?? '?'} normalized`,
      query: typeof uri === 'string' ? uri : uri.toString(),
    });
    this.normalized.set(target, text);
    let document = await vscode.workspace.openTextDocument(target);
    if (/^\s*[[{]/.test(text) && document.languageId !== 'json') {
      document = await vscode.languages.setTextDocumentLanguage(document, 'json').then(
        (d) => d,
        () => document,
      );
    }
    await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
  }

  /** A miss of the report in VS Code's diff editor: the recorded turn's normalized input against this call's. */
  async openDiff(report: ReplayReport, stepIndex: number): Promise<void> {
    const step = report.steps?.find((s) => s.index === stepIndex);
    const nearest = step?.nearest && typeof step.nearest === 'object' ? (step.nearest as Record<string, unknown>) : undefined;
    const sides = nearest ? diffSides(nearest.diff, nearest) : undefined;
    if (!step || !nearest || !sides) {
      void vscode.window.showWarningMessage(`Replay Lens: the report has no diff for step ${stepIndex}.`);
      return;
    }
    const labels = unifiedLabels(nearest.diff);
    const turn = typeof nearest.turn === 'number' ? `turn ${nearest.turn}` : 'nearest turn';
    const fixture = typeof nearest.uri === 'string' ? fileName(nearest.uri) : report.fixture?.uri ? fileName(report.fixture.uri) : 'fixture';
    const session = report.session?.uri ? fileName(report.session.uri) : 'session';
    const left = vscode.Uri.from({ scheme: NORMALIZED_SCHEME, path: `/${fixture} ${turn} recorded`, query: `report-step=${stepIndex}&side=left` });
    const right = vscode.Uri.from({ scheme: NORMALIZED_SCHEME, path: `/${session} step ${stepIndex} this call`, query: `report-step=${stepIndex}&side=right` });
    this.normalized.set(left, sides.left);
    this.normalized.set(right, sides.right);
    const title = `${labels.from ?? `${fixture} ${turn}`} ↔ ${labels.to ?? `step ${stepIndex}`}`;
    await vscode.commands.executeCommand('vscode.diff', left, right, title, { preview: true });
  }

  showRehash(uri: string | vscode.Uri | undefined, result: RehashResult | undefined): void {
    const { severity, text } = rehashMessage(uri ? fileName(uri) : 'this file', result);
    void (severity === 'info' ? vscode.window.showInformationMessage(text) : vscode.window.showWarningMessage(text));
  }

  /** A server command run by VS Code itself (a code lens, a code action's command). */
  onCommandResult(command: string, args: unknown[], result: unknown): void {
    const arg = (args?.[0] ?? {}) as { uri?: string; turn?: number };
    if (command === Commands.replaySession && result && typeof result === 'object') {
      this.reports().show(result as ReplayReport);
    } else if (command === Commands.showNormalizedInput && arg.uri) {
      void this.showNormalized(arg.uri, arg.turn, result as NormalizedInputResult);
    } else if (command === Commands.rehash && result && typeof result === 'object') {
      this.showRehash(arg.uri, result as RehashResult);
    } else if (command === Commands.runReplayTests) {
      showRunTestsResult(result, arg.uri, this.log);
    }
  }
}
