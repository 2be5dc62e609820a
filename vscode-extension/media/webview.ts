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

document.addEventListener('click', (event) => {
  const target = event.target instanceof Element ? event.target.closest('[data-open],[data-page],[data-action],[data-goto]') : null;
  if (!target || (target instanceof HTMLButtonElement && target.disabled)) return;
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
  const steps = Array.from(document.querySelectorAll<HTMLElement>('.step'));
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

// Focus for the keyboard, without scrolling the summary out of view.
document.querySelector<HTMLElement>('[data-autofocus]')?.focus({ preventScroll: true });
