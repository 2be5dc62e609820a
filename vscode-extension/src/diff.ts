// The diff between a missed call's normalized input and the nearest recorded turn, whatever
// shape the server sends it in: a unified diff text, a list of operations (diff-match-patch
// `[op, text]`, `{op|type|tag, text|value}`, difflib opcodes), or the two texts to compare.
// Lines that changed are refined to words, so the report shows exactly which text differs.

export type Op = 'equal' | 'insert' | 'delete';
export interface Part {
  op: Op;
  text: string;
}

const OP_NAMES: Record<string, Op> = {
  '0': 'equal',
  '=': 'equal',
  ' ': 'equal',
  equal: 'equal',
  eq: 'equal',
  same: 'equal',
  context: 'equal',
  '1': 'insert',
  '+': 'insert',
  insert: 'insert',
  ins: 'insert',
  add: 'insert',
  added: 'insert',
  actual: 'insert',
  '-1': 'delete',
  '-': 'delete',
  delete: 'delete',
  del: 'delete',
  remove: 'delete',
  removed: 'delete',
  expected: 'delete',
};

function opOf(value: unknown): Op | undefined {
  return OP_NAMES[String(value).toLowerCase()];
}

/** Merge neighbours with the same operation and drop empty parts. */
export function compact(parts: Part[]): Part[] {
  const out: Part[] = [];
  for (const part of parts) {
    if (!part.text) {
      continue;
    }
    const last = out[out.length - 1];
    if (last && last.op === part.op) {
      last.text += part.text;
    } else {
      out.push({ ...part });
    }
  }
  return out;
}

const TOKEN = /[\p{L}\p{N}_]+|\s+|[^\p{L}\p{N}_\s]/gu;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;

export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  for (const match of text.matchAll(TOKEN)) {
    const token = match[0];
    // CJK has no spaces between words: compare it character by character.
    if (CJK.test(token)) {
      tokens.push(...Array.from(token));
    } else {
      tokens.push(token);
    }
  }
  return tokens;
}

const MAX_CELLS = 4_000_000;

/** Diff of two token lists (longest common subsequence after trimming the common ends). */
export function diffTokens(a: readonly string[], b: readonly string[]): Part[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) {
    start++;
  }
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const parts: Part[] = [{ op: 'equal', text: a.slice(0, start).join('') }];
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  const n = midA.length;
  const m = midB.length;
  if (n * m > MAX_CELLS || n === 0 || m === 0) {
    parts.push({ op: 'delete', text: midA.join('') }, { op: 'insert', text: midB.join('') });
  } else {
    // lcs[i][j] = length of the LCS of midA[i:] and midB[j:]
    const lcs: Uint32Array[] = [];
    for (let i = 0; i <= n; i++) {
      lcs.push(new Uint32Array(m + 1));
    }
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i][j] = midA[i] === midB[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && midA[i] === midB[j]) {
        parts.push({ op: 'equal', text: midA[i] });
        i++;
        j++;
      } else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) {
        parts.push({ op: 'insert', text: midB[j] });
        j++;
      } else {
        parts.push({ op: 'delete', text: midA[i] });
        i++;
      }
    }
  }
  parts.push({ op: 'equal', text: a.slice(endA).join('') });
  return compact(orderChanges(compact(parts)));
}

/** Within each run of changes, show the deletion before the insertion. */
function orderChanges(parts: Part[]): Part[] {
  const out: Part[] = [];
  let dels: Part[] = [];
  let inss: Part[] = [];
  const flush = () => {
    out.push(...dels, ...inss);
    dels = [];
    inss = [];
  };
  for (const part of parts) {
    if (part.op === 'delete') {
      dels.push(part);
    } else if (part.op === 'insert') {
      inss.push(part);
    } else {
      flush();
      out.push(part);
    }
  }
  flush();
  return out;
}

export function diffTexts(recorded: string, current: string): Part[] {
  return diffTokens(tokenize(recorded), tokenize(current));
}

function looksUnified(text: string): boolean {
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines.length === 0) {
    return false;
  }
  if (lines.some((l) => l.startsWith('@@') || l.startsWith('--- ') || l.startsWith('+++ '))) {
    return true;
  }
  return lines.every((l) => /^[ +\-?]/.test(l)) && lines.some((l) => /^[+-]/.test(l));
}

/** A unified diff (or ndiff) text: `-` lines from the recorded input, `+` lines from this call. */
export function parseUnified(text: string): Part[] {
  const parts: Part[] = [];
  let dels: string[] = [];
  let inss: string[] = [];
  const flush = () => {
    if (dels.length && inss.length) {
      parts.push(...diffTexts(dels.join('\n'), inss.join('\n')));
      parts.push({ op: 'equal', text: '\n' });
    } else if (dels.length) {
      parts.push({ op: 'delete', text: dels.join('\n') + '\n' });
    } else if (inss.length) {
      parts.push({ op: 'insert', text: inss.join('\n') + '\n' });
    }
    dels = [];
    inss = [];
  };
  let inHeader = true;
  for (const line of text.split('\n')) {
    // `---`/`+++` name the two sides only before the first hunk; later they are content.
    if (inHeader && (line.startsWith('--- ') || line.startsWith('+++ '))) {
      continue;
    }
    inHeader = false;
    if (line.startsWith('@@') || line.startsWith('? ')) {
      continue;
    }
    if (line.startsWith('-')) {
      dels.push(line.slice(1));
    } else if (line.startsWith('+')) {
      inss.push(line.slice(1));
    } else {
      flush();
      if (line !== '') {
        parts.push({ op: 'equal', text: (line.startsWith(' ') ? line.slice(1) : line) + '\n' });
      }
    }
  }
  flush();
  return compact(parts);
}

/** The names of the two sides in a unified diff's `---` / `+++` header lines. */
export function unifiedLabels(text: unknown): { from?: string; to?: string } {
  if (typeof text !== 'string') {
    return {};
  }
  const labels: { from?: string; to?: string } = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('--- ') && labels.from === undefined) {
      labels.from = line.slice(4).trim();
    } else if (line.startsWith('+++ ') && labels.to === undefined) {
      labels.to = line.slice(4).trim();
    } else {
      break;
    }
  }
  return labels;
}

const PAIRS: Array<[string, string]> = [
  ['recorded', 'current'],
  ['expected', 'actual'],
  ['nearest', 'input'],
  ['old', 'new'],
  ['a', 'b'],
  ['before', 'after'],
  ['left', 'right'],
];

function fromPair(value: Record<string, unknown>): Part[] | undefined {
  for (const [x, y] of PAIRS) {
    if (typeof value[x] === 'string' && typeof value[y] === 'string') {
      return diffTexts(value[x], value[y]);
    }
  }
  return undefined;
}

function fromEntry(entry: unknown): Part[] | undefined {
  if (Array.isArray(entry) && entry.length === 2 && typeof entry[1] === 'string') {
    const op = opOf(entry[0]);
    return op ? [{ op, text: entry[1] }] : undefined;
  }
  if (entry && typeof entry === 'object') {
    const e = entry as Record<string, unknown>;
    const text = [e.text, e.value, e.content].find((t): t is string => typeof t === 'string');
    const op = opOf(e.op ?? e.type ?? e.kind ?? e.tag ?? e.operation);
    if (op && text !== undefined) {
      return [{ op, text }];
    }
    if (e.added === true && text !== undefined) {
      return [{ op: 'insert', text }];
    }
    if (e.removed === true && text !== undefined) {
      return [{ op: 'delete', text }];
    }
    if (text !== undefined && e.added === false && e.removed === false) {
      return [{ op: 'equal', text }];
    }
    // difflib-style opcode with both texts: {tag: "replace", a: "...", b: "..."}
    const tag = e.tag ?? e.op;
    if (typeof tag === 'string' && tag.toLowerCase() === 'replace') {
      return fromPair(e);
    }
  }
  return undefined;
}

/** Normalizes the server's `nearest.diff` (and the rest of `nearest`) into diff parts. */
export function normalizeDiff(diff: unknown, nearest?: Record<string, unknown>): Part[] | undefined {
  if (typeof diff === 'string') {
    return looksUnified(diff) ? parseUnified(diff) : [{ op: 'equal', text: diff }];
  }
  if (Array.isArray(diff)) {
    const parts: Part[] = [];
    for (const entry of diff) {
      if (typeof entry === 'string') {
        // a list of unified-diff lines
        return parseUnified(diff.map(String).join('\n'));
      }
      const p = fromEntry(entry);
      if (!p) {
        return undefined;
      }
      parts.push(...p);
    }
    return compact(parts);
  }
  if (diff && typeof diff === 'object') {
    const d = diff as Record<string, unknown>;
    for (const key of ['parts', 'ops', 'chunks', 'changes', 'hunks']) {
      if (Array.isArray(d[key])) {
        return normalizeDiff(d[key]);
      }
    }
    if (typeof d.unified === 'string') {
      return parseUnified(d.unified);
    }
    const pair = fromPair(d);
    if (pair) {
      return pair;
    }
  }
  if (nearest) {
    return fromPair(nearest);
  }
  return undefined;
}

export interface Segment {
  op: Op;
  text: string;
  /** An elided run of unchanged text: the number of characters left out. */
  elided?: number;
}

/** Long unchanged runs are cut to `context` characters on each side of a change. */
export function elide(parts: Part[], context = 120): Segment[] {
  const out: Segment[] = [];
  parts.forEach((part, i) => {
    if (part.op !== 'equal' || part.text.length <= context * 2 + 40) {
      out.push(part);
      return;
    }
    const first = i === 0;
    const last = i === parts.length - 1;
    const head = first ? '' : part.text.slice(0, context);
    const tail = last ? '' : part.text.slice(part.text.length - context);
    const cut = part.text.length - head.length - tail.length;
    if (head) out.push({ op: 'equal', text: head });
    out.push({ op: 'equal', text: '', elided: cut });
    if (tail) out.push({ op: 'equal', text: tail });
  });
  return out;
}

export function changeCounts(parts: Part[]): { inserted: number; deleted: number } {
  let inserted = 0;
  let deleted = 0;
  for (const p of parts) {
    if (p.op === 'insert') inserted += p.text.length;
    if (p.op === 'delete') deleted += p.text.length;
  }
  return { inserted, deleted };
}

/**
 * The two texts a diff compares (the recorded turn's input and this call's), for VS Code's own
 * diff editor. A unified diff leaves unchanged lines out between its hunks: each gap is marked on
 * both sides, so the editor never shows text the report does not have as if it were there.
 */
export function diffSides(diff: unknown, nearest?: Record<string, unknown>): { left: string; right: string } | undefined {
  if (typeof diff === 'string' && looksUnified(diff) && /^@@ /m.test(diff)) {
    const left: string[] = [];
    const right: string[] = [];
    let nextLeft = 1;
    let nextRight = 1;
    let inHeader = true;
    for (const line of diff.split('\n')) {
      if (inHeader && (line.startsWith('--- ') || line.startsWith('+++ '))) continue;
      inHeader = false;
      const hunk = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
      if (hunk) {
        const [a, b, c, d] = [Number(hunk[1]), Number(hunk[2] ?? 1), Number(hunk[3]), Number(hunk[4] ?? 1)];
        if (a > nextLeft) left.push(`⋯ ${a - nextLeft} unchanged line${a - nextLeft === 1 ? '' : 's'} not in the report ⋯`);
        if (c > nextRight) right.push(`⋯ ${c - nextRight} unchanged line${c - nextRight === 1 ? '' : 's'} not in the report ⋯`);
        nextLeft = a + b;
        nextRight = c + d;
      } else if (line.startsWith('-')) {
        left.push(line.slice(1));
      } else if (line.startsWith('+')) {
        right.push(line.slice(1));
      } else if (line.startsWith(' ')) {
        left.push(line.slice(1));
        right.push(line.slice(1));
      }
    }
    return { left: left.join('\n') + '\n', right: right.join('\n') + '\n' };
  }
  const parts = normalizeDiff(diff, nearest);
  if (!parts) return undefined;
  const side = (skip: Op) =>
    parts
      .filter((p) => p.op !== skip)
      .map((p) => p.text)
      .join('');
  return { left: side('insert'), right: side('delete') };
}
