// HTML of the replay report and of a session's steps, rendered in the extension (pure functions,
// unit tested) and shown in a webview with a strict content security policy: no remote content,
// one nonce'd script (media/webview.ts) and the extension's style sheet (media/webview.css), no
// inline styles, theme colors only.
import { changeCounts, elide, normalizeDiff, Segment, unifiedLabels } from './diff';
import { formatNumber, plural } from './text';
import type { Range, ReplayReport, ReplayStep, SessionInfo, SessionStep, StepRow, Tokens } from './protocol';

/** Text of a value from the server: strings and numbers as they are, nothing for anything else. */
function textOf(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

export function escapeHtml(value: unknown): string {
  return textOf(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export interface RenderContext {
  nonce: string;
  cspSource: string;
  /** Webview URIs of media/webview.css and dist/webview.js (the bundle of media/webview.ts). */
  styleUri: string;
  scriptUri: string;
  /** A short label for a file URI (workspace-relative path). */
  label: (uri: string) => string;
}

export function csp(ctx: Pick<RenderContext, 'nonce' | 'cspSource'>): string {
  return [
    "default-src 'none'",
    `img-src ${ctx.cspSource} data:`,
    `font-src ${ctx.cspSource}`,
    `style-src ${ctx.cspSource}`,
    `script-src 'nonce-${ctx.nonce}'`,
  ].join('; ');
}


export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  if (ms < 60_000) {
    return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  }
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes} min ${seconds} s`;
}

export function formatTokens(tokens: Tokens | null | undefined): string {
  if (tokens === null || tokens === undefined) {
    return '';
  }
  if (typeof tokens === 'number') {
    return Number.isFinite(tokens) ? `${formatNumber(tokens)} tok` : '';
  }
  if (typeof tokens === 'object') {
    const t = tokens as Record<string, unknown>;
    const input = t.input ?? t.input_tokens ?? t.prompt ?? t.prompt_tokens;
    const output = t.output ?? t.output_tokens ?? t.completion ?? t.completion_tokens;
    const total = t.total ?? t.total_tokens;
    const parts: string[] = [];
    if (typeof input === 'number') parts.push(`${formatNumber(input)} in`);
    if (typeof output === 'number') parts.push(`${formatNumber(output)} out`);
    if (parts.length === 0 && typeof total === 'number') parts.push(`${formatNumber(total)} tok`);
    return parts.join(' · ');
  }
  return '';
}

const STATUS_LABELS: Record<string, string> = {
  hit: 'hit',
  'legacy-hit': 'legacy hit',
  miss: 'miss',
  exhausted: 'already consumed',
  tool: 'tool',
  ok: 'ok',
  error: 'error',
  failed: 'failed',
  cancelled: 'cancelled',
};

export function statusClass(status: string | null | undefined): string {
  switch (status) {
    case 'hit':
    case 'ok':
    case 'completed':
    case 'success':
      return 'ok';
    case 'legacy-hit':
    case 'cancelled':
      return 'warn';
    case 'miss':
    case 'exhausted':
    case 'error':
    case 'failed':
      return 'bad';
    default:
      return 'neutral';
  }
}

function badge(status: string | null | undefined): string {
  if (!status) {
    return '';
  }
  const label = STATUS_LABELS[status] ?? status;
  return `<span class="badge ${statusClass(status)}">${escapeHtml(label)}</span>`;
}

interface OpenTarget {
  uri?: string;
  range?: Range;
  turn?: number | null;
}

function openAttrs(target: OpenTarget): string {
  if (!target.uri) {
    return '';
  }
  const attrs = [`data-open="${escapeHtml(target.uri)}"`];
  if (target.range) {
    attrs.push(
      `data-range="${[target.range.start.line, target.range.start.character, target.range.end.line, target.range.end.character].map(Number).join(',')}"`,
    );
  }
  if (typeof target.turn === 'number') {
    attrs.push(`data-turn="${target.turn}"`);
  }
  return attrs.join(' ');
}

/** Width class of a duration bar (steps of 5%, at least 2% when there is a duration). */
export function barClass(ms: number | null | undefined, max: number): string {
  if (!ms || !Number.isFinite(ms) || ms <= 0 || max <= 0) {
    return 'w0';
  }
  const pct = Math.max(5, Math.min(100, Math.round((ms / max) * 20) * 5));
  return `w${pct}`;
}

export function page(ctx: RenderContext, title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp(ctx))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${escapeHtml(ctx.styleUri)}">
</head>
<body>
${body}
<script nonce="${escapeHtml(ctx.nonce)}" src="${escapeHtml(ctx.scriptUri)}"></script>
</body>
</html>`;
}


function card(label: string, n: number | undefined, tone: 'ok' | 'warn' | 'bad', neutral = false): string {
  const value = n ?? 0;
  return `<li class="card ${neutral ? 'neutral' : value === 0 ? 'zero' : tone}"><span class="n">${formatNumber(value)}</span><span class="muted">${escapeHtml(label)}</span></li>`;
}

export function firstDivergence(report: ReplayReport): number | null {
  const value = report.first_divergence ?? report.firstDivergence;
  return typeof value === 'number' ? value : null;
}

function stepWho(step: { caller?: string; name?: string; model?: string; kind?: string }): string {
  return step.caller || step.name || step.model || step.kind || '';
}

function kindLabel(kind: string | undefined): string {
  if (!kind) return '';
  return kind === 'model' ? 'model' : kind === 'tool' ? 'tool' : kind;
}

function stepTarget(step: ReplayStep, report: ReplayReport): OpenTarget {
  if (step.uri) {
    return { uri: step.uri, range: step.range, turn: step.turn };
  }
  if (typeof step.turn === 'number' && report.fixture?.uri) {
    return { uri: report.fixture.uri, turn: step.turn };
  }
  return {};
}

function renderSegments(segments: Segment[]): string {
  return segments
    .map((s) => {
      if (s.elided) {
        return `<span class="elided">… ${plural(s.elided, 'unchanged character')} …</span>`;
      }
      const text = escapeHtml(s.text);
      if (s.op === 'insert') return `<ins>${text}</ins>`;
      if (s.op === 'delete') return `<del>${text}</del>`;
      return text;
    })
    .join('');
}

function shortKey(value: unknown): string {
  return typeof value === 'string' && value.length > 12 ? `${value.slice(0, 12)}…` : textOf(value);
}

function renderKeys(step: ReplayStep): string {
  const keys = step.keys as Record<string, unknown> | undefined;
  const recorded = step.recorded_keys as Record<string, unknown> | undefined;
  if (!keys?.input_hash) {
    return '';
  }
  const was = recorded?.input_hash && recorded.input_hash !== keys.input_hash ? ` (recorded as <code>${escapeHtml(shortKey(recorded.input_hash))}</code>)` : '';
  return `<p class="muted">Key under the current rules: <code title="${escapeHtml(keys.input_hash)}">${escapeHtml(shortKey(keys.input_hash))}</code>${was}.</p>`;
}

/** A similarity as a percent that reads 100 % only for identical inputs: the server's text (version 2), else
 * floored, with one decimal from 99.5 %, and below 100 % whenever the report shows a diff (version 1 rounded). */
export function similarityText(nearest: { similarity?: number; similarityText?: unknown; diff?: unknown }): string {
  if (typeof nearest.similarityText === 'string' && nearest.similarityText) return nearest.similarityText;
  const ratio = typeof nearest.similarity === 'number' && Number.isFinite(nearest.similarity) ? Math.max(0, nearest.similarity) : 0;
  const differs = typeof nearest.diff === 'string' ? nearest.diff.trim() !== '' : nearest.diff !== undefined && nearest.diff !== null;
  if (ratio >= 1 && !differs) return '100%';
  if (ratio >= 0.995) return `${(Math.min(999, Math.floor(ratio * 1000 + 1e-9)) / 10).toFixed(1)}%`;
  return `${Math.floor(ratio * 100 + 1e-9)}%`;
}

/** A file of the report: a link when it is in this workspace, else its name and that it is not here. */
function fileLink(place: { uri?: string; file?: string; path?: string } | null | undefined, ctx: RenderContext): string {
  if (place?.uri) return `<button class="link mono" ${openAttrs({ uri: place.uri })}>${escapeHtml(ctx.label(place.uri))}</button>`;
  const name = place?.file ?? place?.path;
  return name ? `<span class="mono">${escapeHtml(name)}</span> <span class="muted">(not in this workspace)</span>` : '';
}

function renderNearest(step: ReplayStep, report: ReplayReport, ctx: RenderContext): string {
  const nearest = (step.nearest ?? undefined);
  const stepId = `step-${step.index}`;
  const head = `<h3>Step ${step.index}: ${escapeHtml(stepWho(step) || 'call')} ${badge(step.status)}</h3>`;
  const reason = typeof step.reason === 'string' ? `<p>${escapeHtml(step.reason)}</p>` : '';
  const gotoStep = `<button class="link" data-goto="${stepId}">Show step ${step.index} in the timeline</button>`;
  if (!nearest) {
    return `<article class="miss" id="miss-${step.index}" aria-label="Miss at step ${step.index}">${head}${reason}${renderKeys(step)}<p class="muted">No recorded turn of the fixture is near this call's input.</p>${gotoStep}</article>`;
  }
  const nearestUri = nearest.uri ?? report.fixture?.uri;
  const turnLabel = typeof nearest.turn === 'number' ? `turn ${nearest.turn}` : 'the nearest turn';
  const openNearest = nearestUri
    ? `<button class="link" ${openAttrs({ uri: nearestUri, range: nearest.range, turn: nearest.turn })}>Open recorded ${escapeHtml(turnLabel)} in ${escapeHtml(ctx.label(nearestUri))}</button>`
    : '';
  const similarity = typeof nearest.similarity === 'number' ? ` <span class="muted">(similarity ${escapeHtml(similarityText(nearest))})</span>` : '';
  const note = typeof nearest.note === 'string' ? `<p class="note">${escapeHtml(nearest.note)}</p>` : '';
  const parts = normalizeDiff(nearest.diff, nearest);
  const labels = unifiedLabels(nearest.diff);
  let diffHtml: string;
  if (parts && parts.length > 0) {
    const counts = changeCounts(parts);
    const summary =
      counts.inserted === 0 && counts.deleted === 0
        ? 'The normalized inputs are identical: the key differs by caller or by rules.'
        : `${plural(counts.deleted, 'character')} only in the recorded ${escapeHtml(turnLabel)}, ${plural(counts.inserted, 'character')} only in this call.`;
    diffHtml = `<p class="legend"><span><del>− ${escapeHtml(labels.from ?? `recorded ${turnLabel}`)}</del></span><span><ins>+ ${escapeHtml(labels.to ?? 'this call')}</ins></span></p>
<p class="muted">${summary}</p>
<pre class="diff" tabindex="0" aria-label="Diff of the inputs: deleted text is only in the recorded turn, inserted text only in this call">${renderSegments(elide(parts))}</pre>`;
  } else if (nearest.diff !== undefined) {
    diffHtml = `<pre class="diff" tabindex="0">${escapeHtml(typeof nearest.diff === 'string' ? nearest.diff : JSON.stringify(nearest.diff, null, 2))}</pre>`;
  } else {
    diffHtml = '<p class="muted">The server sent no diff for this miss.</p>';
  }
  // A stale nearest turn of a fixture can be rehashed from here; any diff opens in VS Code's diff editor.
  const stale = typeof nearest.note === 'string' && /\bis stale\b/.test(nearest.note) && typeof nearest.turn === 'number' && !!nearestUri;
  const rehash = stale
    ? `<button class="primary" data-action="rehash" data-args="${escapeHtml(JSON.stringify({ uri: nearestUri, turn: nearest.turn }))}">Rehash ${escapeHtml(turnLabel)}</button> `
    : '';
  const openDiff = parts && parts.length > 0 ? `<button class="secondary" data-action="diff" data-args="${escapeHtml(JSON.stringify({ step: step.index }))}">Open in diff editor</button>` : '';
  const actions = rehash || openDiff ? `<p class="actions">${rehash}${openDiff}</p>` : '';
  return `<article class="miss" id="miss-${step.index}" aria-label="Miss at step ${step.index}">${head}
${reason}${renderKeys(step)}
<p>Nearest recorded input: <strong>${escapeHtml(turnLabel)}</strong>${similarity}. ${openNearest} · ${gotoStep}</p>
${note}${actions}
${diffHtml}</article>`;
}

function renderTimelineStep(
  step: {
    index: number;
    status?: string | null;
    kind?: string;
    caller?: string;
    name?: string;
    model?: string;
    durationMs?: number | null;
    tokens?: Tokens | null;
    summary?: string;
    reason?: unknown;
  },
  target: OpenTarget,
  maxDuration: number,
  ctx: RenderContext,
  extra: { divergent?: boolean; autofocus?: boolean; select?: number } = {},
): string {
  // In the steps view a step selects its detail (which opens the file); in the report it opens the file.
  const open = extra.select === undefined ? openAttrs(target) : `data-select="${extra.select}"`;
  const classes = ['step'];
  if (extra.divergent) classes.push('divergent');
  if (!open) classes.push('noopen');
  const where =
    extra.select !== undefined
      ? 'Show its detail'
      : target.uri
        ? `Open ${typeof target.turn === 'number' ? `turn ${target.turn} of ` : ''}${ctx.label(target.uri)}`
        : 'No file location';
  const duration = formatDuration(step.durationMs);
  const tokens = formatTokens(step.tokens);
  const who = stepWho(step);
  const text = step.summary ?? step.reason;
  const summary = text ? `<span class="summary">${escapeHtml(text)}</span>` : '';
  return `<li><button id="step-${step.index}" class="${classes.join(' ')}" ${open} ${extra.autofocus ? 'data-autofocus' : ''} title="${escapeHtml(where)}" aria-label="Step ${step.index}, ${escapeHtml(kindLabel(step.kind))} ${escapeHtml(who)}, ${escapeHtml(STATUS_LABELS[step.status ?? ''] ?? step.status ?? '')}${duration ? `, ${duration}` : ''}${tokens ? `, ${escapeHtml(tokens)}` : ''}${extra.divergent ? ', first divergence' : ''}. ${escapeHtml(where)}">
<span class="idx">${step.index}</span><span>${badge(step.status)}</span><span class="kind">${escapeHtml(kindLabel(step.kind))}</span><span class="who mono">${escapeHtml(who)}</span>${duration ? `<span class="track"><span class="bar ${barClass(step.durationMs, maxDuration)}"></span></span>` : '<span class="no-track"></span>'}<span class="dur">${escapeHtml(duration)}</span><span class="tok">${escapeHtml(tokens)}</span>${summary}</button></li>`;
}

function maxOf(values: Array<number | null | undefined>): number {
  return values.reduce<number>((m, v) => (typeof v === 'number' && Number.isFinite(v) && v > m ? v : m), 0);
}

export function renderReport(report: ReplayReport, ctx: RenderContext): string {
  const steps = Array.isArray(report.steps) ? report.steps : [];
  const summary = report.summary ?? {};
  const count = (status: string) => steps.filter((s) => s.status === status).length;
  const hits = summary.hits ?? count('hit');
  const legacyHits = summary.legacyHits ?? count('legacy-hit');
  const misses = summary.misses ?? count('miss');
  const exhausted = summary.exhausted ?? count('exhausted');
  const unusedTurns = Array.isArray(report.unused) ? report.unused : [];
  const unused = summary.unused ?? unusedTurns.length;
  const divergence = firstDivergence(report);
  const sessionUri = report.session?.uri;
  const fixtureUri = report.fixture?.uri;
  const title = report.session?.title ?? report.session?.id ?? (sessionUri ? ctx.label(sessionUri) : 'session');
  const failed = misses + exhausted;
  const verdict =
    failed > 0
      ? `<p class="verdict bad" role="status">Replay would fail: ${plural(misses, 'miss', 'misses')}${exhausted ? `, ${plural(exhausted, 'call')} with its turns already consumed` : ''}.</p>`
      : `<p class="verdict ok" role="status">Replay would pass: every model call finds its turn${legacyHits ? ` (${plural(legacyHits, 'legacy hit')})` : ''}.</p>`;

  const sessionFile = fileLink(report.session, ctx);
  const fixtureFile = fileLink(report.fixture, ctx);
  const files = [
    sessionFile ? `Session ${sessionFile}${report.session?.kind ? ` <span class="muted">(${escapeHtml(report.session.kind)})</span>` : ''}` : '',
    fixtureFile ? `against fixture ${fixtureFile}` : '',
    report.rules?.preset ? `under rules <code>${escapeHtml(report.rules.preset)}</code>${report.rules.fingerprint ? ` <span class="muted">(${escapeHtml(report.rules.fingerprint)})</span>` : ''}` : '',
  ]
    .filter(Boolean)
    .join(' ');

  let divergenceHtml: string;
  const divergentStep = divergence === null ? undefined : steps.find((s) => s.index === divergence);
  if (divergence === null) {
    divergenceHtml = `<div class="divergence none"><strong>No divergence</strong>: the session replays against the fixture from start to end.</div>`;
  } else {
    const s = divergentStep;
    const target = s ? stepTarget(s, report) : {};
    const why = report.divergence?.reason ?? s?.reason;
    divergenceHtml = `<div class="divergence"><strong>First divergence at step ${divergence}</strong>${s ? `: ${escapeHtml(kindLabel(s.kind))} call of <span class="mono">${escapeHtml(stepWho(s))}</span> ${badge(s.status)}` : ''}
${why ? `<p>${escapeHtml(why)}</p>` : ''}<p><button class="link" data-goto="step-${divergence}">Show it in the timeline</button>${s && s.status === 'miss' ? ` · <button class="link" data-goto="miss-${divergence}">Show its diff</button>` : ''}${target.uri ? ` · <button class="link" ${openAttrs(target)}>Open it in the editor</button>` : ''}</p></div>`;
  }

  const maxDuration = maxOf(steps.map((s) => s.durationMs));
  const timeline = steps.length
    ? `<ol class="timeline" aria-label="Steps of the session">${steps
        .map((s, i) =>
          renderTimelineStep(s, stepTarget(s, report), maxDuration, ctx, {
            divergent: s.index === divergence,
            autofocus: divergence === null ? i === 0 : s.index === divergence,
          }),
        )
        .join('\n')}</ol>`
    : '<p class="muted">The session has no steps.</p>';

  const missSteps = steps.filter((s) => s.status === 'miss' || (s.nearest && s.status !== 'hit' && s.status !== 'legacy-hit'));
  const missesHtml = missSteps.length
    ? `<h2 id="misses">Misses</h2>${missSteps.map((s) => renderNearest(s, report, ctx)).join('\n')}`
    : '';

  const unusedHtml = unusedTurns.length
    ? `<h2>Unused turns</h2><p class="muted">Recorded turns that this replay never consumes.</p><ul class="turns">${unusedTurns
        .map((t) => `<li><button class="link" ${openAttrs({ uri: fixtureUri, turn: t })}>turn ${escapeHtml(t)}</button></li>`)
        .join('')}</ul>`
    : '';

  const unresolved = Array.isArray(report.unresolved) ? report.unresolved.filter((f) => typeof f === 'string') : [];
  const missingHtml = unresolved.length
    ? `<div class="missing" role="note"><strong>${plural(unresolved.length, 'file')} of this report ${unresolved.length === 1 ? 'is' : 'are'} not in this workspace</strong>; ${unresolved.length === 1 ? 'its links are' : 'their links are'} left out${sessionUri ? '' : ', and the session cannot be replayed here'}:<ul>${unresolved.map((f) => `<li class="mono">${escapeHtml(f)}</li>`).join('')}</ul><p class="muted">The report was made in another checkout; open the project it was made for to follow them.</p></div>`
    : '';
  const body = `<div class="header"><div><h1>Replay report: ${escapeHtml(title)}</h1><p class="files muted">${files}</p></div>
<div>${sessionUri ? '<button class="primary" data-action="rerun">Replay again</button>' : ''}</div></div>
${missingHtml}${verdict}
<h2 class="sr-only">Summary</h2>
<ul class="cards" aria-label="Summary">${typeof summary.calls === 'number' ? card('model calls', summary.calls, 'ok', true) : ''}${card('hits', hits, 'ok')}${card('legacy hits', legacyHits, 'warn')}${card('misses', misses, 'bad')}${card('already consumed', exhausted, 'bad')}${card('unused turns', unused, 'warn')}${typeof summary.tools === 'number' ? card('tool calls', summary.tools, 'ok', true) : ''}${summary.toolMismatches ? card('tool mismatches', summary.toolMismatches, 'bad') : ''}</ul>
<h2>First divergence</h2>
${divergenceHtml}
<h2>Timeline</h2>
<p class="muted">${plural(steps.length, 'step')}. Select a step (Enter) to open the fixture or recording at that turn; Up and Down move between steps.</p>
${timeline}
${missesHtml}
${unusedHtml}`;
  return page(ctx, `Replay report: ${title}`, body);
}

/** Text of a message's content, or of any value, as it is shown in the step detail. */
function shownValue(value: unknown, limit = 20_000): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2) ?? '';
  return text.length > limit ? `${text.slice(0, limit)}\n… (${plural(text.length - limit, 'more character')})` : text;
}

/** A tool call a message asks for, as the steps list writes it: `-> name(arg="value", …)` (LangChain's `{name, args}`,
 * OpenAI's `{function: {name, arguments}}` with its arguments as a JSON string). */
function callText(call: unknown): string {
  if (!call || typeof call !== 'object') return shownValue(call);
  const c = call as Record<string, unknown>;
  const fn = (c.function && typeof c.function === 'object' ? c.function : c) as Record<string, unknown>;
  const name = textOf(fn.name) || 'tool';
  let args: unknown = fn.args ?? fn.arguments;
  if (typeof args === 'string') {
    const raw = args;
    try {
      args = JSON.parse(raw);
    } catch {
      return `-> ${name}(${raw})`;
    }
  }
  const parts =
    args && typeof args === 'object' && !Array.isArray(args)
      ? Object.entries(args as Record<string, unknown>).map(([key, value]) => `${key}=${JSON.stringify(value)}`)
      : args === undefined
        ? []
        : [JSON.stringify(args)];
  return `-> ${name}(${parts.join(', ')})`;
}

/** A message's role and text: LangChain's `{type, data: {content}}`, OpenAI's `{role, content}`, or anything else as JSON. */
function messageParts(message: unknown): { role: string; text: string } {
  if (message && typeof message === 'object') {
    const m = message as Record<string, unknown>;
    const data = (m.data && typeof m.data === 'object' ? m.data : m) as Record<string, unknown>;
    const role = textOf(m.type ?? m.role ?? data.type ?? data.role) || 'message';
    const content = data.content;
    const asked = Array.isArray(data.tool_calls) ? data.tool_calls.map(callText).join('\n') : '';
    const said = typeof content === 'string' ? content : content === undefined ? '' : shownValue(content);
    return { role, text: [said, shownValue(asked)].filter(Boolean).join('\n') };
  }
  return { role: 'message', text: shownValue(message) };
}

function renderMessages(messages: unknown[]): string {
  return messages
    .map((m) => {
      const { role, text } = messageParts(m);
      return `<div class="message"><span class="role">${escapeHtml(role)}</span><pre class="content">${escapeHtml(text)}</pre></div>`;
    })
    .join('');
}

/** The detail of one step: what is new in its input, its output, a tool's arguments and result, tokens and times. */
function renderStepDetail(step: SessionStep, previousInputs: number, target: OpenTarget, ctx: RenderContext): string {
  const facts: Array<[string, string]> = [
    ['kind', kindLabel(step.kind)],
    ['caller', step.caller ?? ''],
    ['name', step.name ?? ''],
    ['model', step.model ?? ''],
    ['status', step.status ?? ''],
    ['tokens', formatTokens(step.tokens)],
    ['started', step.startedAt === null || step.startedAt === undefined ? '' : String(step.startedAt)],
    ['duration', formatDuration(step.durationMs)],
    ['call id', step.callId ?? ''],
  ];
  const dl = `<dl class="facts">${facts
    .filter(([, v]) => v)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`)
    .join('')}</dl>`;
  const sections: string[] = [];
  if (Array.isArray(step.input)) {
    const fresh = step.input.slice(Math.min(previousInputs, step.input.length));
    const heading =
      previousInputs > 0
        ? `Input: ${plural(fresh.length, 'message')} new in this call (${formatNumber(previousInputs)} carried over)`
        : `Input: ${plural(step.input.length, 'message')}`;
    sections.push(`<h4>${escapeHtml(heading)}</h4>${renderMessages(fresh)}`);
  } else if (step.input !== undefined) {
    sections.push(`<h4>Input</h4><pre class="content">${escapeHtml(shownValue(step.input))}</pre>`);
  }
  if (step.output !== undefined) sections.push(`<h4>Output</h4>${renderMessages([step.output])}`);
  if (step.arguments !== undefined) sections.push(`<h4>Arguments</h4><pre class="content">${escapeHtml(shownValue(step.arguments))}</pre>`);
  if (step.result !== undefined) sections.push(`<h4>Result</h4><pre class="content">${escapeHtml(shownValue(step.result))}</pre>`);
  const open = openAttrs(target);
  return `<section class="detail" id="detail-${step.index}" aria-label="Step ${step.index} in detail">
<h3>Step ${step.index}: ${escapeHtml(kindLabel(step.kind))} ${escapeHtml(stepWho(step))} ${badge(step.status)}</h3>
${dl}${open ? `<p><button class="link" ${open}>Open it in ${escapeHtml(target.uri ? ctx.label(target.uri) : 'the editor')}</button></p>` : ''}
${sections.join('\n') || '<p class="muted">The trace holds no input or output for this step.</p>'}</section>`;
}

function tokenCounts(tokens: Tokens | null | undefined): { input: number; output: number } {
  if (typeof tokens === 'number') return { input: 0, output: tokens };
  if (!tokens || typeof tokens !== 'object') return { input: 0, output: 0 };
  const t = tokens as Record<string, unknown>;
  const num = (...values: unknown[]) => values.find((v): v is number => typeof v === 'number') ?? 0;
  return { input: num(t.input, t.input_tokens, t.prompt_tokens), output: num(t.output, t.output_tokens, t.completion_tokens) };
}

export function stepRow(step: SessionStep, position: number, ctx: RenderContext): StepRow {
  const who = stepWho(step);
  const { input, output } = tokenCounts(step.tokens);
  return {
    position,
    index: step.index,
    html: renderTimelineStep(step, {}, 0, ctx, { select: position }),
    kind: kindLabel(step.kind),
    caller: who,
    status: step.status ?? '',
    search: [who, step.summary, step.name, step.model, step.caller, step.status, step.kind].filter(Boolean).join(' ').toLowerCase(),
    tokensIn: input,
    tokensOut: output,
    ms: typeof step.durationMs === 'number' && Number.isFinite(step.durationMs) ? step.durationMs : 0,
  };
}

/** The detail pane of one step (`previousInputs`: messages the same caller's previous model call sent). */
export function stepDetail(step: SessionStep, previousInputs: number, sessionUri: string, ctx: RenderContext): string {
  return renderStepDetail(step, previousInputs, { uri: step.uri ?? sessionUri, range: step.range }, ctx);
}

/**
 * The steps view: header, search and filters, and an empty virtual list of `total` rows that the
 * webview script (media/webview.ts) fills as it scrolls, asking the extension for the server's pages.
 */
export function renderStepsView(
  session: Pick<SessionInfo, 'uri' | 'kind' | 'title' | 'id'>,
  list: { total: number; pageSize: number; generation: number },
  ctx: RenderContext,
  replayable: boolean,
): string {
  const title = session.title ?? session.id ?? ctx.label(session.uri);
  const select = (label: string, id: string) => `<label>${escapeHtml(label)} <select id="${id}"><option value="">all</option></select></label>`;
  const tools = list.total
    ? `<div class="toolbar" role="search"><label>Search <input type="search" id="step-search" placeholder="caller, tool, text…"></label>${select('Kind', 'filter-kind')}${select('Caller', 'filter-caller')}${select('Status', 'filter-status')}</div>
<p class="muted" id="totals" role="status"></p>`
    : '';
  const rows = list.total
    ? `<div id="vlist" class="vlist" data-total="${list.total}" data-page-size="${list.pageSize}" data-generation="${list.generation}"><div class="vspacer"><ol class="timeline" id="vrows" aria-label="Steps of the session (${formatNumber(list.total)})"></ol></div></div>`
    : '<p class="muted">The session has no steps.</p>';
  const body = `<div class="header"><div><h1>${escapeHtml(title)}</h1>
<p class="files muted"><button class="link mono" ${openAttrs({ uri: session.uri })}>${escapeHtml(ctx.label(session.uri))}</button> · ${escapeHtml(session.kind)} · ${plural(list.total, 'step')}</p></div>
<div>${replayable ? '<button class="primary" data-action="replay">Replay this session</button>' : ''}</div></div>
${tools}
<div class="steps-layout"><div>${rows}</div><aside id="detail-pane" aria-live="polite"><p class="muted placeholder">Select a step to see its new input messages, its output, a tool's arguments and result, tokens and times.</p></aside></div>`;
  return page(ctx, title, body);
}

export function renderMessage(ctx: RenderContext, title: string, message: string): string {
  return page(ctx, title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}
