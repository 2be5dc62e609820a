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

fs.rmSync(ARTIFACTS, { recursive: true, force: true });
fs.mkdirSync(ARTIFACTS, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-lens-e2e-'));
const workspace = path.join(tmp, 'workspace');
const userData = path.join(tmp, 'user-data');
const extensions = path.join(tmp, 'extensions');
// A copy of the sample workspace: the test rehashes a fixture, the committed one stays as is.
fs.cpSync(path.join(REPO, 'fixtures'), workspace, { recursive: true, filter: (src) => !src.includes('__pycache__') });
fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
fs.writeFileSync(
  path.join(userData, 'User', 'settings.json'),
  JSON.stringify(
    {
      'replayLens.interpreter': [PYTHON],
      'replayLens.trace.server': 'messages',
      'security.workspace.trust.enabled': false,
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'workbench.enableExperiments': false,
      'workbench.colorTheme': 'Default Dark Modern',
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
    },
    null,
    2,
  ),
);

// The report a CI job would save, written before VS Code starts (the sample's state: 3 stale turns).
const cliReport = spawnSync(PYTHON, ['-m', 'server', 'replay', 'recordings/write_note.ultra.jsonl', '--format', 'json'], { cwd: workspace, encoding: 'utf8' });
fs.writeFileSync(path.join(workspace, 'replay-report.json'), cliReport.stdout);

let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
class Skip extends Error {}
async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    if (e instanceof Skip) {
      skipped++;
      console.log(`skip ${name}: ${e.message}`);
      return;
    }
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

const port = await freePort();
const serverLog = fs.createWriteStream(path.join(ARTIFACTS, 'code-server.log'));
const codeServer = spawn(
  CODE_SERVER,
  [
    ...baseArgs,
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
codeServer.stdout.pipe(serverLog);
codeServer.stderr.pipe(serverLog);

let browser;
let page;
async function shot(name) {
  if (page) await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

async function cleanup() {
  await browser?.close().catch(() => undefined);
  try {
    process.kill(-codeServer.pid, 'SIGTERM');
  } catch {
    // already gone
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

async function runCommand(title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: TIMEOUT });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: TIMEOUT });
  await page.keyboard.press('Enter');
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
async function goToFirstProblem(text) {
  await page.keyboard.press('Control+Shift+M');
  const row = problemRows(text).first();
  await row.click();
  await page.keyboard.press('Enter');
  await page.locator('.monaco-editor.focused').first().waitFor({ timeout: TIMEOUT });
}

async function statusBarPosition() {
  return page.locator('.statusbar-item[id="status.editor.selection"]').innerText();
}

function problemRows(text) {
  return page.locator('.markers-panel .monaco-list-row', { hasText: text });
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

    await check('opening the fixture starts the server and the Problems panel lists stale-key', async () => {
      await openFile(FIXTURE);
      await page.keyboard.press('Control+Shift+M');
      await page.locator('.markers-panel').waitFor({ timeout: TIMEOUT });
      await problemRows('stale-key').first().waitFor({ timeout: 1.5 * TIMEOUT });
      const deadline = Date.now() + 30_000;
      while ((await problemRows('stale-key').count()) < 3 && Date.now() < deadline) await page.waitForTimeout(250);
      const count = await problemRows('stale-key').count();
      if (count !== 3) throw new Error(`expected 3 stale-key problems, the panel lists ${count}`);
      await shot('problems');
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

    await check('the quick fix rehashes the stale turn', async () => {
      await goToFirstProblem('stale-key');
      await page.keyboard.press('Control+.');
      const action = page.locator('.action-widget .monaco-list-row', { hasText: /Rehash this turn/i }).first();
      await action.waitFor({ state: 'visible', timeout: TIMEOUT });
      await shot('quick-fix');
      await page.keyboard.press('Enter');
      const deadline = Date.now() + 30_000;
      while ((await problemRows('stale-key').count()) !== 2 && Date.now() < deadline) await page.waitForTimeout(250);
      const count = await problemRows('stale-key').count();
      if (count !== 2) throw new Error(`expected 2 stale-key problems after the fix, the panel lists ${count}`);
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

    const reportFrame = () => page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');

    // The report shows at least one miss, its nearest recorded turn and a diff; the first
    // divergent step opens the recording at that call with the keyboard.
    async function checkReport(screenshot) {
      const frame = reportFrame();
      await frame.locator('h1', { hasText: 'Replay report' }).waitFor({ timeout: TIMEOUT });
      const verdict = await frame.locator('.verdict').innerText();
      if (!/Replay would fail: \d+ miss/.test(verdict)) throw new Error(`the report does not show a miss: ${verdict}`);
      const divergence = await frame.locator('.divergence').innerText();
      if (!/First divergence at step \d+/.test(divergence)) throw new Error(`no first divergence: ${divergence}`);
      const miss = frame.locator('article.miss').first();
      await miss.waitFor({ timeout: TIMEOUT });
      const missText = await miss.innerText();
      if (!/Nearest recorded input: turn \d+/.test(missText)) throw new Error(`the miss does not name the nearest turn: ${missText.slice(0, 300)}`);
      if ((await miss.locator('pre.diff del, pre.diff ins').count()) === 0) throw new Error('the miss has no colored diff');
      // The report alone, full size, for the screenshot.
      await runCommand('View: Hide Panel');
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
      await page.locator('.tab.active .label-name', { hasText: new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }).first().waitFor({ timeout: TIMEOUT });
      const position = await statusBarPosition();
      if (!Number.isNaN(line) && !position.includes(`Ln ${line + 1},`)) throw new Error(`Enter on "${label}" did not open the recording at line ${line + 1} (${position})`);
    }

    await check('Replay Lens: Replay This Session opens the report with the expected miss', async () => {
      await openFile(FIXTURE);
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
        throw new Skip('the server does not offer replayLens.replaySession yet (the extension says so in a notification)');
      }
      if (which !== 'report') throw new Error('no report and no message');
      await checkReport('report');
      await runCommand('View: Close All Editors');
    });

    await check('a report saved by `python -m server replay --format json` opens in the report view', async () => {
      if (!cliReport.stdout.trim().startsWith('{')) throw new Error(`the CLI gave no JSON report (exit ${cliReport.status}): ${cliReport.stderr.slice(0, 300)}`);
      await openFile('replay-report.json');
      await runCommand('Replay Lens: Open Replay Report from JSON');
      await page.locator('.tab', { hasText: /Replay: / }).first().waitFor({ timeout: TIMEOUT });
      await checkReport(fs.existsSync(path.join(ARTIFACTS, 'report.png')) ? 'report-from-json' : 'report');
    });

    await check('Rehash Stale Turns in This File rehashes the remaining stale turns', async () => {
      await runCommand('View: Close All Editors');
      await openFile(FIXTURE);
      await page.keyboard.press('Control+Shift+M');
      await runCommand('Replay Lens: Rehash Stale Turns in This File');
      const deadline = Date.now() + 30_000;
      while ((await problemRows('stale-key').count()) !== 0 && Date.now() < deadline) await page.waitForTimeout(250);
      const count = await problemRows('stale-key').count();
      if (count !== 0) throw new Error(`${count} stale-key problems left`);
      const toast = await page.locator('.notifications-toasts').innerText().catch(() => '');
      if (!/rehashed 2 turns \(\d+, \d+\)/i.test(toast)) throw new Error(`no "rehashed 2 turns" message: ${toast.slice(0, 200)}`);
      await shot('rehashed');
      await page.keyboard.press('Control+S');
      await runCommand('Notifications: Clear All Notifications').catch(() => undefined);
    });

    await check('the Sessions view lists the sessions, or says the server cannot yet', async () => {
      const header = page.locator('.pane-header', { hasText: 'Replay Sessions' }).first();
      await header.waitFor({ timeout: TIMEOUT });
      if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
      const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Replay Sessions' }) }).first();
      const item = pane.locator('.monaco-list-row', { hasText: 'write_note' }).first();
      const unsupported = pane.locator('.welcome-view-content', { hasText: 'does not list sessions yet' });
      const which = await Promise.race([
        item.waitFor({ timeout: TIMEOUT }).then(() => 'listed', () => 'timeout'),
        unsupported.waitFor({ timeout: TIMEOUT }).then(() => 'unsupported', () => 'timeout'),
      ]);
      await shot('sessions-view');
      if (which === 'timeout') throw new Error('neither sessions nor a message');
      if (which === 'unsupported') return;
      await item.click();
      const frame = reportFrame();
      await frame.locator('.step').first().waitFor({ timeout: TIMEOUT });
      await shot('session-steps');
    });

    await check('Restart Server restarts it (status bar back to the rules and counts)', async () => {
      await runCommand('Replay Lens: Restart Server');
      const item = page.locator('.statusbar-item', { hasText: /deerflow .* (stale|no stale turns)/ }).first();
      await page.waitForTimeout(500);
      await item.waitFor({ timeout: TIMEOUT });
      await problemRows('legacy-key').first().waitFor({ timeout: TIMEOUT });
    });

    if (failed) {
      // The output channel (server log and trace) helps to tell why.
      await runCommand('Replay Lens: Show Output').catch(() => undefined);
      await page.waitForTimeout(1000);
      await shot('output').catch(() => undefined);
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
    console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  }
})();
process.exit(exitCode);
