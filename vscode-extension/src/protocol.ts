// The server's contract beyond standard LSP (docs/protocol.md). Fields the server may omit are
// optional; readers in this extension tolerate extra and missing fields.

export interface Position {
  line: number;
  character: number;
}
export interface Range {
  start: Position;
  end: Position;
}

export const Commands = {
  rehash: 'replayLens.rehash',
  showNormalizedInput: 'replayLens.showNormalizedInput',
  replaySession: 'replayLens.replaySession',
  runReplayTests: 'replayLens.runReplayTests',
} as const;

/** The result of `replayLens.runReplayTests` (docs/protocol.md). */
export interface RunReplayTestsResult {
  cancelled: boolean;
  exitCode: number | null;
  tests: string[];
  outcomes: Record<string, number>;
  summary: string;
  output: string[];
}

export const Requests = {
  sessions: 'replayLens/sessions',
  steps: 'replayLens/steps',
} as const;

export const Notifications = {
  status: 'replayLens/status',
} as const;

export type SessionKind =
  | 'recording'
  | 'fixture'
  | 'codex-bundle'
  | 'codex-rollout'
  | 'cato-audit'
  | 'langgraph-checkpoints'
  | 'langgraph-postgres'
  | 'majordomo-run'
  | string;
export type SessionStatus = 'ok' | 'stale' | 'error' | 'unknown' | string;

export interface SessionInfo {
  id: string;
  uri: string;
  /** The file or folder, as a path (the server sends it beside the URI). */
  path?: string;
  kind: SessionKind;
  title?: string;
  steps?: number;
  status?: SessionStatus;
}

/** A problem found while listing (a trace that cannot be read): path, message. */
export interface ListingFinding {
  path?: string;
  uri?: string;
  message?: string;
  severity?: string;
}

export interface SessionsResult {
  sessions: SessionInfo[];
  findings?: ListingFinding[];
}

export type Tokens = number | { input?: number; output?: number; total?: number; [k: string]: unknown };

export interface SessionStep {
  index: number;
  kind: 'model' | 'tool' | 'opaque' | string;
  caller?: string;
  name?: string;
  model?: string;
  tokens?: Tokens | null;
  startedAt?: string | number | null;
  durationMs?: number | null;
  status?: string | null;
  summary?: string;
  uri?: string;
  range?: Range;
  /** A model call's input messages and output; a tool call's arguments and result. */
  input?: unknown;
  output?: unknown;
  arguments?: unknown;
  result?: unknown;
  callId?: string;
}

export interface StepsParams {
  uri: string;
  sessionId?: string;
  page: number;
  pageSize: number;
}

export interface StepsResult {
  page: number;
  pageSize: number;
  total: number;
  steps: SessionStep[];
}

export interface StatusParams {
  preset?: string;
  fingerprint?: string;
  fixtures?: number;
  turns?: number;
  stale?: number;
  unverifiable?: number;
  indexing?: boolean;
}

export type ReplayStatus = 'hit' | 'legacy-hit' | 'miss' | 'exhausted' | 'tool' | string;

export interface NearestTurn {
  turn?: number;
  diff?: unknown;
  similarity?: number;
  /** How to show `similarity` (version 2): floored, never "100%" for inputs that differ. */
  similarityText?: string;
  caller?: string;
  note?: string;
  explanation?: string;
  uri?: string;
  range?: Range;
  [k: string]: unknown;
}

export interface ReplayStep {
  index: number;
  status: ReplayStatus;
  caller?: string;
  kind?: string;
  name?: string;
  durationMs?: number | null;
  tokens?: Tokens | null;
  turn?: number | null;
  uri?: string;
  range?: Range;
  nearest?: NearestTurn | null;
  summary?: string;
  reason?: string;
  keys?: { input_hash?: string; conversation_hash?: string };
  recorded_keys?: { input_hash?: string; conversation_hash?: string };
  tool?: { verdict?: string; turn?: number | null; differences?: unknown[] };
  [k: string]: unknown;
}

export interface ReplayReport {
  /** 1: absolute `path`/`uri` only; 2: every place also has `file`, its path under the project root (the CLI's has no `uri`). */
  version?: number;
  session?: { id?: string; uri?: string; file?: string; path?: string; kind?: string; title?: string };
  fixture?: { uri?: string; file?: string; path?: string } | null;
  rules?: { preset?: string; fingerprint?: string };
  summary?: {
    calls?: number;
    hits?: number;
    legacyHits?: number;
    misses?: number;
    exhausted?: number;
    unused?: number;
    tools?: number;
    toolMismatches?: number;
  };
  divergence?: { step?: number; status?: string; reason?: string } | null;
  steps?: ReplayStep[];
  unused?: number[];
  first_divergence?: number | null;
  firstDivergence?: number | null;
  /** Set by the extension for a report read from a file: its files not found in this workspace. */
  unresolved?: string[];
  [k: string]: unknown;
}

export interface RehashResult {
  applied: boolean;
  turns: number[];
  /** Why nothing was applied ("nothing to rehash", "the file has syntax errors"). */
  message?: string | null;
}

export interface NormalizedInputResult {
  /** null when the server cannot tell the input; `message` then says why. */
  text: string | null;
  message?: string;
}

/** Whether a parsed JSON value is a replay report (`python -m server replay --format json`). */
export function isReplayReport(value: unknown): value is ReplayReport {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return false;
  }
  const v = value as Record<string, unknown>;
  return Array.isArray(v.steps) && !!v.summary && typeof v.summary === 'object' && !Array.isArray(v.summary);
}

/** One row of the steps view's virtual list: its HTML and what search, filters and totals read. */
export interface StepRow {
  /** Place in the session (0-based), which the server's pages are cut by. */
  position: number;
  index: number;
  html: string;
  kind: string;
  caller: string;
  status: string;
  search: string;
  tokensIn: number;
  tokensOut: number;
  ms: number;
}
