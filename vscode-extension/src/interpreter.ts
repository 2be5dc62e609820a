// Finds a Python that can run the server before anything is started: each candidate is asked for
// its version (`python -I -c …`, nothing imported), so a missing or too old interpreter becomes
// one message that names what was tried, not a language client that spawns and fails.
import { execFile, ExecFileException } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { candidates, findOnPath, Interpreter, isSupportedPython, MINIMUM_PYTHON, parseVersion, sourceLabel, VERSION_PROBE } from './settings';

export interface Found {
  interpreter: Interpreter;
  version: string;
}

export interface NotFound {
  /** One line per candidate: what it is, where it came from, why it cannot run the server. */
  tried: string[];
}

function run(command: string, args: string[]): Promise<{ stdout: string; stderr: string; error?: ExecFileException }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 15_000, encoding: 'utf8', windowsHide: true }, (error, stdout, stderr) => {
      resolve({ stdout, stderr, error: error ?? undefined });
    });
  });
}

async function check(interpreter: Interpreter, env: NodeJS.ProcessEnv): Promise<Found | string> {
  const what = `${interpreter.command} (from ${sourceLabel(interpreter.source)})`;
  if (path.isAbsolute(interpreter.command)) {
    if (!fs.existsSync(interpreter.command)) return `${what}: does not exist`;
  } else if (!findOnPath(interpreter.command, env)) {
    return `${what}: not found`;
  }
  const result = await run(interpreter.command, [...interpreter.args, ...VERSION_PROBE]);
  const version = parseVersion(result.stdout);
  if (!version) {
    const why = result.error?.code === 'ENOENT' ? 'not found' : (result.stderr.trim().split('\n').pop() ?? result.error?.message ?? 'no version');
    return `${what}: does not run (${why})`;
  }
  const text = version.join('.');
  if (!isSupportedPython(version)) return `${what}: Python ${text}, older than ${MINIMUM_PYTHON.join('.')}`;
  return { interpreter, version: text };
}

/** The first candidate for `interpreter` that is a Python 3.11+, or what was tried. */
export async function findPython(interpreter: Interpreter, env: NodeJS.ProcessEnv): Promise<Found | NotFound> {
  const tried: string[] = [];
  for (const candidate of candidates(interpreter)) {
    const result = await check(candidate, env);
    if (typeof result !== 'string') return result;
    tried.push(result);
  }
  return { tried };
}
