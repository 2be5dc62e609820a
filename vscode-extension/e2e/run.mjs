// End-to-end test in a real VS Code: code-server (VS Code 1.100 for the browser, from the npm
// registry) runs the packaged extension against the real Python server of this repository, and
// Playwright drives it with Debian's chromium. Each check prints ok/FAIL; the last line is
// "N passed, N failed". Screenshots go to e2e/artifacts/.
//
// Needs: scripts/e2e-setup.sh (run by `make e2e`), replay-lens.vsix (`make package`), and the
// repository's .venv (`make setup` at the top level).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EXT = path.resolve(HERE, '..');
const REPO = path.resolve(EXT, '..');
const ARTIFACTS = path.join(HERE, 'artifacts');
const VSIX = path.join(EXT, 'replay-lens.vsix');
const PYTHON = process.env.REPLAY_LENS_PYTHON ?? path.join(REPO, '.venv', 'bin', 'python');
const CACHE = process.env.REPLAY_LENS_E2E_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'replay-lens-e2e');
const CODE_SERVER = path.join(CACHE, 'code-server-4.100.3', 'node_modules', '.bin', 'code-server');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FIXTURE = 'replay/write_note.ultra.json';
const TIMEOUT = Number(process.env.REPLAY_LENS_E2E_TIMEOUT ?? 60_000);

for (const [what, file] of [['the .vsix (make package)', VSIX], ['the repository venv (make setup)', PYTHON], ['code-server (scripts/e2e-setup.sh)', CODE_SERVER], ['chromium', CHROMIUM]]) {
  if (!fs.existsSync(file)) {
    console.error(`e2e: missing ${what}: ${file}`);
    process.exit(2);
  }
}

// The interpreter of the editor: a fresh virtual environment with nothing installed (not even
// pip), as a user's bare Python 3.11+: the extension must run its bundled server with it.
const BASE_PYTHON = process.env.REPLAY_LENS_BARE_PYTHON ?? 'python3';

fs.rmSync(ARTIFACTS, { recursive: true, force: true });
fs.mkdirSync(ARTIFACTS, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-lens-e2e-'));
const workspace = path.join(tmp, 'workspace');
const userData = path.join(tmp, 'user-data');
const extensions = path.join(tmp, 'extensions');
// A copy of the sample workspace: the test rehashes a fixture, the committed one stays as is.
fs.cpSync(path.join(REPO, 'fixtures'), workspace, { recursive: true, filter: (src) => !src.includes('__pycache__') });
const barePython = path.join(tmp, 'bare-python', 'bin', 'python');
{
  const venv = spawnSync(BASE_PYTHON, ['-m', 'venv', '--without-pip', path.join(tmp, 'bare-python')], { encoding: 'utf8' });
  if (venv.status !== 0) {
    console.error(`e2e: ${BASE_PYTHON} -m venv failed: ${venv.stderr}`);
    process.exit(1);
  }
  const probe = spawnSync(barePython, ['-I', '-c', 'import sys; import pydantic'], { encoding: 'utf8' });
  if (probe.status === 0) {
    console.error(`e2e: the bare Python ${barePython} imports pydantic: it is not bare`);
    process.exit(1);
  }
}
const noPython = path.join(tmp, 'no-such-python', 'bin', 'python3');
const userSettings = (interpreter, theme = 'Default Dark Modern') =>
  JSON.stringify(
    {
      'replayLens.interpreter': [interpreter],
      'replayLens.trace.server': 'messages',
      'security.workspace.trust.enabled': false,
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'workbench.enableExperiments': false,
      'workbench.colorTheme': theme,
      'window.restoreWindows': 'none',
      'telemetry.telemetryLevel': 'off',
      'extensions.autoUpdate': false,
      'extensions.autoCheckUpdates': false,
      'extensions.ignoreRecommendations': true,
      'update.mode': 'none',
      'editor.hover.delay': 200,
      'editor.minimap.enabled': false,
      'chat.commandCenter.enabled': false,
      'workbench.secondarySideBar.defaultVisibility': 'hidden',
      'files.autoSave': 'off',
      // The report's "Open in diff editor" is checked on the two sides of the diff.
      'diffEditor.renderSideBySide': true,
      'diffEditor.useInlineViewWhenSpaceIsLimited': false,
    },
    null,
    2,
  );
fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
fs.writeFileSync(path.join(userData, 'User', 'settings.json'), userSettings(barePython));

// The report a CI job would save, written before VS Code starts (the sample's state: 3 stale turns).
const cliReport = spawnSync(PYTHON, ['-m', 'server', 'replay', 'recordings/write_note.ultra.jsonl', '--format', 'json'], { cwd: workspace, encoding: 'utf8' });
fs.writeFileSync(path.join(workspace, 'replay-report.json'), cliReport.stdout);
// The same report as an older CI run wrote it (version 1: absolute /home/runner paths and file: URIs
// of another machine), against a fixture this workspace does not have.
const CI_ROOT = '/home/runner/work/agent/agent';
const CI_MISSING = `${CI_ROOT}/replay/write_note.ultra.v0.json`;
function foreignReport(text) {
  const absolute = (value) => {
    if (Array.isArray(value)) return value.map(absolute);
    if (!value || typeof value !== 'object') return value;
    const copy = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, absolute(v)]));
    if (typeof value.file === 'string') {
      const file = value.file === 'replay/write_note.ultra.json' ? CI_MISSING : `${CI_ROOT}/${value.file}`;
      delete copy.file;
      Object.assign(copy, { path: file, uri: `file://${file}` });
    }
    return copy;
  };
  try {
    return JSON.stringify({ ...absolute(JSON.parse(text)), version: 1 }, null, 2);
  } catch {
    return '';
  }
}
fs.writeFileSync(path.join(workspace, 'ci-report.json'), foreignReport(cliReport.stdout));

// What the CLI says about the same files: the editor must show the same (the server answers
// replayLens.replaySession, replayLens/sessions and replayLens/steps with the CLI's JSON).
function cliJson(...args) {
  const r = spawnSync(PYTHON, ['-m', 'server', ...args, '--format', 'json'], { cwd: workspace, encoding: 'utf8' });
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`python -m server ${args.join(' ')} gave no JSON (exit ${r.status}): ${r.stderr.slice(0, 300)}`);
  }
}
const expected = (() => {
  const report = cliJson('replay', 'recordings/write_note.ultra.jsonl');
  const sessions = cliJson('sessions').sessions;
  const steps = (rel, id) => cliJson('steps', rel, ...(id ? ['--session-id', id] : []));
  const trace = sessions.find((s) => s.kind === 'langgraph-checkpoints' && s.id === 'react-1');
  return {
    report,
    sessions,
    recordingSteps: steps('recordings/write_note.ultra.jsonl'),
    trace,
    traceSteps: trace ? steps(path.relative(workspace, trace.path), trace.id) : undefined,
  };
})();
// The sample session as committed: its 3 stale turns make 3 misses, the first at step 0.
if (expected.report.summary?.misses !== 3 || expected.report.first_divergence !== 0) {
  console.error(`e2e: the CLI replay of the sample is not the one this test expects (3 misses, first divergence at step 0): ${JSON.stringify(expected.report.summary)}, first divergence ${expected.report.first_divergence}`);
  process.exit(1);
}

let passed = 0;
let failed = 0;
const failures = [];
async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    failures.push(name);
    console.log(`FAIL ${name}: ${e instanceof Error ? e.message.split('\n').slice(0, 6).join('\n     ') : e}`);
    await shot(`fail-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`).catch(() => undefined);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

const baseArgs = ['--user-data-dir', userData, '--extensions-dir', extensions];
const install = spawnSync(CODE_SERVER, [...baseArgs, '--install-extension', VSIX, '--force'], { encoding: 'utf8' });
if (install.status !== 0) {
  console.error(`e2e: installing the .vsix failed:\n${install.stdout}\n${install.stderr}`);
  process.exit(1);
}

// A code-server on a free port with the given user data (its settings: a "profile").
async function startCodeServer(dataDir, logName) {
  const port = await freePort();
  const log = fs.createWriteStream(path.join(ARTIFACTS, logName));
  const child = spawn(
    CODE_SERVER,
    [
      '--user-data-dir', dataDir,
      '--extensions-dir', extensions,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      workspace,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, VSCODE_PROXY_URI: '' } },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  codeServers.push(child);
  return { port, child };
}
const codeServers = [];
const { port } = await startCodeServer(userData, 'code-server.log');

let browser;
let page;
async function shot(name) {
  if (page) await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

async function cleanup() {
  await browser?.close().catch(() => undefined);
  for (const child of codeServers) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  if (!process.env.REPLAY_LENS_E2E_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
}

async function waitForHttp(url, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`code-server did not answer at ${url}`);
}

const escapeRe = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Runs a command of the palette by its exact title (a click on its row: Enter would run the
// first row, which is not always the one asked for). A palette opened while a webview held the
// focus can refuse input: close it, give the focus back to the workbench and open it again.
async function runCommand(title) {
  const widget = page.locator('.quick-input-widget');
  for (let attempt = 1; ; attempt += 1) {
    try {
      await openAndPick(widget, title, attempt < 3 ? 15_000 : TIMEOUT);
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
      await page.keyboard.press('Escape');
      await page.locator('.statusbar').first().click({ position: { x: 600, y: 5 } }); // an empty stretch of it
    }
  }
}

async function openAndPick(widget, title, timeout) {
  if (await widget.isVisible()) {
    await page.keyboard.press('Escape');
    await widget.waitFor({ state: 'hidden', timeout });
  }
  await page.keyboard.press('F1');
  const input = widget.locator('input');
  await input.waitFor({ state: 'visible', timeout });
  await input.fill(`>${title}`, { timeout });
  const row = page
    .locator('.quick-input-list .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRe(title)}$`) }) })
    .first();
  await row.click({ timeout });
  await widget.waitFor({ state: 'hidden', timeout });
}

// Preferences: Color Theme, filtered, then Enter on the focused theme once it is the one asked
// for (a click on a row only previews it). The picker takes no input while a webview holds the
// focus: the focus goes to the workbench first (an empty stretch of the status bar), and a picker
// that ignored the filter is closed and opened again.
async function setColorTheme(filter, label) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      // A text editor takes the focus: when a picker closes, VS Code gives the focus back to what
      // had it, and a webview that had it takes it from the next picker.
      await page.locator('.editor-group-container').first().locator('.monaco-editor .view-lines').first().click({ timeout: 10_000 });
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible', timeout: 10_000 });
      await input.fill('>Preferences: Color Theme', { timeout: 10_000 });
      await page
        .locator('.quick-input-list .monaco-list-row')
        .filter({ has: page.locator('.label-name', { hasText: /^Preferences: Color Theme$/ }) })
        .first()
        .click({ timeout: 10_000 });
      await page.locator('.quick-input-widget input[placeholder^="Select Color Theme"]').waitFor({ timeout: 10_000 });
      await input.fill(filter, { timeout: 10_000 });
      if ((await input.inputValue()) !== filter) throw new Error('the theme picker took no input');
      const focused = page.locator('.quick-input-list .monaco-list-row.focused .label-name').first();
      const deadline = Date.now() + 10_000;
      while (!label.test((await focused.innerText().catch(() => '')).trim()) && Date.now() < deadline) await page.waitForTimeout(100);
      if (!label.test((await focused.innerText()).trim())) throw new Error(`the theme picker does not offer ${label}`);
      await page.keyboard.press('Enter');
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
      await page.keyboard.press('Escape');
    }
  }
}

// The bottom panel (Problems, Output…), shown or hidden whatever its state. "View: Hide Panel"
// is only offered while the panel is visible.
// The themes the contrast checks switch to: [palette filter, label, workbench class, name].
const THEMES = [
  ['Light Modern', /^(Default )?Light Modern$/, 'vs', 'light'],
  ['Dark Modern', /^(Default )?Dark Modern$/, 'vs-dark', 'dark'],
  ['High Contrast', /^(Default |Dark )?High Contrast$/, 'hc-black', 'high-contrast'],
];

/** WCAG AA in each of `themes`: every text of the webview `frame` that `selector` picks (measureContrast's own
 * choice without one) has at least 4.5:1 with what is behind it; a screenshot per theme; Dark Modern again after. */
async function checkContrast(frame, themes, { what, shots, selector, atLeast, counted }) {
  const worst = {};
  try {
    for (const [filter, label, cls, name] of themes) {
      await setColorTheme(filter, label);
      await page.locator(`.monaco-workbench.${cls}`).waitFor({ timeout: TIMEOUT });
      const light = name === 'light';
      const deadline = Date.now() + TIMEOUT;
      let measured = await frame.locator('body').evaluate(measureContrast, selector);
      while ((measured.bodyLuminance > 0.5) !== light && Date.now() < deadline) {
        await page.waitForTimeout(250);
        measured = await frame.locator('body').evaluate(measureContrast, selector);
      }
      if ((measured.bodyLuminance > 0.5) !== light) throw new Error(`${what} did not take the ${name} theme`);
      await shot(`${shots}${name}`);
      if (measured.items.length < atLeast) throw new Error(`only ${measured.items.length} ${counted} measured`);
      const bad = measured.items.filter((i) => i.ratio < 4.5);
      worst[name] = Math.min(...measured.items.map((i) => i.ratio)).toFixed(2);
      if (bad.length) throw new Error(`${name} theme: ${bad.length} texts below 4.5:1, e.g. ${bad.slice(0, 3).map((b) => `"${b.text}" (${b.cls}) ${b.ratio.toFixed(2)}:1`).join(', ')}`);
    }
  } finally {
    await setColorTheme('Dark Modern', /^(Default )?Dark Modern$/);
    await page.locator('.monaco-workbench.vs-dark').waitFor({ timeout: TIMEOUT });
  }
  console.log(`     lowest contrast: ${Object.entries(worst).map(([k, v]) => `${k} ${v}:1`).join(', ')}`);
}

async function setPanelVisible(visible) {
  const panel = page.locator('.part.panel').first();
  if ((await panel.isVisible()) === visible) return;
  await runCommand('View: Toggle Panel Visibility');
  await panel.waitFor({ state: visible ? 'visible' : 'hidden', timeout: TIMEOUT });
}

// Ctrl+Shift+M toggles: it closes the Problems view when it is focused, so only press it when
// the view is not visible.
async function showProblems() {
  const markers = page.locator('.markers-panel');
  if (!(await markers.isVisible())) {
    await page.keyboard.press('Control+Shift+M');
    await markers.waitFor({ state: 'visible', timeout: TIMEOUT });
  }
}

// The Problems rows of one finding code. The panel is filtered by the code, so rows that would
// be scrolled out of the (virtualized) list are rendered too.
async function problemRows(code) {
  await showProblems();
  const filter = page.locator('.part.panel .viewpane-filter input').first();
  if ((await filter.inputValue()) !== code) {
    await filter.fill(code);
    await page.waitForTimeout(500);
  }
  return page
    .locator('.markers-panel .monaco-list-row')
    .filter({ has: page.locator('.marker-code', { hasText: new RegExp(`^\\(?${escapeRe(code)}\\)?$`) }) });
}

async function waitForProblems(code, count, ms = 30_000) {
  const rows = await problemRows(code);
  const deadline = Date.now() + ms;
  let n = await rows.count();
  while (n !== count && Date.now() < deadline) {
    await page.waitForTimeout(250);
    n = await rows.count();
  }
  if (n !== count) throw new Error(`expected ${count} ${code} problem${count === 1 ? '' : 's'}, the Problems panel lists ${n}`);
}

async function openFile(relative) {
  const name = path.basename(relative);
  const folder = path.dirname(relative);
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: TIMEOUT });
  await input.fill(relative);
  // The row of exactly this file (quick open also lists write_note.ultra.jsonl for write_note.ultra.json).
  const row = page
    .locator('.quick-input-list .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) })
    .filter({ hasText: folder === '.' ? '' : folder })
    .first();
  await row.waitFor({ timeout: TIMEOUT });
  await row.click();
  await page
    .locator('.tab.active .label-name', { hasText: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) })
    .first()
    .waitFor({ timeout: TIMEOUT });
  await page.locator('.monaco-editor .view-lines').first().waitFor({ timeout: TIMEOUT });
}

// Selecting a problem and pressing Enter puts the editor's cursor on it.
async function goToFirstProblem(code) {
  const row = (await problemRows(code)).first();
  await row.click();
  await page.keyboard.press('Enter');
  await page.locator('.monaco-editor.focused').first().waitFor({ timeout: TIMEOUT });
}

// The cursor's "Ln, Col" of the active text editor. It shows only while a text editor has focus:
// when the editor opened beside a webview that kept it, a click on the editor's tab gives it focus
// (and leaves its cursor where it is).
async function statusBarPosition(tabName) {
  const item = page.locator('.statusbar-item[id="status.editor.selection"]');
  const shown = await item.waitFor({ timeout: 10_000 }).then(() => true, () => false);
  if (!shown && tabName) {
    await page.locator('.tab.active', { has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRe(tabName)}$`) }) }).first().click();
  }
  return item.innerText();
}

// The webview on screen (report or session steps): its content frame.
function webview() {
  return page.locator('iframe.webview.ready').filter({ visible: true }).first().contentFrame().locator('iframe#active-frame').contentFrame();
}

// Clicks a tree row that opens an editor tab. A click that lands while the tree re-renders (the
// sessions refresh when files change) is lost: the row is clicked again if no tab opens.
async function openFromTree(row, tab) {
  const opened = page.locator('.tab .label-name', { hasText: tab }).first();
  for (let attempt = 1; ; attempt += 1) {
    await row.locator('.label-name').click();
    try {
      await opened.waitFor({ timeout: attempt < 3 ? 10_000 : TIMEOUT });
      return;
    } catch (e) {
      if (attempt >= 3) throw new Error(`clicking the row opens no tab "${tab}"`);
      console.log(`     (no tab "${tab}" after clicking its row: clicking again)`);
    }
  }
}

// The content frame of the webview on screen whose heading matches: several webviews can be ready
// and visible at once (the report's and the steps'), and their order in the page is not fixed.
async function webviewWithHeading(heading, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const frames = page.locator('iframe.webview.ready').filter({ visible: true });
    const count = await frames.count();
    for (let index = 0; index < count; index += 1) {
      const frame = frames.nth(index).contentFrame().locator('iframe#active-frame').contentFrame();
      if (await frame.locator('h1', { hasText: heading }).count()) return frame;
    }
    if (Date.now() > deadline) {
      const headings = [];
      for (let index = 0; index < count; index += 1) {
        const frame = frames.nth(index).contentFrame().locator('iframe#active-frame').contentFrame();
        headings.push(...(await frame.locator('h1').allInnerTexts().catch(() => ['?'])));
      }
      const tabs = await page.locator('.tab .label-name').allInnerTexts();
      throw new Error(`no webview on screen has the heading ${heading} (tabs: ${tabs.join(', ') || 'none'}; headings on screen: ${headings.join(', ') || 'none'})`);
    }
    await page.waitForTimeout(250);
  }
}

// CI keeps only what is printed: the tail of the extension's output channel (its log and the
// server's stderr) goes there, and the whole file to the artifacts.
function printExtensionLog() {
  for (const file of extensionLogFiles(userData)) {
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    fs.copyFileSync(file, path.join(ARTIFACTS, path.basename(file)));
    console.log(`\n--- last lines of ${path.basename(file)} ---\n${lines.slice(-40).join('\n')}`);
  }
}

// Runs in the webview: the contrast of each status pill, summary number and verdict with the
// background behind it (its own translucent background composited over its ancestors').
function measureContrast(_body, selector = '.badge, .card .n, .verdict') {
  const parse = (value) => {
    let m = /^rgba?\(([^)]+)\)$/.exec(value);
    if (m) {
      const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return [p[0] / 255, p[1] / 255, p[2] / 255, p.length > 3 ? p[3] : 1];
    }
    m = /^color\(srgb ([^)]+)\)$/.exec(value);
    if (m) {
      const p = m[1].split(/[\s/]+/).filter(Boolean).map(Number);
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    }
    throw new Error(`a color the test cannot read: ${value}`);
  };
  const over = (top, bottom) => {
    const a = top[3] + bottom[3] * (1 - top[3]);
    return [0, 1, 2].map((i) => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / (a || 1)).concat([a]);
  };
  const backgroundOf = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    return layers.reduceRight((below, layer) => over(layer, below), [1, 1, 1, 1]);
  };
  const luminance = (c) => {
    const f = (v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const shown = (el) => el.getClientRects().length > 0 && el.textContent.trim() !== '' && getComputedStyle(el).visibility !== 'hidden';
  const items = [...document.querySelectorAll(selector)].filter(shown).map((el) => {
    const bg = backgroundOf(el);
    const fg = over(parse(getComputedStyle(el).color), bg);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
    return { text: el.textContent.trim().slice(0, 40), cls: el.className, ratio: (hi + 0.05) / (lo + 0.05) };
  });
  return { bodyLuminance: luminance(backgroundOf(document.body)), items };
}

// The extension's log channel files (VS Code writes them to the profile's logs folder).
function extensionLogFiles(dataDir) {
  const found = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/replay lens/i.test(entry.name)) found.push(full);
    }
  };
  try {
    walk(path.join(dataDir, 'logs'));
  } catch {
    return [];
  }
  return found;
}

// The lines of the extension's log channel.
function extensionLog(dataDir) {
  return extensionLogFiles(dataDir).flatMap((file) => fs.readFileSync(file, 'utf8').split('\n'));
}

function fixtureOnDisk() {
  return JSON.parse(fs.readFileSync(path.join(workspace, FIXTURE), 'utf8'));
}

const exitCode = await (async () => {
  try {
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, TIMEOUT);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
    });
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: TIMEOUT });
    await page.locator('.explorer-folders-view, .explorer-viewlet').first().waitFor({ timeout: TIMEOUT });

    const before = fixtureOnDisk();

    // The profile's interpreter is a bare Python (nothing installed): the findings come from the
    // server bundled in the .vsix, started by its script path in isolated mode.
    await check('with only a bare Python 3.11+ (nothing installed), the bundled server lists the stale-key problems', async () => {
      await openFile(FIXTURE);
      await showProblems();
      await (await problemRows('stale-key')).first().waitFor({ timeout: 1.5 * TIMEOUT });
      await waitForProblems('stale-key', 3);
      await shot('problems');
      await shot('bare-python-findings');
      const start = extensionLog(userData).find((l) => l.includes('Starting the server:')) ?? '';
      if (!start.includes(`${barePython} -I `) || !/bundled\/tool\/lsp_server\.py --stdio/.test(start)) throw new Error(`the server was not started from the bundle with the bare Python: ${start}`);
    });

    await check('hovering a stale turn shows its normalized input', async () => {
      await goToFirstProblem('stale-key');
      await runCommand('Show or Focus Hover');
      const hover = page.locator('.monaco-hover:not(.hidden)').first();
      await hover.waitFor({ state: 'visible', timeout: TIMEOUT });
      await page.waitForTimeout(300);
      const text = await hover.innerText();
      if (!/normalized/i.test(text)) throw new Error(`the hover does not mention the normalized input: ${text.slice(0, 300)}`);
      if (!/<(UUID|TS|DATE|PATH)>|Create \/mnt/.test(text)) throw new Error(`the hover shows no normalized input text: ${text.slice(0, 300)}`);
      await shot('hover');
      await page.keyboard.press('Escape');
    });

    // The report shows what the CLI computes for the same files: the verdict, the counts, the
    // first divergence, one card per miss with its nearest recorded turn and a colored diff. The
    // first divergent step opens the recording at that call with the keyboard.
    async function checkReport(screenshot, want) {
      const frame = webview();
      await frame.locator('h1', { hasText: 'Replay report' }).waitFor({ timeout: TIMEOUT });
      const misses = want.summary.misses;
      const verdict = await frame.locator('.verdict').innerText();
      if (!verdict.includes(`Replay would fail: ${misses} ${misses === 1 ? 'miss' : 'misses'}`)) throw new Error(`the report does not show ${misses} misses: ${verdict}`);
      const cards = {};
      for (const card of await frame.locator('li.card').all()) cards[(await card.locator('.muted').innerText()).trim()] = Number((await card.locator('.n').innerText()).replace(/\D/g, ''));
      const wantCards = { 'model calls': want.summary.calls, hits: want.summary.hits, misses, 'unused turns': want.summary.unused };
      for (const [label, n] of Object.entries(wantCards)) if (cards[label] !== n) throw new Error(`the "${label}" card shows ${cards[label]}, the CLI report says ${n} (${JSON.stringify(cards)})`);
      const divergence = await frame.locator('.divergence').innerText();
      if (!divergence.includes(`First divergence at step ${want.first_divergence}`)) throw new Error(`not the CLI's first divergence (step ${want.first_divergence}): ${divergence}`);
      const missSteps = want.steps.filter((s) => s.status === 'miss').map((s) => s.index);
      const articles = frame.locator('article.miss');
      const shown = await articles.evaluateAll((els) => els.map((el) => Number(el.id.replace('miss-', ''))));
      if (JSON.stringify(shown) !== JSON.stringify(missSteps)) throw new Error(`the report shows misses at steps ${shown}, the CLI at ${missSteps}`);
      const miss = articles.first();
      const missText = await miss.innerText();
      if (!/Nearest recorded input: turn \d+/.test(missText)) throw new Error(`the miss does not name the nearest turn: ${missText.slice(0, 300)}`);
      if ((await miss.locator('pre.diff del, pre.diff ins').count()) === 0) throw new Error('the miss has no colored diff');
      if ((await frame.locator('.step').count()) !== want.steps.length) throw new Error(`the timeline does not show the ${want.steps.length} steps of the CLI report`);
      // The report alone, full size, for the screenshot.
      await setPanelVisible(false);
      await runCommand('View: Toggle Maximize Editor Group');
      await page.waitForTimeout(800);
      await shot(screenshot);
      const box = await page.locator('.editor-group-container.active').first().boundingBox();
      if (box) await page.screenshot({ path: path.join(ARTIFACTS, `${screenshot}-webview.png`), clip: box });
      await miss.scrollIntoViewIfNeeded();
      await page.waitForTimeout(300);
      await shot(`${screenshot}-miss`);
      await runCommand('View: Toggle Maximize Editor Group');
      const step = frame.locator('.step.divergent').first();
      const label = await step.getAttribute('aria-label');
      const html = await step.evaluate((el) => el.outerHTML);
      const line = Number(/data-range="(\d+)/.exec(html)?.[1]);
      const file = path.posix.basename(decodeURIComponent(/data-open="([^"]+)"/.exec(html)?.[1] ?? ''));
      if (!file) throw new Error(`the divergent step has no location: ${html.slice(0, 300)}`);
      await step.focus();
      await page.keyboard.press('Enter');
      await page.locator('.tab.active .label-name', { hasText: new RegExp(`^${escapeRe(file)}$`) }).first().waitFor({ timeout: TIMEOUT });
      const position = await statusBarPosition(file);
      if (!Number.isNaN(line) && !position.includes(`Ln ${line + 1},`)) throw new Error(`Enter on "${label}" did not open the recording at line ${line + 1} (${position})`);
    }

    // Before any fix: the sample's 3 stale turns are 3 misses, as `python -m server replay` says.
    await check('Replay Lens: Replay This Session opens the report with the expected miss', async () => {
      await openFile(FIXTURE);
      // The fixture's code lens offers the same replay.
      await page.locator('.codelens-decoration a', { hasText: /▶ Replay/ }).first().waitFor({ timeout: TIMEOUT });
      await runCommand('Replay Lens: Replay This Session');
      const unsupported = page.locator('.notifications-toasts', { hasText: /does not support the command replayLens\.replaySession/ });
      const tab = page.locator('.tab', { hasText: /Replay: / }).first();
      const which = await Promise.race([
        tab.waitFor({ timeout: 1.5 * TIMEOUT }).then(() => 'report', () => 'timeout'),
        unsupported.waitFor({ timeout: 1.5 * TIMEOUT }).then(() => 'unsupported', () => 'timeout'),
      ]);
      if (which === 'unsupported') {
        await shot('replay-unsupported');
        await page.keyboard.press('Escape');
        await runCommand('Notifications: Clear All Notifications').catch(() => undefined);
        throw new Error('the server does not offer replayLens.replaySession (the extension says so in a notification)');
      }
      if (which !== 'report') throw new Error('no report and no message');
      await webview().locator('h1', { hasText: 'Replay report: write_note.ultra.jsonl' }).waitFor({ timeout: TIMEOUT });
      // Each missed turn is stale: one problem per turn, led by its cause, the miss and the unused turn
      // its related information (not three problems on one line).
      const wantMisses = expected.report.diagnostics.filter((d) => d.code === 'replay-miss').length;
      if (wantMisses !== 3) throw new Error(`the CLI report places ${wantMisses} replay-miss findings on the fixture, expected 3`);
      await waitForProblems('stale-key', wantMisses);
      const caused = (await problemRows('stale-key')).filter({ hasText: /stale: keyed without rules user-input-begin/ });
      const causeDeadline = Date.now() + 30_000;
      while ((await caused.count()) !== wantMisses && Date.now() < causeDeadline) await page.waitForTimeout(250);
      if ((await caused.count()) !== wantMisses) throw new Error(`expected ${wantMisses} stale-key problems led by their cause`);
      await waitForProblems('replay-miss', 0);
      // The replay's facts are the related information of those problems (the panel, filtered by
      // "replay-miss" above, shows them under their stale-key rows).
      const related = page.locator('.markers-panel .monaco-list-row', { hasText: /replay-miss: replay of write_note\.ultra\.jsonl step \d+ misses/ });
      if ((await related.count()) !== wantMisses) throw new Error(`the Problems panel shows ${await related.count()} replay-miss related lines under the stale-key problems, expected ${wantMisses}`);
      // What a user sees: the stale-key rows, each led by its cause.
      const firstText = await (await problemRows('stale-key')).first().innerText();
      if (!/^\s*stale: keyed without rules user-input-begin/.test(firstText)) throw new Error(`the first problem does not start with its cause: ${firstText.slice(0, 200)}`);
      await shot('replay-problems');
      await checkReport('report', expected.report);
      // The first miss in VS Code's diff editor: the recorded turn's normalized input (keyed
      // without the user-input rules, so with the BEGIN/END markers) against this call's.
      await webview().locator('article#miss-0 button[data-action="diff"]', { hasText: 'Open in diff editor' }).click();
      const diffEditor = page.locator('.monaco-diff-editor').filter({ visible: true }).first();
      await diffEditor.waitFor({ timeout: TIMEOUT });
      const sideText = async (side) => (await diffEditor.locator(`.editor.${side} .view-lines`).first().innerText()).replace(/\u00a0/g, ' ');
      let original = await sideText('original');
      const diffDeadline = Date.now() + 10_000;
      while (!original.includes('BEGIN USER INPUT') && Date.now() < diffDeadline) {
        await page.waitForTimeout(250);
        original = await sideText('original');
      }
      const modified = await sideText('modified');
      if (!original.includes('--- BEGIN USER INPUT ---') || modified.includes('BEGIN USER INPUT') || !modified.includes('Create /mnt/user-data/outputs/note.txt')) {
        throw new Error(`the diff editor does not show the two inputs: ${original.slice(0, 200)} | ${modified.slice(0, 200)}`);
      }
      await shot('report-diff-editor');
      await runCommand('View: Close All Editors');
    });

    await check('the quick fix rehashes the stale turn', async () => {
      await goToFirstProblem('stale-key');
      await page.keyboard.press('Control+.');
      const action = page.locator('.action-widget .monaco-list-row', { hasText: /Rehash this turn/i }).first();
      await action.waitFor({ state: 'visible', timeout: TIMEOUT });
      await shot('quick-fix');
      // The action widget takes no clicks while it settles: move its focus to the action, Enter.
      const focused = page.locator('.action-widget .monaco-list-row.focused').first();
      for (let i = 0; i < 10 && !/Rehash this turn/i.test(await focused.innerText().catch(() => '')); i++) await page.keyboard.press('ArrowDown');
      if (!/Rehash this turn/i.test(await focused.innerText())) throw new Error('could not select "Rehash this turn" in the quick fix menu');
      await page.keyboard.press('Enter');
      await waitForProblems('stale-key', 2);
      // The edit clears the replay's findings (they were about the text the replay saw).
      await waitForProblems('replay-miss', 0);
      await page.keyboard.press('Control+S');
      const saveDeadline = Date.now() + 15_000;
      let after = fixtureOnDisk();
      while (after.turns[0].input_hash === before.turns[0].input_hash && Date.now() < saveDeadline) {
        await page.waitForTimeout(250);
        after = fixtureOnDisk();
      }
      if (after.turns[0].input_hash === before.turns[0].input_hash) throw new Error('turn 0 was not rehashed on disk after saving');
      if (after.turns[1].input_hash !== before.turns[1].input_hash) throw new Error('the quick fix changed another turn');
      if (JSON.stringify(after.turns[0].output) !== JSON.stringify(before.turns[0].output)) throw new Error('the quick fix changed the output');
    });

    await check('Show Normalized Input opens the normalized input of the turn under the cursor', async () => {
      await openFile(FIXTURE);
      await goToFirstProblem('stale-key');
      await runCommand('Replay Lens: Show Normalized Input');
      const tab = page.locator('.tab', { hasText: /normalized/ }).first();
      await tab.waitFor({ timeout: TIMEOUT });
      const group = page.locator('.editor-group-container', { has: page.locator('.tab', { hasText: /normalized/ }) }).first();
      const text = (await group.locator('.view-lines').first().innerText()).replace(/\u00a0/g, ' ');
      if (!/Create \/mnt\/user-data\/outputs\/note\.txt/.test(text)) throw new Error(`unexpected normalized input: ${text.slice(0, 300)}`);
      await shot('normalized-input');
      await runCommand('View: Close All Editors');
    });

    // The report a CI job saved before the fix: still 3 misses, whatever the files say now.
    await check('a report saved by `python -m server replay --format json` opens in the report view', async () => {
      if (!cliReport.stdout.trim().startsWith('{')) throw new Error(`the CLI gave no JSON report (exit ${cliReport.status}): ${cliReport.stderr.slice(0, 300)}`);
      await openFile('replay-report.json');
      await runCommand('Replay Lens: Open Replay Report from JSON');
      await page.locator('.tab', { hasText: /Replay: / }).first().waitFor({ timeout: TIMEOUT });
      await checkReport(fs.existsSync(path.join(ARTIFACTS, 'report.png')) ? 'report-from-json' : 'report', JSON.parse(cliReport.stdout));
      // The miss at step 3 is stale turn 2: its Rehash button rehashes that turn only.
      await webview().locator('article#miss-3 button[data-action="rehash"]', { hasText: 'Rehash turn 2' }).click();
      await page.locator('.notification-toast', { hasText: /rehashed turn 2 of write_note\.ultra\.json/ }).first().waitFor({ timeout: TIMEOUT });
      await waitForProblems('stale-key', 1);
      await shot('report-rehash-button');
      await runCommand('Notifications: Clear All Notifications');
      // The rehash is an unsaved edit of the fixture (as the quick fix's): save it.
      await openFile(FIXTURE);
      await page.keyboard.press('Control+S');
      await page.locator('.tab.dirty', { hasText: 'write_note.ultra.json' }).first().waitFor({ state: 'detached', timeout: TIMEOUT });
      await runCommand('View: Close All Editors');
    });

    // A report from another machine: its files are found in this workspace by their path (the one it does
    // not have is named, without a link); its links open the workspace's files; "Replay again" replays
    // the workspace's session, never a file outside it.
    await check('a CI report with foreign paths maps its files into the workspace and names the missing one', async () => {
      await openFile('ci-report.json');
      await runCommand('Replay Lens: Open Replay Report from JSON');
      await page.locator('.notification-toast', { hasText: /1 file of ci-report\.json is not in this workspace: \/home\/runner\/work\/agent\/agent\/replay\/write_note\.ultra\.v0\.json/ }).first().waitFor({ timeout: TIMEOUT });
      const frame = await webviewWithHeading(/Replay report/);
      const missing = await frame.locator('.missing').innerText();
      if (!missing.includes(CI_MISSING)) throw new Error(`the report does not name the missing fixture: ${missing}`);
      const files = await frame.locator('.files').innerText();
      if (!files.includes('recordings/write_note.ultra.jsonl') || !files.includes('(not in this workspace)')) throw new Error(`the report's files read "${files}"`);
      if ((await frame.locator('[data-open*="/home/runner/"]').count()) > 0) throw new Error('a link of the report still opens a /home/runner path');
      await shot('report-ci-foreign-paths');
      await frame.locator('.files button[data-open]', { hasText: 'recordings/write_note.ultra.jsonl' }).click();
      await page.locator('.tab.active .label-name', { hasText: /^write_note\.ultra\.jsonl$/ }).first().waitFor({ timeout: TIMEOUT });
      if (await page.locator('.notification-toast', { hasText: /Unable to resolve|nonexistent/ }).count()) throw new Error('a raw "Unable to resolve nonexistent file" error is shown');
      await page.locator('.tab', { hasText: /Replay: / }).first().click();
      const again = await webviewWithHeading(/Replay report/);
      await again.locator('button[data-action="rerun"]').click();
      const replayed = await webviewWithHeading(/Replay report/);
      await replayed.locator('.files button[data-open$="write_note.ultra.json"]').first().waitFor({ timeout: TIMEOUT }); // the workspace's fixture, found by the server
      if (await replayed.locator('.missing').count()) throw new Error('the replayed report still lists missing files');
      await shot('report-ci-replayed-here');
      await runCommand('Notifications: Clear All Notifications');
      await runCommand('View: Close All Editors');
    });

    // WCAG AA: every status pill, summary number and verdict of the report has a contrast of at
    // least 4.5:1 with what is behind it, computed from the styles the webview really has in a
    // light, a dark and a high-contrast theme (switched through the user settings file).
    await check('the report passes WCAG AA contrast (4.5:1) in light, dark and high-contrast themes', async () => {
      await openFile('replay-report.json');
      await runCommand('Replay Lens: Open Replay Report from JSON');
      const frame = webview();
      await frame.locator('.badge').first().waitFor({ timeout: TIMEOUT });
      await checkContrast(frame, THEMES, { what: 'the webview', shots: 'contrast-', atLeast: 10, counted: 'pills and numbers' });
      await runCommand('View: Close All Editors');
    });

    // Commands by file kind: Rehash is offered on a fixture only, not on a report (which is .json too).
    await check('the palette offers Rehash Stale Turns on a fixture only (not on a replay report)', async () => {
      const offered = async () => {
        await page.keyboard.press('F1');
        const input = page.locator('.quick-input-widget input');
        await input.waitFor({ state: 'visible', timeout: TIMEOUT });
        await input.fill('>Replay Lens: Rehash Stale Turns');
        await page.waitForTimeout(500);
        const n = await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Rehash Stale Turns in This File' }).count();
        await page.keyboard.press('Escape');
        return n > 0;
      };
      await openFile('replay-report.json');
      if (await offered()) throw new Error('the palette offers Rehash on replay-report.json');
      await openFile(FIXTURE);
      if (!(await offered())) throw new Error(`the palette does not offer Rehash on ${FIXTURE}`);
      await runCommand('View: Close All Editors');
    });

    await check('Rehash Stale Turns in This File rehashes the remaining stale turn (the report rehashed turn 2)', async () => {
      await openFile(FIXTURE);
      await waitForProblems('stale-key', 1);
      await runCommand('Replay Lens: Rehash Stale Turns in This File');
      await page.locator('.notification-toast', { hasText: /rehashed turn 3 of write_note\.ultra\.json/i }).first().waitFor({ timeout: TIMEOUT });
      await waitForProblems('stale-key', 0);
      await shot('rehashed');
      await page.keyboard.press('Control+S');
      const deadline = Date.now() + 15_000;
      let after = fixtureOnDisk();
      while (after.turns[3].input_hash === before.turns[3].input_hash && Date.now() < deadline) {
        await page.waitForTimeout(250);
        after = fixtureOnDisk();
      }
      if (after.turns[2].input_hash === before.turns[2].input_hash || after.turns[3].input_hash === before.turns[3].input_hash) throw new Error('turns 2 and 3 were not rehashed on disk after saving');
      await runCommand('Notifications: Clear All Notifications');
    });

    // The view lists what `python -m server sessions` finds (recordings, fixtures, traces);
    // selecting a session opens its steps, as `python -m server steps` gives them.
    // The view, in its own activity-bar container, lists what `python -m server sessions` finds
    // (recordings, fixtures, traces) grouped by kind, each with a distinct label; a filter narrows
    // it; selecting a session opens its steps, as `python -m server steps` gives them.
    await check('the Sessions view (own container) groups the sessions by kind with distinct labels, filters, and a session opens its steps', async () => {
      await runCommand('View: Close All Editors');
      await setPanelVisible(false);
      await page.locator('.part.activitybar .action-item .action-label[aria-label^="Replay Lens"]').first().click();
      const pane = page.locator('.part.sidebar').first();
      await pane.locator('.monaco-list-row').first().waitFor({ timeout: TIMEOUT });
      const unsupported = pane.locator('.welcome-view-content', { hasText: 'does not list sessions yet' });
      if (await unsupported.isVisible()) throw new Error(`the view says the server does not list sessions: ${await unsupported.innerText()}`);
      const rows = pane.locator('.monaco-list-row');
      if (expected.sessions.length < 10 || !expected.sessions.some((s) => s.kind === 'fixture') || !expected.sessions.some((s) => s.kind.startsWith('codex'))) {
        throw new Error(`python -m server sessions lists fewer kinds of sessions than the sample holds: ${expected.sessions.map((s) => s.title).join(', ')}`);
      }
      // What the tree shows: groups (no description) and sessions (kind · steps).
      const tree = async () =>
        rows.evaluateAll((els) =>
          els.map((el) => ({
            label: (el.querySelector('.label-name')?.textContent ?? '').trim(),
            description: (el.querySelector('.label-description')?.textContent ?? '').trim(),
          })),
        );
      const headings = { recording: 'Recordings', fixture: 'Fixtures', 'codex-bundle': 'Codex traces', 'codex-rollout': 'Codex rollouts', 'cato-audit': 'CATO audit logs', 'langgraph-checkpoints': 'LangGraph checkpoints' };
      const wantGroups = Object.entries(headings)
        .map(([kind, heading]) => [heading, expected.sessions.filter((s) => s.kind === kind).length])
        .filter(([, n]) => n > 0)
        .map(([heading, n]) => `${heading} (${n})`);
      const deadline = Date.now() + TIMEOUT;
      let shown = await tree();
      const sessionRows = () => shown.filter((r) => r.description);
      while (sessionRows().length !== expected.sessions.length && Date.now() < deadline) {
        await page.waitForTimeout(250);
        shown = await tree();
      }
      await shot('sessions-view');
      const labels = sessionRows().map((r) => r.label);
      if (labels.length !== expected.sessions.length) throw new Error(`the view lists ${labels.length} sessions (${labels.join(', ')}), the CLI ${expected.sessions.length}`);
      if (new Set(labels).size !== labels.length) throw new Error(`two sessions share a label: ${labels.join(', ')}`);
      for (const s of expected.sessions) {
        const title = s.title || path.relative(workspace, s.path);
        if (!labels.some((l) => l === title || l.startsWith(`${title} · `))) throw new Error(`no row for "${title}" (${s.path})`);
      }
      const groups = shown.filter((r) => !r.description && / \(\d+\)$/.test(r.label)).map((r) => r.label);
      if (JSON.stringify(groups) !== JSON.stringify(wantGroups)) throw new Error(`the groups are ${groups.join(', ')}, not ${wantGroups.join(', ')}`);

      // The filter: only the LangGraph threads, and the view says how many of all.
      await runCommand('Replay Lens: Filter Sessions');
      // The input box replaces the palette: typed before it is there, the text went to the palette.
      await page.locator('.quick-input-widget', { hasText: 'Filter sessions' }).waitFor({ timeout: TIMEOUT });
      await page.locator('.quick-input-widget input').fill('langgraph');
      await page.keyboard.press('Enter');
      const langgraph = expected.sessions.filter((s) => s.kind === 'langgraph-checkpoints').length;
      await pane.locator('.message', { hasText: `Filter "langgraph": ${langgraph} of ${expected.sessions.length} sessions` }).first().waitFor({ timeout: TIMEOUT });
      // The message can come before the tree's rows are rendered again: wait for the rows too.
      const filterDeadline = Date.now() + 10_000;
      let filtered = (await tree()).filter((r) => r.description);
      while (filtered.length !== langgraph && Date.now() < filterDeadline) {
        await page.waitForTimeout(250);
        filtered = (await tree()).filter((r) => r.description);
      }
      if (filtered.length !== langgraph || !filtered.every((r) => /LangGraph/.test(r.description))) throw new Error(`the filter shows ${filtered.map((r) => r.label).join(', ')}`);
      await shot('sessions-filtered');
      await runCommand('Replay Lens: Clear Sessions Filter');
      await pane.locator('.monaco-list-row', { hasText: 'Recordings' }).first().waitFor({ timeout: TIMEOUT });

      // The recording: its 6 steps, and the button to replay it.
      const recording = rows.filter({ has: page.locator('.label-name', { hasText: /^write_note\.ultra\.jsonl$/ }) }).first();
      const description = await recording.locator('.label-description').innerText();
      if (!/recording · 6 steps/.test(description)) throw new Error(`the recording's row says "${description}", not "recording · 6 steps"`);
      await openFromTree(recording, 'Session: write_note.ultra.jsonl');
      let frame = await webviewWithHeading(/^write_note\.ultra\.jsonl$/);
      const checkSteps = async (want) => {
        const whos = want.steps.map((s) => s.caller || s.name || s.model || s.kind);
        const deadline = Date.now() + 10_000;
        let shown = await frame.locator('.step .who').allInnerTexts();
        while (JSON.stringify(shown) !== JSON.stringify(whos) && Date.now() < deadline) {
          await page.waitForTimeout(250);
          shown = await frame.locator('.step .who').allInnerTexts();
        }
        if (JSON.stringify(shown) !== JSON.stringify(whos)) throw new Error(`the steps page shows ${shown.join(', ')}, python -m server steps ${whos.join(', ')}`);
        const files = await frame.locator('.files').innerText();
        if (!files.includes(`${want.total} step${want.total === 1 ? '' : 's'}`)) throw new Error(`the steps page does not say ${want.total} steps: ${files}`);
      };
      await checkSteps(expected.recordingSteps);
      await frame.locator('button[data-action="replay"]', { hasText: 'Replay this session' }).waitFor({ timeout: TIMEOUT });
      await shot('session-steps');
      // Each row keeps its columns on its first line: tokens beside the name, not wrapped under the index.
      const wrapped = await frame.locator('.step').evaluateAll((els) =>
        els
          .filter((el) => {
            const who = el.querySelector('.who');
            const tok = el.querySelector('.tok');
            return who && tok && tok.textContent.trim() && Math.abs(tok.getBoundingClientRect().top - who.getBoundingClientRect().top) > 4;
          })
          .map((el) => el.id),
      );
      if (wrapped.length) throw new Error(`the tokens of ${wrapped.join(', ')} wrap to a second line`);
      // A step's detail: the tool call's arguments and result, as `python -m server steps` has them.
      const toolStep = expected.recordingSteps.steps.find((st) => st.kind === 'tool' && st.name === 'write_file');
      if (!toolStep) throw new Error('python -m server steps lists no write_file tool call in the recording');
      await frame.locator(`#step-${toolStep.index}`).click();
      const detail = frame.locator(`#detail-${toolStep.index}`);
      await detail.waitFor({ state: 'visible', timeout: TIMEOUT });
      const detailText = await detail.innerText();
      if (!detailText.includes('Arguments') || !detailText.includes(toolStep.arguments.path) || !detailText.includes(String(toolStep.result))) {
        throw new Error(`the detail of step ${toolStep.index} does not show its arguments and result: ${detailText.slice(0, 300)}`);
      }
      const modelStep = expected.recordingSteps.steps.find((st) => st.kind === 'model' && Array.isArray(st.input) && st.index > 0 && st.caller === 'lead_agent');
      if (modelStep) {
        await frame.locator(`#step-${modelStep.index}`).click();
        const text = await frame.locator(`#detail-${modelStep.index}`).innerText();
        if (!/new in this call \(\d+ carried over\)/.test(text)) throw new Error(`the detail of model step ${modelStep.index} does not separate the new input messages: ${text.slice(0, 300)}`);
      }
      // The last model call of the lead agent, in full: the input messages new since its previous
      // call (their text), its output, its tokens, as `python -m server steps` has them.
      const leadCalls = expected.recordingSteps.steps.filter((st) => st.kind === 'model' && Array.isArray(st.input) && st.caller === 'lead_agent');
      if (leadCalls.length < 2) throw new Error(`python -m server steps lists ${leadCalls.length} model calls of lead_agent, the test needs 2`);
      {
        const [previous, last] = leadCalls.slice(-2);
        const fresh = last.input.slice(previous.input.length);
        const contentOf = (m) => String(m?.data?.content ?? m?.content ?? '');
        await frame.locator(`#step-${last.index}`).click();
        const pane = frame.locator(`#detail-${last.index}`);
        await pane.waitFor({ state: 'visible', timeout: TIMEOUT });
        const text = await pane.innerText();
        const heading = `${fresh.length} message${fresh.length === 1 ? '' : 's'} new in this call (${previous.input.length} carried over)`;
        if (!text.includes(heading)) throw new Error(`the detail of step ${last.index} does not say "${heading}": ${text.slice(0, 300)}`);
        const newTexts = fresh.map(contentOf).filter((t) => t.trim());
        if (!newTexts.length || !newTexts.every((t) => text.includes(t.trim().slice(0, 60)))) throw new Error(`the detail of step ${last.index} does not show its new input messages ${JSON.stringify(newTexts)}`);
        const carried = contentOf(last.input[0]).trim().slice(0, 40);
        if (carried && text.includes(carried)) throw new Error(`the detail of step ${last.index} repeats a carried-over message: "${carried}"`);
        const output = contentOf(last.output).trim();
        if (!/\bOutput\b/.test(text) || !output || !text.includes(output)) throw new Error(`the detail of step ${last.index} does not show its output "${output}": ${text.slice(0, 300)}`);
        const tokens = `${last.tokens.input.toLocaleString('en-US')} in · ${last.tokens.output.toLocaleString('en-US')} out`;
        if (!text.includes(tokens)) throw new Error(`the detail of step ${last.index} does not show its tokens "${tokens}": ${text.slice(0, 300)}`);
        await shot('session-step-detail-model');
      }
      // Search and filters keep the matching steps, and the totals follow.
      const visibleSteps = async () => frame.locator('ol.timeline > li:not([hidden]) .step .who').allInnerTexts();
      // "read_file": the tool call, and the model call whose summary asks for it.
      await frame.locator('#step-search').fill('read_file');
      const found = await visibleSteps();
      const wantFound = expected.recordingSteps.steps
        .filter((st) => [st.caller, st.name, st.model, st.summary, st.status, st.kind].filter(Boolean).join(' ').toLowerCase().includes('read_file'))
        .map((st) => st.caller || st.name || st.model || st.kind);
      if (wantFound.length < 1 || JSON.stringify(found) !== JSON.stringify(wantFound)) throw new Error(`searching "read_file" keeps ${found.join(', ')}, not ${wantFound.join(', ')}`);
      const totals = await frame.locator('#totals').innerText();
      if (!totals.startsWith(`${wantFound.length} of ${expected.recordingSteps.steps.length} steps`)) throw new Error(`the totals say "${totals}"`);
      await frame.locator('#step-search').fill('');
      await frame.locator('#filter-kind').selectOption('tool');
      const tools = await visibleSteps();
      const wantTools = expected.recordingSteps.steps.filter((st) => st.kind === 'tool').map((st) => st.name);
      if (JSON.stringify(tools) !== JSON.stringify(wantTools)) throw new Error(`the kind filter "tool" keeps ${tools.join(', ')}, not ${wantTools.join(', ')}`);
      await frame.locator(`#step-${toolStep.index}`).click();
      await shot('session-step-detail');
      await frame.locator('#filter-kind').selectOption('');
      const allTotals = await frame.locator('#totals').innerText();
      const tokensIn = expected.recordingSteps.steps.reduce((n, st) => n + (st.tokens?.input ?? 0), 0);
      if (!allTotals.includes(`${tokensIn.toLocaleString('en-US')} tokens in`)) throw new Error(`the totals "${allTotals}" do not add up to ${tokensIn} input tokens`);

      // A trace that is no fixture: a LangGraph thread of a checkpoint database.
      if (!expected.trace) throw new Error('python -m server sessions does not list the LangGraph thread react-1 (tests/producers/langgraph/sample.py)');
      await openFromTree(rows.filter({ has: page.locator('.label-name', { hasText: expected.trace.title }) }).first(), `Session: ${expected.trace.title}`);
      frame = await webviewWithHeading(expected.trace.title);
      await checkSteps(expected.traceSteps);
      await shot('session-steps-trace');
      if (await frame.locator('button[data-action="replay"]').count()) throw new Error('a LangGraph thread offers "Replay this session"');

      await runCommand('View: Close All Editors');
      await page.locator('.part.activitybar .action-item .action-label[aria-label^="Explorer"]').first().click();
    });

    // WCAG AA in the steps view too: every text of the list, the totals and a step's detail pane has
    // a contrast of at least 4.5:1 with what is behind it, from the colors the webview renders in a
    // light and a dark theme.
    await check('the steps view and its detail pass WCAG AA contrast (4.5:1) in light and dark themes', async () => {
      await openFile('recordings/write_note.ultra.jsonl');
      await runCommand('Replay Lens: Open Session');
      const frame = await webviewWithHeading(/^write_note\.ultra\.jsonl$/);
      await frame.locator('.step .who').first().waitFor({ timeout: TIMEOUT });
      const modelStep = expected.recordingSteps.steps.filter((st) => st.kind === 'model').at(-1);
      await frame.locator(`#step-${modelStep.index}`).click();
      await frame.locator(`#detail-${modelStep.index}`).waitFor({ state: 'visible', timeout: TIMEOUT });
      const texts = '.badge, .step .idx, .step .kind, .step .who, .step .dur, .step .tok, .step .summary, #totals, .files, .muted, h1, #detail-pane h3, #detail-pane h4, dl.facts dt, dl.facts dd, .message .role, pre.content, button.link';
      await checkContrast(frame, THEMES.slice(0, 2), { what: 'the steps view', shots: 'steps-contrast-', selector: texts, atLeast: 30, counted: 'texts of the steps view' });
      await runCommand('View: Close All Editors');
    });

    await check('Restart Server restarts it (status bar back to the rules and counts)', async () => {
      await runCommand('Replay Lens: Restart Server');
      const item = page.locator('.statusbar-item', { hasText: /deerflow .* (stale|unverifiable|no stale turns)/ }).first();
      await page.waitForTimeout(500);
      await item.waitFor({ timeout: TIMEOUT });
      await (await problemRows('legacy-key')).first().waitFor({ timeout: TIMEOUT });
    });

    // The channel holds each line once at its level: the server's stderr is the one copy of its log
    // (its window/logMessage copies are dropped), the client's own messages keep their levels.
    await check('the output channel: each server line once, at its level, no stray lines', async () => {
      const lines = extensionLog(userData);
      const starts = lines.filter((l) => /\[info\] Starting the server: /.test(l));
      const hello = lines.filter((l) => /server\.lsp\.server: Replay Lens \S+ \(position encoding/.test(l));
      if (starts.length < 2) throw new Error(`expected a start and a restart in the log, found ${starts.length}`);
      if (hello.length !== starts.length) throw new Error(`the server's first line appears ${hello.length} times for ${starts.length} starts:\n${hello.join('\n')}`);
      if (!hello.every((l) => /\[info\]/.test(l))) throw new Error(`the server's info line is not at [info]: ${hello[0]}`);
      const copies = lines.filter((l) => /\] (DEBUG|INFO|WARNING|ERROR) server[\w.]*: /.test(l));
      if (copies.length) throw new Error(`window/logMessage copies in the channel: ${copies.slice(0, 3).join(' | ')}`);
      const stray = lines.filter((l) => /\] (true|false)\s*$/.test(l));
      if (stray.length) throw new Error(`stray lines: ${stray.slice(0, 3).join(' | ')}`);
      await runCommand('Replay Lens: Show Output');
      // The Output view's filter box takes over the text the Problems view was filtered by (a finding code),
      // and which box is shown while the panel switches views is a race: clear whatever box is shown until
      // the output's lines appear (clearing once, before the switch, left the output filtered: a flake).
      const running = page.locator('.part.panel .monaco-editor .view-lines', { hasText: 'Server running' }).first();
      const deadline = Date.now() + TIMEOUT;
      while (!(await running.isVisible())) {
        if (Date.now() > deadline) throw new Error('the output channel never shows "Server running"');
        const filter = page.locator('.part.panel .viewpane-filter input').filter({ visible: true }).first();
        if ((await filter.count()) && (await filter.inputValue())) await filter.fill('');
        await page.waitForTimeout(250);
      }
      await shot('output');
      await setPanelVisible(false);
    });

    // A folder with a fixture and no recording or capture: no turn can be verified, so the status bar
    // must not say ✓. It names Replay Lens, counts the unverifiable turns as `python -m server check`
    // does, and its tooltip gives the next step (record the session, or capture a test run).
    await check('a folder where every turn is unverifiable: the status bar names Replay Lens and says "N unverifiable" (not ✓), with the next step', async () => {
      const folder = path.join(tmp, 'unverifiable');
      fs.mkdirSync(path.join(folder, 'replay'), { recursive: true });
      fs.copyFileSync(path.join(REPO, 'fixtures', 'replay-lens.toml'), path.join(folder, 'replay-lens.toml'));
      fs.copyFileSync(path.join(REPO, 'fixtures', FIXTURE), path.join(folder, FIXTURE));
      const checked = spawnSync(PYTHON, ['-m', 'server', 'check', '--format', 'json'], { cwd: folder, encoding: 'utf8' });
      const summary = JSON.parse(checked.stdout || '{}').summary ?? {};
      if (!(summary.turns > 0) || summary.unverifiable !== summary.turns || summary.stale !== 0) throw new Error(`python -m server check does not find every turn unverifiable: ${JSON.stringify(summary)}`);
      await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}`);
      await page.locator('.monaco-workbench').waitFor({ timeout: TIMEOUT });
      const item = page.locator('.statusbar-item', { hasText: new RegExp(`\\b${summary.unverifiable} unverifiable$`) }).first();
      await item.waitFor({ timeout: 1.5 * TIMEOUT });
      const text = (await item.innerText()).trim();
      if (!/^Replay Lens\b/.test(text)) throw new Error(`the status bar item does not name Replay Lens: "${text}"`);
      if (/no stale turns|✓/.test(text) || (await item.locator('.codicon-check').count())) throw new Error(`the status bar item shows an all-clear: "${text}"`);
      await item.hover();
      const tooltip = page.locator('.monaco-hover, .workbench-hover', { hasText: 'Unverifiable turns' }).filter({ visible: true }).first();
      await tooltip.waitFor({ timeout: TIMEOUT });
      const tip = await tooltip.innerText();
      if (!tip.includes(`Unverifiable turns: ${summary.unverifiable}`) || !/record/i.test(tip) || !tip.includes('pytest --replay-lens=capture')) throw new Error(`the tooltip gives no next step: ${tip}`);
      await shot('unverifiable-status');
    });

    // A second profile whose interpreter does not exist: one notification that says what was tried
    // and offers the two fixes; no language client is created, so nothing is spawned again.
    await check('a profile with no Python: exactly one notification, naming what was tried, with Select Interpreter and Open Settings', async () => {
      const noPythonData = path.join(tmp, 'user-data-no-python');
      fs.mkdirSync(path.join(noPythonData, 'User'), { recursive: true });
      fs.writeFileSync(path.join(noPythonData, 'User', 'settings.json'), userSettings(noPython));
      const second = await startCodeServer(noPythonData, 'code-server-no-python.log');
      await waitForHttp(`http://127.0.0.1:${second.port}/healthz`, TIMEOUT);
      await page.close();
      page = await context.newPage();
      page.setDefaultTimeout(TIMEOUT);
      await page.goto(`http://127.0.0.1:${second.port}/?folder=${encodeURIComponent(workspace)}`);
      await page.locator('.monaco-workbench').waitFor({ timeout: TIMEOUT });
      const toast = page.locator('.notification-toast', { hasText: /Replay Lens needs Python 3\.11 or newer/ }).first();
      await toast.waitFor({ timeout: 1.5 * TIMEOUT });
      const text = (await toast.locator('.notification-list-item-message').innerText()).trim();
      if (!text.includes(`Tried: ${noPython} (from replayLens.interpreter): does not exist`)) throw new Error(`the notification does not say what was tried: ${text}`);
      const buttons = (await toast.locator('.monaco-button').allInnerTexts()).map((b) => b.trim()).filter(Boolean);
      if (JSON.stringify(buttons) !== JSON.stringify(['Select Interpreter', 'Open Settings'])) throw new Error(`the notification offers ${JSON.stringify(buttons)}`);
      await shot('no-python-notification');
      // The notification is shown once doStart has finished: no client exists that could spawn again.
      const log = extensionLog(noPythonData);
      if (log.some((l) => l.includes('Starting the server'))) throw new Error('a server was started without a Python');
      if (log.filter((l) => /\[error\] Replay Lens needs Python/.test(l)).length !== 1) throw new Error(`the failure is logged ${log.filter((l) => /needs Python/.test(l)).length} times`);
      await runCommand('Notifications: Show Notifications');
      const all = page.locator('.notifications-center .notification-list-item');
      await all.first().waitFor({ timeout: TIMEOUT });
      const texts = await all.locator('.notification-list-item-message').allInnerTexts();
      if (texts.length !== 1) throw new Error(`${texts.length} notifications: ${texts.join(' | ')}`);
      await page.locator('.notifications-center .monaco-button', { hasText: 'Open Settings' }).first().click();
      // The settings editor, searched for the interpreter setting.
      await page.locator('.settings-editor .setting-item-contents', { hasText: /Replay Lens: Interpreter/ }).first().waitFor({ timeout: TIMEOUT });
      await shot('no-python-open-settings');
    });

    if (failed) {
      // The output channel (server log and trace) helps to tell why.
      await runCommand('Replay Lens: Show Output').catch(() => undefined);
      await page.waitForTimeout(1000);
      await shot('output').catch(() => undefined);
      printExtensionLog();
    }
    return failed ? 1 : 0;
  } catch (e) {
    console.log(`FAIL e2e set-up: ${e instanceof Error ? e.message : e}`);
    await shot('fail-setup').catch(() => undefined);
    failed++;
    return 1;
  } finally {
    await cleanup();
    console.log(`\nScreenshots and code-server log: ${path.relative(process.cwd(), ARTIFACTS) || ARTIFACTS}`);
    console.log(`${passed} passed, ${failed} failed`);
  }
})();
process.exit(exitCode);
