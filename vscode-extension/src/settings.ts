import * as fs from 'node:fs';
import * as path from 'node:path';

// Pure logic around the settings: which files the client handles and which interpreter runs the
// server. No `vscode` import here, so the unit tests exercise it directly.

/** Fixture globs always handled; `replayLens.fixtureGlobs` adds to them. */
export const BUILTIN_FIXTURE_GLOBS = [
  '**/replay/**/*.json',
  '**/fixtures/**/*.json',
  '**/*.fixture.json',
  '**/recordings/**/*.json',
];

/** Recordings and session traces that are text. */
export const RECORDING_GLOBS = ['**/*.jsonl'];

export type DocumentFilter = { scheme: string; pattern: string } | { scheme: string; language: string };

/** Globs of the files the client sends to the server: fixtures and JSONL recordings, never every JSON file. */
export function fileGlobs(extraGlobs: readonly unknown[] | undefined): string[] {
  const globs: string[] = [];
  for (const glob of [...BUILTIN_FIXTURE_GLOBS, ...(extraGlobs ?? []), ...RECORDING_GLOBS]) {
    if (typeof glob !== 'string') {
      continue;
    }
    const trimmed = glob.trim();
    if (!trimmed || globs.includes(trimmed)) {
      continue;
    }
    globs.push(trimmed);
  }
  return globs;
}

export function documentSelector(extraGlobs: readonly unknown[] | undefined): DocumentFilter[] {
  const filters: DocumentFilter[] = fileGlobs(extraGlobs).map((pattern) => ({ scheme: 'file', pattern }));
  filters.push({ scheme: 'file', language: 'jsonl' });
  return filters;
}

/** A brace glob for file watchers and `workspace.findFiles`, e.g. `{**\/replay/**\/*.json,**\/*.jsonl}`. */
export function combinedGlob(globs: readonly string[]): string {
  return globs.length === 1 ? globs[0] : `{${globs.join(',')}}`;
}

/** What `WorkspaceConfiguration.inspect` returns, reduced to what we read. */
export interface Inspected<T> {
  defaultValue?: T;
  globalValue?: T;
  workspaceValue?: T;
  workspaceFolderValue?: T;
}

/**
 * The effective value of a setting. In an untrusted workspace, values set by the workspace
 * (or a workspace folder) are ignored: only the user's own settings count.
 */
export function effectiveValue<T>(inspected: Inspected<T> | undefined, trusted: boolean): T | undefined {
  if (!inspected) {
    return undefined;
  }
  if (trusted) {
    return inspected.workspaceFolderValue ?? inspected.workspaceValue ?? inspected.globalValue ?? inspected.defaultValue;
  }
  return inspected.globalValue ?? inspected.defaultValue;
}

export interface VariableContext {
  workspaceFolder?: string;
  userHome: string;
  env: Record<string, string | undefined>;
}

/** Resolves `${workspaceFolder}`, `${userHome}`, `${env:NAME}` and a leading `~`, like Microsoft's Python tool extensions. */
export function substituteVariables(value: string, ctx: VariableContext): string {
  let result = value.replace(/\$\{(workspaceFolder|userHome|env:([A-Za-z_][A-Za-z0-9_]*))\}/g, (match, name: string, envName?: string) => {
    if (envName) {
      return ctx.env[envName] ?? '';
    }
    if (name === 'workspaceFolder') {
      return ctx.workspaceFolder ?? match;
    }
    return ctx.userHome;
  });
  if (result === '~' || result.startsWith('~/')) {
    result = ctx.userHome + result.slice(1);
  }
  return result;
}

export type InterpreterSource = 'setting' | 'python-extension' | 'default';

export interface Interpreter {
  command: string;
  /** Arguments that come before `-m server --stdio` (from a multi-part interpreter setting). */
  args: string[];
  source: InterpreterSource;
}

export interface InterpreterInputs {
  /** `replayLens.interpreter`, already reduced to the value allowed by workspace trust. */
  setting: readonly unknown[] | string | undefined;
  /** The Python extension's active interpreter for the resource, when installed and trusted. */
  pythonExtension?: readonly string[] | undefined;
  trusted: boolean;
  variables: VariableContext;
  platform?: NodeJS.Platform;
}

/**
 * The interpreter that runs the server: an explicit `replayLens.interpreter` wins (as with the
 * black/mypy/ruff extensions' `interpreter` setting), else the Python extension's selected
 * interpreter (trusted workspaces only: a workspace's virtual environment is workspace content),
 * else `python3` (`python` on Windows).
 */
export function resolveInterpreter(inputs: InterpreterInputs): Interpreter {
  const fromSetting = (typeof inputs.setting === 'string' ? [inputs.setting] : inputs.setting ?? [])
    .filter((part): part is string => typeof part === 'string' && part.trim() !== '')
    .map((part) => substituteVariables(part.trim(), inputs.variables));
  if (fromSetting.length > 0 && !fromSetting[0].includes('${workspaceFolder}')) {
    return { command: fromSetting[0], args: fromSetting.slice(1), source: 'setting' };
  }
  const fromExtension = (inputs.pythonExtension ?? []).filter((part) => part && part.trim() !== '');
  if (inputs.trusted && fromExtension.length > 0) {
    return { command: fromExtension[0], args: fromExtension.slice(1), source: 'python-extension' };
  }
  return { command: (inputs.platform ?? process.platform) === 'win32' ? 'python' : 'python3', args: [], source: 'default' };
}

export type ImportStrategy = 'useBundled' | 'fromEnvironment';

/** `replayLens.importStrategy`: the bundled server unless the user asks for the interpreter's own package. */
export function importStrategy(value: unknown): ImportStrategy {
  return value === 'fromEnvironment' ? 'fromEnvironment' : 'useBundled';
}

/** The server's `--log-level` for the output channel's level (vscode.LogLevel: Off 0, Trace 1, Debug 2, Info 3, Warning 4, Error 5). */
export type ServerLogLevel = 'debug' | 'info' | 'warning' | 'error';
export function serverLogLevel(channelLevel: number): ServerLogLevel {
  if (channelLevel === 1 || channelLevel === 2) return 'debug';
  if (channelLevel === 3) return 'info';
  if (channelLevel === 4) return 'warning';
  return 'error';
}

export interface Launch {
  strategy: ImportStrategy;
  /** bundled/tool/lsp_server.py inside the installed extension. */
  launcher: string;
  logLevel: ServerLogLevel;
}

/**
 * The full command line of the server, always in isolated mode (`-I`: no current folder, script
 * folder, PYTHON* variables or user site-packages on sys.path), so no module of the workspace is
 * imported: the bundled launcher by its path, or `-m server` from the interpreter's own packages.
 */
export function serverCommandLine(interpreter: Interpreter, serverArgs: readonly unknown[] | undefined, launch: Launch): { command: string; args: string[] } {
  const extra = (serverArgs ?? []).filter((a): a is string => typeof a === 'string' && a !== '');
  const entry = launch.strategy === 'useBundled' ? [launch.launcher] : ['-m', 'server'];
  return { command: interpreter.command, args: [...interpreter.args, '-I', ...entry, '--stdio', '--log-level', launch.logLevel, ...extra] };
}

/** The oldest Python the server runs on. */
export const MINIMUM_PYTHON: readonly [number, number] = [3, 11];

/** Run with the interpreter before the server starts: prints its version, imports nothing. */
export const VERSION_PROBE = ['-I', '-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'];

/** The version printed by VERSION_PROBE, or undefined. */
export function parseVersion(stdout: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\s*$/.exec(stdout.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

export function isSupportedPython(version: readonly number[]): boolean {
  return version[0] > MINIMUM_PYTHON[0] || (version[0] === MINIMUM_PYTHON[0] && version[1] >= MINIMUM_PYTHON[1]);
}

/** The interpreters to try: the one chosen, and for the default `python3` also `python`. */
export function candidates(interpreter: Interpreter, platform: NodeJS.Platform = process.platform): Interpreter[] {
  if (interpreter.source !== 'default' || platform === 'win32') return [interpreter];
  return [interpreter, { ...interpreter, command: 'python' }];
}

/** Where an interpreter came from, in the words of a message. */
export function sourceLabel(source: InterpreterSource): string {
  return source === 'setting' ? 'replayLens.interpreter' : source === 'python-extension' ? 'the Python extension' : 'the PATH';
}

/** The settings whose change requires a restart of the server. */
export const RESTART_SETTINGS = [
  'replayLens.interpreter',
  'replayLens.serverArgs',
  'replayLens.fixtureGlobs',
  'replayLens.importStrategy',
  'replayLens.databases',
];

/** The executable `command` on the PATH (with PATHEXT on Windows), or undefined. */
export function findOnPath(command: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): string | undefined {
  const dirs = (env.PATH ?? env.Path ?? '').split(path.delimiter).filter(Boolean);
  const exts = platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';')] : [''];
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = path.join(dir, command + ext);
      try {
        fs.accessSync(candidate, platform === 'win32' ? fs.constants.F_OK : fs.constants.X_OK);
        if (fs.statSync(candidate).isFile()) {
          return candidate;
        }
      } catch {
        // not here
      }
    }
  }
  return undefined;
}
