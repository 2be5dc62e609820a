// The interpreter selected in the Python extension (ms-python.python), through its public
// `environments` API, as Microsoft's black/mypy/ruff extensions do.
import * as vscode from 'vscode';

interface ResolvedEnvironment {
  executable: { uri?: vscode.Uri; sysPrefix?: string };
}
interface EnvironmentPath {
  id: string;
  path: string;
}
interface PythonEnvironmentsApi {
  getActiveEnvironmentPath(resource?: vscode.Uri): EnvironmentPath;
  resolveEnvironment(env: EnvironmentPath | string): Promise<ResolvedEnvironment | undefined>;
  onDidChangeActiveEnvironmentPath: vscode.Event<unknown>;
}
interface PythonExtensionApi {
  environments?: PythonEnvironmentsApi;
}

export const PYTHON_EXTENSION_ID = 'ms-python.python';

async function api(): Promise<PythonEnvironmentsApi | undefined> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION_ID);
  if (!extension) {
    return undefined;
  }
  try {
    if (!extension.isActive) {
      await extension.activate();
    }
    return extension.exports?.environments;
  } catch {
    return undefined;
  }
}

/** The active interpreter's executable for `resource`, or undefined when the extension is absent. */
export async function activeInterpreter(resource?: vscode.Uri): Promise<string[] | undefined> {
  const environments = await api();
  if (!environments) {
    return undefined;
  }
  try {
    const active = environments.getActiveEnvironmentPath(resource);
    const resolved = await environments.resolveEnvironment(active);
    const executable = resolved?.executable.uri?.fsPath;
    return executable ? [executable] : undefined;
  } catch {
    return undefined;
  }
}

/** Fires when the user selects another interpreter in the Python extension. */
export async function onDidChangeInterpreter(listener: () => void): Promise<vscode.Disposable | undefined> {
  const environments = await api();
  return environments?.onDidChangeActiveEnvironmentPath(() => listener());
}

/**
 * "Select Interpreter": the Python extension's picker when it is installed, else a file dialog
 * whose choice goes to the user's `replayLens.interpreter`.
 */
export async function selectInterpreter(): Promise<void> {
  if (vscode.extensions.getExtension(PYTHON_EXTENSION_ID)) {
    await vscode.commands.executeCommand('python.setInterpreter');
    return;
  }
  const picked = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Use this Python', title: 'Replay Lens: the Python interpreter (3.11 or newer) that runs the server' });
  if (picked?.[0]) {
    await vscode.workspace.getConfiguration('replayLens').update('interpreter', [picked[0].fsPath], vscode.ConfigurationTarget.Global);
  }
}
