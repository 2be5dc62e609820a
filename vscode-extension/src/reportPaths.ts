// A replay report saved elsewhere (CI's `replay --format json`) names files of another checkout.
// Version 2 names each by `file`, its path under the project root; version 1 by the absolute path
// and URI of the machine that made it (/home/runner/...). Before the report is shown, each place is
// mapped into this workspace: `file` under a workspace folder (or under a project folder in one),
// else the workspace file whose path shares the longest tail with the recorded one. A file found
// nowhere loses its link and is listed, so no link ever opens a file that does not exist here, and
// "Replay again" only ever names a file of this workspace. Pure logic: the file system is passed in.
import type { ReplayReport } from './protocol';

/** What the mapping may ask of the workspace: its folders, whether a file exists, files by name. */
export interface WorkspaceFiles {
  /** Workspace folders, as file system paths. */
  folders: readonly string[];
  isFile(path: string): Promise<boolean>;
  /** Files named `name` anywhere in the workspace (file system paths). */
  named(name: string): Promise<string[]>;
}

/** A report place: `{file?, path?, uri?}`. */
interface Place {
  file?: unknown;
  path?: unknown;
  uri?: unknown;
  [k: string]: unknown;
}

export interface MappedReport {
  report: ReplayReport;
  /** Files of the report not found in this workspace, as the report names them. */
  missing: string[];
}

/** Path segments, whatever the separators (`C:\a\b`, `/a/b`, `a/b`). */
export function segments(path: string): string[] {
  return path.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
}

/** The file system path of a `file:` URI (percent-decoded), or undefined for any other URI. */
export function fileUriPath(uri: string): string | undefined {
  const match = /^file:\/\/[^/]*(\/.*)$/i.exec(uri);
  if (!match) return undefined;
  try {
    const path = decodeURIComponent(match[1]);
    return /^\/[A-Za-z]:/.test(path) ? path.slice(1) : path;
  } catch {
    return undefined;
  }
}

/** How many trailing segments two paths share. */
export function sharedTail(a: readonly string[], b: readonly string[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[a.length - 1 - n] === b[b.length - 1 - n]) n++;
  return n;
}

/** The candidate sharing the longest tail with `wanted` (at least `least` segments); ties: the shortest path. */
export function bestMatch(wanted: readonly string[], candidates: readonly string[], least: number): string | undefined {
  let best: string | undefined;
  let bestScore = 0;
  let bestLength = Infinity;
  for (const candidate of candidates) {
    const parts = segments(candidate);
    const score = sharedTail(wanted, parts);
    if (score < least) continue;
    if (score > bestScore || (score === bestScore && parts.length < bestLength)) {
      best = candidate;
      bestScore = score;
      bestLength = parts.length;
    }
  }
  return best;
}

function inside(path: string, folder: string): boolean {
  const p = segments(path);
  const f = segments(folder);
  return f.length <= p.length && f.every((s, i) => s === p[i]);
}

function join(folder: string, relative: readonly string[]): string {
  return [folder.replace(/[\\/]+$/, ''), ...relative].join('/');
}

/** The file URI of a file system path. */
export function toFileUri(path: string): string {
  const posix = path.replace(/\\/g, '/');
  const absolute = posix.startsWith('/') ? posix : `/${posix}`;
  return `file://${absolute.split('/').map((s) => encodeURIComponent(s).replace(/%3A/g, ':')).join('/')}`;
}

/** The local file of one place, or undefined (and why: the name the report gives it). */
async function locate(place: Place, files: WorkspaceFiles): Promise<{ path?: string; name?: string }> {
  const relative = typeof place.file === 'string' && place.file ? segments(place.file) : undefined;
  const absolute =
    (typeof place.uri === 'string' ? fileUriPath(place.uri) : undefined) ??
    (typeof place.path === 'string' && /^([\\/]|[A-Za-z]:)/.test(place.path) ? place.path : undefined);
  const name = typeof place.file === 'string' && place.file ? place.file : absolute ?? (typeof place.path === 'string' ? place.path : undefined);
  if (typeof place.uri === 'string' && !place.uri.startsWith('file:')) {
    return { name }; // a database URL: not a file of the workspace
  }
  // The report's own absolute file, when it is one of this workspace's (a report made here).
  if (absolute && files.folders.some((folder) => inside(absolute, folder)) && (await files.isFile(absolute))) {
    return { path: absolute };
  }
  if (relative?.length && !relative.includes('..')) {
    for (const folder of files.folders) {
      const candidate = join(folder, relative);
      if (await files.isFile(candidate)) return { path: candidate };
    }
  }
  // A root-relative path must match whole (the project may be a folder of the workspace), past any `..` (a file
  // beside the project); an absolute one by its longest tail, at least the file name.
  const below = relative?.slice(relative.lastIndexOf('..') + 1);
  const wanted = below?.length ? below : absolute ? segments(absolute) : undefined;
  if (!wanted?.length) return { name };
  const candidates = (await files.named(wanted[wanted.length - 1])).filter((c) => files.folders.some((folder) => inside(c, folder)));
  const found = bestMatch(wanted, candidates, wanted === below ? wanted.length : 1);
  return found ? { path: found } : { name };
}

/** A copy of `report` whose places name files of this workspace; places found nowhere lose their link. */
export async function mapReport(report: ReplayReport, files: WorkspaceFiles): Promise<MappedReport> {
  const copy = JSON.parse(JSON.stringify(report)) as ReplayReport;
  const missing = new Set<string>();
  const places: Place[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(visit);
    } else if (value && typeof value === 'object') {
      const place = value as Place;
      if (typeof place.uri === 'string' || typeof place.file === 'string') places.push(place);
      Object.values(place).forEach(visit);
    }
  };
  visit([copy.session, copy.fixture, copy.steps]);
  const known = new Map<string, Promise<{ path?: string; name?: string }>>();
  for (const place of places) {
    const key = JSON.stringify([place.file, place.path, place.uri]);
    let found = known.get(key);
    if (!found) known.set(key, (found = locate(place, files)));
    const { path, name } = await found;
    if (path) {
      const same = typeof place.uri === 'string' && fileUriPath(place.uri) === path;
      if (!same) place.uri = toFileUri(path);
    } else if (typeof place.uri !== 'string' || place.uri.startsWith('file:')) {
      delete place.uri;
      if (name) missing.add(name);
    }
  }
  return { report: copy, missing: [...missing].sort() };
}
