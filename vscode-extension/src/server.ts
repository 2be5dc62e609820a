// Starts, stops and restarts the language server (the bundled `python -I bundled/tool/lsp_server.py
// --stdio`, or `python -I -m server --stdio`) and routes what it sends beyond LSP. Restarts are
// serialized and debounced; a server that does not start or stops is said once, never restarted in
// a loop; a server that lacks a command or request gives an UnsupportedError, never a crash.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  StreamInfo,
  Trace,
} from 'vscode-languageclient/node';
import { errorMessage, isMethodNotFound, UnsupportedError } from './errors';
import { findPython } from './interpreter';
import { clientOutput, ServerStderr, traceOutput } from './logging';
import { activeInterpreter, selectInterpreter } from './python';
import { Notifications, StatusParams } from './protocol';
import {
  documentSelector,
  effectiveValue,
  importStrategy,
  Inspected,
  MINIMUM_PYTHON,
  resolveInterpreter,
  serverCommandLine,
  ServerLogLevel,
  serverLogLevel,
  sourceLabel,
} from './settings';
import type { ServerState, StatusBar } from './statusBar';

export interface CommandResultHandler {
  /** Called with what a server command returned when VS Code ran it (a code lens, a code action). */
  (command: string, args: unknown[], result: unknown): void;
}

export class ServerManager implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private restartTimer: NodeJS.Timeout | undefined;
  private state: ServerState = 'stopped';
  private readonly stateEmitter = new vscode.EventEmitter<ServerState>();
  readonly onDidChangeState = this.stateEmitter.event;
  private readonly statusEmitter = new vscode.EventEmitter<StatusParams>();
  readonly onDidChangeStatus = this.statusEmitter.event;
  private disposed = false;
  private process: ChildProcess | undefined;
  private serverLogLevel: ServerLogLevel | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly statusBar: StatusBar,
    private readonly onCommandResult: CommandResultHandler,
  ) {}

  get currentState(): ServerState {
    return this.state;
  }

  private setState(state: ServerState, detail?: string): void {
    this.state = state;
    this.statusBar.setState(state, detail);
    void vscode.commands.executeCommand('setContext', 'replayLens.serverRunning', state === 'running');
    this.stateEmitter.fire(state);
  }

  start(): Promise<void> {
    return this.enqueue(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.enqueue(() => this.doStop());
  }

  restart(reason: string): Promise<void> {
    this.log.info(`Restarting the server: ${reason}`);
    return this.enqueue(async () => {
      await this.doStop();
      await this.doStart();
    });
  }

  /** Debounced restart, for bursts of settings changes. */
  scheduleRestart(reason: string, delayMs = 300): void {
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart(reason);
    }, delayMs);
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async doStart(): Promise<void> {
    if (this.disposed || this.client) {
      return;
    }
    this.setState('starting');
    const trusted = vscode.workspace.isTrusted;
    const folder = vscode.workspace.workspaceFolders?.[0];
    const config = vscode.workspace.getConfiguration('replayLens', folder?.uri);
    const interpreterSetting = effectiveValue(config.inspect('interpreter') as Inspected<unknown[] | string>, trusted);
    const hasSetting = Array.isArray(interpreterSetting) ? interpreterSetting.some((p) => typeof p === 'string' && p.trim()) : !!interpreterSetting;
    const pythonExtension = trusted && !hasSetting ? await activeInterpreter(folder?.uri) : undefined;
    const interpreter = resolveInterpreter({
      setting: interpreterSetting,
      pythonExtension,
      trusted,
      variables: { workspaceFolder: folder?.uri.fsPath, userHome: os.homedir(), env: process.env },
    });
    const found = await findPython(interpreter, process.env);
    if (!('interpreter' in found)) {
      const message = `Replay Lens needs Python ${MINIMUM_PYTHON.join('.')} or newer to run its server. Tried: ${found.tried.join('; ')}.`;
      this.log.error(message);
      this.setState('failed', 'no usable Python');
      void this.offerInterpreterHelp(message);
      return;
    }

    let strategy = importStrategy(effectiveValue(config.inspect('importStrategy') as Inspected<unknown>, trusted));
    const launcher = path.join(this.context.extensionUri.fsPath, 'bundled', 'tool', 'lsp_server.py');
    if (strategy === 'useBundled' && !fs.existsSync(path.join(this.context.extensionUri.fsPath, 'bundled', 'libs'))) {
      this.log.warn('This build of the extension bundles no server (bundled/libs is missing): using the interpreter\'s own package (fromEnvironment).');
      strategy = 'fromEnvironment';
    }
    this.serverLogLevel = serverLogLevel(this.log.logLevel);
    const serverArgs = effectiveValue(config.inspect('serverArgs') as Inspected<unknown[]>, trusted);
    const fixtureGlobs = config.get<unknown[]>('fixtureGlobs', []);
    // PostgreSQL databases the Sessions view lists (a user setting: see package.json).
    const databases = config.get<unknown[]>('databases', []);
    const commandLine = serverCommandLine(found.interpreter, serverArgs, { strategy, launcher, logLevel: this.serverLogLevel });

    // Never inside the workspace: with -I nothing of the current folder is importable anyway.
    const cwd = trusted && folder ? folder.uri.fsPath : this.context.extensionUri.fsPath;
    const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' };
    this.log.info(
      `Starting the server: ${[commandLine.command, ...commandLine.args].join(' ')} (Python ${found.version} from ${sourceLabel(found.interpreter.source)}; ${strategy === 'useBundled' ? 'bundled server' : "the interpreter's replay-lens package"}; cwd ${cwd}; workspace ${trusted ? 'trusted' : 'untrusted'})`,
    );

    const stderr = new ServerStderr(this.log);
    let child: ChildProcess | undefined;
    // The server is spawned here, not by the client, so that its stderr is read once, with levels.
    const serverOptions: ServerOptions = () =>
      new Promise<StreamInfo>((resolve, reject) => {
        const spawned = spawn(commandLine.command, commandLine.args, { cwd, env, stdio: 'pipe', windowsHide: true });
        child = spawned;
        this.process = spawned;
        spawned.stderr.setEncoding('utf8');
        spawned.stderr.on('data', (chunk: string) => stderr.feed(chunk));
        spawned.on('exit', (code, signal) => {
          stderr.flush();
          this.log.debug(`The server exited (${signal ?? `code ${code}`}).`);
        });
        spawned.on('error', reject);
        spawned.on('spawn', () => resolve({ reader: spawned.stdout, writer: spawned.stdin }));
      });
    const clientOptions: LanguageClientOptions = {
      documentSelector: documentSelector(fixtureGlobs),
      outputChannel: clientOutput(this.log),
      traceOutputChannel: traceOutput(this.log),
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      // The log level travels as --log-level (the server has no initializationOptions field for it yet).
      initializationOptions: { workspaceTrusted: trusted, fixtureGlobs, databases, client: 'replay-lens-vscode' },
      // One start, no restart loop: a server that stops is reported once (onClosed) and restarted by the user.
      errorHandler: {
        error: () => ({ action: ErrorAction.Shutdown, handled: true }),
        closed: () => {
          this.onClosed(client, stderr);
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
      initializationFailedHandler: () => false,
      markdown: { isTrusted: false, supportHtml: false },
      middleware: {
        executeCommand: async (command, args, next) => {
          const result: unknown = await next(command, args);
          try {
            this.onCommandResult(command, args, result);
          } catch (e) {
            this.log.error(`Showing the result of ${command} failed: ${String(e)}`);
          }
          return result;
        },
      },
    };
    const client = new LanguageClient('replayLens', 'Replay Lens', serverOptions, clientOptions);
    this.client = client;
    client.onDidChangeState((e) => {
      if (this.client === client && e.newState === State.Running) {
        this.setState('running');
      }
    });
    try {
      await client.start();
      client.onNotification(Notifications.status, (params: StatusParams) => {
        this.statusBar.setStatus(params);
        this.statusEmitter.fire(params);
      });
      await this.applyTrace(client);
      this.setState('running');
      const info = client.initializeResult?.serverInfo;
      this.log.info(`Server running${info ? `: ${info.name} ${info.version ?? ''}` : ''}`);
    } catch (e) {
      this.client = undefined;
      try {
        await client.dispose(2000);
      } catch {
        // already stopped
      }
      child?.kill();
      this.log.error(`The server did not start: ${errorMessage(e)}`);
      this.setState('failed', 'did not start');
      void this.offerHelp(`Replay Lens: the server did not start with ${found.interpreter.command}: ${this.cause(stderr, strategy)}`);
    }
  }

  /** The last words of a server that did not start, as a user can act on them. */
  private cause(stderr: ServerStderr, strategy: string): string {
    const last = stderr.lastLines(1)[0] ?? 'it exited without a message (see the output)';
    if (strategy === 'fromEnvironment' && /No module named '?server'?/.test(last)) {
      return 'the replay-lens package is not installed in that interpreter (importStrategy is fromEnvironment; useBundled needs nothing installed).';
    }
    return last;
  }

  /** The connection closed: a crash of a running server is said once; no automatic restart. */
  private onClosed(client: LanguageClient, stderr: ServerStderr): void {
    if (this.client !== client || this.state !== 'running') {
      return; // a stop we asked for, or a start that failed (doStart says why)
    }
    this.client = undefined;
    this.setState('failed', 'the server stopped');
    const message = `Replay Lens: the server stopped: ${stderr.lastLines(1)[0] ?? 'no message'}`;
    this.log.error(message);
    void vscode.window.showErrorMessage(message, 'Show Output', 'Restart Server').then((choice) => {
      if (choice === 'Show Output') this.log.show(true);
      else if (choice === 'Restart Server') void this.start();
    });
  }

  /** $/setTrace: verbose while the channel's level is Trace, else `replayLens.trace.server`. */
  private async applyTrace(client: LanguageClient): Promise<void> {
    const setting = vscode.workspace.getConfiguration('replayLens').get<string>('trace.server', 'off');
    const trace = this.log.logLevel === vscode.LogLevel.Trace ? Trace.Verbose : Trace.fromString(setting);
    await client.setTrace(trace);
  }

  /** Developer: Set Log Level… reaches the server: $/setTrace now, its --log-level by a restart when that changes. */
  onLogLevelChanged(): void {
    const client = this.client;
    if (client && this.state === 'running') {
      void this.applyTrace(client);
    }
    if (this.serverLogLevel && serverLogLevel(this.log.logLevel) !== this.serverLogLevel && this.state === 'running') {
      this.scheduleRestart(`the log level is now ${serverLogLevel(this.log.logLevel)}`);
    }
  }

  private async offerInterpreterHelp(message: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(message, 'Select Interpreter', 'Open Settings');
    if (choice === 'Select Interpreter') {
      await selectInterpreter();
    } else if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'replayLens.interpreter');
    }
  }

  private async offerHelp(message: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(message, 'Show Output', 'Open Settings');
    if (choice === 'Show Output') {
      this.log.show(true);
    } else if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'replayLens.');
    }
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    const child = this.process;
    this.client = undefined;
    this.process = undefined;
    if (client) {
      try {
        await client.dispose(2000);
      } catch (e) {
        this.log.warn(`Stopping the server: ${String(e)}`);
      }
    }
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill();
    }
    this.setState('stopped');
  }

  /** The running client, after any pending start or restart. */
  async ready(): Promise<LanguageClient> {
    await this.queue;
    if (!this.client || this.state !== 'running') {
      throw new Error('The Replay Lens server is not running. Run "Replay Lens: Restart Server" and see the output.');
    }
    return this.client;
  }

  supportsCommand(command: string): boolean | undefined {
    const caps = this.client?.initializeResult?.capabilities.executeCommandProvider;
    if (!this.client?.initializeResult) {
      return undefined;
    }
    return !!caps?.commands?.includes(command);
  }

  /** Runs a server command directly (not through VS Code's command registry). */
  async executeCommand<T>(command: string, argument: unknown): Promise<T> {
    const client = await this.ready();
    if (this.supportsCommand(command) === false) {
      throw new UnsupportedError(`the command ${command}`);
    }
    try {
      return (await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [argument] })) as T;
    } catch (e) {
      if (isMethodNotFound(e)) {
        throw new UnsupportedError(`the command ${command}`);
      }
      throw e;
    }
  }

  async request<T>(method: string, params: unknown): Promise<T> {
    const client = await this.ready();
    try {
      return (await client.sendRequest(method, params));
    } catch (e) {
      if (isMethodNotFound(e)) {
        throw new UnsupportedError(`the request ${method}`);
      }
      throw e;
    }
  }

  dispose(): void {
    this.disposed = true;
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
    }
    void this.doStop();
    this.stateEmitter.dispose();
    this.statusEmitter.dispose();
  }
}
