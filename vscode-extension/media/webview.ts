// The script of the report and steps webviews: turns clicks and keys into messages to the
// extension (open a file at a turn, change page, run an action). Bundled by esbuild into
// dist/webview.js and loaded under the webview's content security policy (by nonce).

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

// The steps view: a step shows its detail in the side pane.
function select(index: string): void {
  for (const step of document.querySelectorAll('.step[data-select]')) step.classList.toggle('selected', step.getAttribute('data-select') === index);
  for (const detail of document.querySelectorAll<HTMLElement>('#detail-pane .detail')) detail.hidden = detail.id !== `detail-${index}`;
  const placeholder = document.querySelector<HTMLElement>('#detail-pane .placeholder');
  if (placeholder) placeholder.hidden = true;
}

const formatCount = (n: number) => Math.round(n).toLocaleString('en-US');
const formatMs = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`);

// Search and filters of the steps view, and the totals of what they keep.
function applyFilters(): void {
  const search = document.querySelector<HTMLInputElement>('#step-search');
  if (!search) return;
  const needle = search.value.trim().toLowerCase();
  const value = (id: string) => document.querySelector<HTMLSelectElement>(`#${id}`)?.value ?? '';
  const [kind, caller, status] = [value('filter-kind'), value('filter-caller'), value('filter-status')];
  const rows = Array.from(document.querySelectorAll<HTMLElement>('ol.timeline > li'));
  let shown = 0;
  let tokensIn = 0;
  let tokensOut = 0;
  let ms = 0;
  for (const row of rows) {
    const d = row.dataset;
    const keep =
      (!needle || (d.search ?? '').includes(needle)) && (!kind || d.kind === kind) && (!caller || d.caller === caller) && (!status || d.status === status);
    row.hidden = !keep;
    if (!keep) continue;
    shown += 1;
    tokensIn += Number(d.tin) || 0;
    tokensOut += Number(d.tout) || 0;
    ms += Number(d.ms) || 0;
  }
  const totals = document.querySelector('#totals');
  if (totals) {
    const parts = [`${shown} of ${rows.length} steps on this page`];
    if (tokensIn || tokensOut) parts.push(`${formatCount(tokensIn)} tokens in, ${formatCount(tokensOut)} out`);
    if (ms) parts.push(`${formatMs(ms)} in calls`);
    totals.textContent = parts.join(' · ');
  }
}

document.addEventListener('input', applyFilters);
document.addEventListener('change', applyFilters);
document.addEventListener('focusin', (event) => {
  const step = event.target instanceof Element ? event.target.closest('.step[data-select]') : null;
  const index = step?.getAttribute('data-select');
  if (index) select(index);
});

document.addEventListener('click', (event) => {
  const target = event.target instanceof Element ? event.target.closest('[data-open],[data-page],[data-action],[data-goto],[data-select]') : null;
  if (!target || (target instanceof HTMLButtonElement && target.disabled)) return;
  const selected = target.getAttribute('data-select');
  if (selected !== null) {
    select(selected);
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
  const pageNumber = target.getAttribute('data-page');
  if (pageNumber !== null) {
    vscode.postMessage({ type: 'page', page: Number(pageNumber) });
    return;
  }
  const args = target.getAttribute('data-args');
  vscode.postMessage({ type: target.getAttribute('data-action'), ...(args ? (JSON.parse(args) as object) : {}) });
});

// Up/Down/Home/End move between the steps of the timeline.
document.addEventListener('keydown', (event) => {
  const el = document.activeElement;
  if (!(el instanceof HTMLElement) || !el.classList.contains('step')) return;
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

applyFilters();
// Focus for the keyboard, without scrolling the summary out of view.
document.querySelector<HTMLElement>('[data-autofocus]')?.focus({ preventScroll: true });
