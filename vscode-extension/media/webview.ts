// The script of the report and steps webviews: turns clicks and keys into messages to the
// extension (open a file at a turn, run an action) and keeps the steps view's virtual list. Bundled by esbuild into
// dist/webview.js and loaded under the webview's content security policy (by nonce).

import type { StepRow } from '../src/protocol';
import { plural } from '../src/text';
import { pagesOf, positionsIn, revealTop, visibleWindow } from './virtualList';

interface VsCodeApi {
  postMessage(message: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface TextRange {
  start: { line: number; character: number };
  end: { line: number; character: number };
}

const vscode = acquireVsCodeApi();

function rangeOf(el: Element): TextRange | undefined {
  const r = el.getAttribute('data-range');
  if (!r) return undefined;
  const n = r.split(',').map(Number);
  return { start: { line: n[0], character: n[1] }, end: { line: n[2], character: n[3] } };
}

// -- The steps view: a virtual list --------------------------------------------------------------
// Only the rows in view (and a margin) are in the DOM; the extension sends the server's pages of
// rows as they come into view, and the detail of the step selected. Search and filters read every
// page (asked once, when a filter is first set) and the list then windows over what they keep.

type FromExtension =
  | { type: 'rows'; generation: number; page: number; rows: StepRow[] }
  | { type: 'detail'; generation: number; position: number; html: string };

const formatCount = (n: number) => Math.round(n).toLocaleString('en-US');
const formatMs = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`);

class StepList {
  private readonly total: number;
  private readonly pageSize: number;
  private readonly generation: number;
  private readonly rows: Array<StepRow | undefined> = [];
  private readonly asked = new Set<number>();
  private loaded = 0;
  private askedAll = false;
  /** Session positions a filter keeps, in order; null: no filter, every position. */
  private order: number[] | null = null;
  private rowHeight = 0;
  private shown = '';
  private selected = -1;
  private frame = 0;
  private readonly values = { 'filter-kind': new Set<string>(), 'filter-caller': new Set<string>(), 'filter-status': new Set<string>() };

  constructor(
    private readonly box: HTMLElement,
    private readonly spacer: HTMLElement,
    private readonly list: HTMLElement,
  ) {
    this.total = Number(box.dataset.total) || 0;
    this.pageSize = Math.max(1, Number(box.dataset.pageSize) || 200);
    this.generation = Number(box.dataset.generation) || 0;
    box.addEventListener('scroll', () => this.schedule(), { passive: true });
    window.addEventListener('resize', () => this.schedule());
  }

  private get count(): number {
    return this.order ? this.order.length : this.total;
  }

  schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => ((this.frame = 0), this.render()));
  }

  /** The height of one row, measured once on a row of the list (rows have one fixed height). */
  private measure(): number {
    if (this.rowHeight) return this.rowHeight;
    const probe = document.createElement('li');
    probe.className = 'pending';
    probe.textContent = 'probe';
    this.list.append(probe);
    this.rowHeight = probe.getBoundingClientRect().height || 32;
    probe.remove();
    return this.rowHeight;
  }

  render(force = false): void {
    const height = this.measure();
    this.spacer.style.height = `${this.count * height}px`;
    const range = visibleWindow(this.box.scrollTop, this.box.clientHeight, height, this.count);
    const positions = positionsIn(range, this.order);
    const missing = positions.filter((p) => !this.rows[p]);
    const key = `${range.start}:${range.end}:${missing.length}:${this.selected}`;
    if (!force && key === this.shown) return;
    this.shown = key;
    const focused = document.activeElement instanceof HTMLElement && this.list.contains(document.activeElement) ? document.activeElement.id : '';
    this.list.style.transform = `translateY(${range.start * height}px)`;
    const html = positions.map((p) => {
      const row = this.rows[p];
      return row ? row.html : `<li class="pending" aria-busy="true"><span class="muted">step ${p + 1} of ${formatCount(this.total)}…</span></li>`;
    });
    this.list.innerHTML = html.join('');
    for (const step of this.list.querySelectorAll('.step[data-select]')) step.classList.toggle('selected', Number(step.getAttribute('data-select')) === this.selected);
    if (focused) document.getElementById(focused)?.focus({ preventScroll: true });
    const pages = pagesOf(missing, this.pageSize).filter((p) => !this.asked.has(p));
    if (pages.length) {
      pages.forEach((p) => this.asked.add(p));
      vscode.postMessage({ type: 'pages', generation: this.generation, pages });
    }
  }

  receive(message: FromExtension): void {
    if (message.generation !== this.generation) return;
    if (message.type === 'detail') {
      const pane = document.getElementById('detail-pane');
      if (pane && message.position === this.selected) pane.innerHTML = message.html;
      return;
    }
    for (const row of message.rows) {
      if (!this.rows[row.position]) this.loaded += 1;
      this.rows[row.position] = row;
      this.values['filter-kind'].add(row.kind);
      this.values['filter-caller'].add(row.caller);
      this.values['filter-status'].add(row.status);
    }
    this.fillOptions();
    if (this.filtering()) this.applyFilters();
    else this.render(true);
    this.showTotals();
  }

  /** The filters' choices: every value met so far. */
  private fillOptions(): void {
    for (const [id, seen] of Object.entries(this.values)) {
      const select = document.getElementById(id);
      if (!(select instanceof HTMLSelectElement) || select.options.length - 1 === seen.size - (seen.has('') ? 1 : 0)) continue;
      const value = select.value;
      const known = [...seen].filter(Boolean).sort();
      select.replaceChildren(new Option('all', ''), ...known.map((v) => new Option(v, v)));
      select.value = value;
    }
  }

  private filter(): ((row: StepRow) => boolean) | null {
    const needle = (document.querySelector<HTMLInputElement>('#step-search')?.value ?? '').trim().toLowerCase();
    const value = (id: string) => document.querySelector<HTMLSelectElement>(`#${id}`)?.value ?? '';
    const [kind, caller, status] = [value('filter-kind'), value('filter-caller'), value('filter-status')];
    if (!needle && !kind && !caller && !status) return null;
    return (row) => (!needle || row.search.includes(needle)) && (!kind || row.kind === kind) && (!caller || row.caller === caller) && (!status || row.status === status);
  }

  private filtering(): boolean {
    return this.filter() !== null;
  }

  applyFilters(): void {
    const keep = this.filter();
    if (keep && !this.askedAll && this.loaded < this.total) {
      this.askedAll = true; // a filter reads the whole session: the extension sends every page
      vscode.postMessage({ type: 'all', generation: this.generation });
    }
    this.order = keep ? this.rows.flatMap((row, p) => (row && keep(row) ? [p] : [])) : null;
    if (this.box.scrollTop > this.count * this.measure()) this.box.scrollTop = 0;
    this.render(true);
    this.showTotals();
  }

  private showTotals(): void {
    const totals = document.getElementById('totals');
    if (!totals) return;
    const kept = this.order ? this.order.map((p) => this.rows[p]!) : this.rows.filter((r): r is StepRow => !!r);
    const sum = (f: (r: StepRow) => number) => kept.reduce((n, r) => n + (f(r) || 0), 0);
    const parts = [`${formatCount(this.order ? this.order.length : this.total)} of ${plural(this.total, 'step')}`];
    if (this.loaded < this.total) parts.push(`${formatCount(this.loaded)} read so far`);
    const [tokensIn, tokensOut, ms] = [sum((r) => r.tokensIn), sum((r) => r.tokensOut), sum((r) => r.ms)];
    if (tokensIn || tokensOut) parts.push(`${plural(tokensIn, 'token')} in, ${formatCount(tokensOut)} out`);
    if (ms) parts.push(`${formatMs(ms)} in calls`);
    totals.textContent = parts.join(' · ');
  }

  select(position: number): void {
    if (position === this.selected) return; // a click on the row focus already selected
    this.selected = position;
    for (const step of this.list.querySelectorAll('.step[data-select]')) step.classList.toggle('selected', Number(step.getAttribute('data-select')) === position);
    const pane = document.getElementById('detail-pane');
    if (pane) pane.innerHTML = '<p class="muted">Loading the step…</p>';
    vscode.postMessage({ type: 'detail', generation: this.generation, position });
  }

  /** Up/Down/Home/End/PageUp/PageDown from the row at `position`: scrolls the list and focuses the row. */
  move(position: number, key: string): boolean {
    const rows = this.order ?? null;
    const at = rows ? rows.indexOf(position) : position;
    const page = Math.max(1, Math.floor(this.box.clientHeight / this.measure()) - 1);
    const targets: Record<string, number> = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: this.count - 1, PageDown: at + page, PageUp: at - page };
    if (!(key in targets) || at < 0) return false;
    const row = Math.max(0, Math.min(this.count - 1, targets[key]));
    this.box.scrollTop = revealTop(row, this.box.scrollTop, this.box.clientHeight, this.measure());
    this.render(true);
    const target = rows ? rows[row] : row;
    this.list.querySelector<HTMLElement>(`.step[data-select="${target}"]`)?.focus({ preventScroll: true });
    return true;
  }

  start(): void {
    this.render(true);
    this.showTotals();
  }
}

const box = document.getElementById('vlist');
const spacer = box?.querySelector<HTMLElement>('.vspacer');
const rowsList = box?.querySelector<HTMLElement>('#vrows');
const stepList = box && spacer && rowsList ? new StepList(box, spacer, rowsList) : undefined;

window.addEventListener('message', (event: MessageEvent<FromExtension>) => {
  const message = event.data;
  if (stepList && message && typeof message === 'object' && (message.type === 'rows' || message.type === 'detail')) stepList.receive(message);
});
document.addEventListener('input', () => stepList?.applyFilters());
document.addEventListener('change', () => stepList?.applyFilters());
// A step focused from the keyboard shows its detail too.
document.addEventListener('focusin', (event) => {
  const step = event.target instanceof Element ? event.target.closest('.step[data-select]') : null;
  const position = step?.getAttribute('data-select');
  if (stepList && position) stepList.select(Number(position));
});

document.addEventListener('click', (event) => {
  const target = event.target instanceof Element ? event.target.closest('[data-open],[data-action],[data-goto],[data-select]') : null;
  if (!target || (target instanceof HTMLButtonElement && target.disabled)) return;
  const selected = target.getAttribute('data-select');
  if (selected !== null) {
    stepList?.select(Number(selected));
    return;
  }
  const goto = target.getAttribute('data-goto');
  if (goto !== null) {
    const step = document.getElementById(goto);
    if (step) {
      step.scrollIntoView({ block: 'center' });
      step.focus();
    }
    return;
  }
  const open = target.getAttribute('data-open');
  if (open !== null) {
    const turn = target.getAttribute('data-turn');
    vscode.postMessage({ type: 'open', uri: open, range: rangeOf(target), turn: turn === null ? undefined : Number(turn) });
    return;
  }
  const args = target.getAttribute('data-args');
  vscode.postMessage({ type: target.getAttribute('data-action'), ...(args ? (JSON.parse(args) as object) : {}) });
});

// Up/Down/Home/End move between the steps of the timeline.
document.addEventListener('keydown', (event) => {
  const el = document.activeElement;
  if (!(el instanceof HTMLElement) || !el.classList.contains('step')) return;
  const position = el.getAttribute('data-select');
  if (stepList && position !== null) {
    if (stepList.move(Number(position), event.key)) event.preventDefault();
    return;
  }
  const steps = Array.from(document.querySelectorAll<HTMLElement>('.step')).filter((s) => !s.closest('li')?.hidden);
  const i = steps.indexOf(el);
  let next = -1;
  if (event.key === 'ArrowDown') next = Math.min(steps.length - 1, i + 1);
  else if (event.key === 'ArrowUp') next = Math.max(0, i - 1);
  else if (event.key === 'Home') next = 0;
  else if (event.key === 'End') next = steps.length - 1;
  if (next >= 0) {
    event.preventDefault();
    steps[next].focus();
  }
});

stepList?.start();
// Focus for the keyboard, without scrolling the summary out of view.
document.querySelector<HTMLElement>('[data-autofocus]')?.focus({ preventScroll: true });
