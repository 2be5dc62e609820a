// Starts, stops and restarts the language server (`python -m server --stdio`) and routes what it
// sends beyond LSP. Restarts are serialized and debounced; a server that lacks a command or request
// gives an UnsupportedError, never a crash.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
} from 'vscode-languageclient/node';
import { isMethodNotFound, UnsupportedError } from './errors';
import { activeInterpreter } from './python';
import { Notifications, StatusParams } from './protocol';
import { documentSelector, effectiveValue, findOnPath, Inspected, resolveInterpreter, serverCommandLine } from './settings';
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
    const serverArgs = effectiveValue(config.inspect('serverArgs') as Inspected<unknown[]>, trusted);
    const fixtureGlobs = config.get<unknown[]>('fixtureGlobs', []);
    const commandLine = serverCommandLine(interpreter, serverArgs);

    const missing = path.isAbsolute(commandLine.command)
      ? !fs.existsSync(commandLine.command)
      : !commandLine.command.includes(path.sep) && !findOnPath(commandLine.command, process.env);
    if (missing) {
      const message = path.isAbsolute(commandLine.command)
        ? `The interpreter ${commandLine.command} (from ${interpreter.source}) does not exist.`
        : `The interpreter ${commandLine.command} (from ${interpreter.source}) is not on the PATH.`;
      this.log.error(message);
      this.setState('failed', 'no interpreter');
      void this.offerHelp(`Replay Lens: ${message}`);
      return;
    }

    // In an untrusted workspace the server starts outside the workspace, so that `-m server`
    // cannot import a module of the workspace; PYTHONSAFEPATH keeps the cwd off sys.path too.
    const cwd = trusted && folder ? folder.uri.fsPath : this.context.extensionUri.fsPath;
    const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' };
    if (!trusted) {
      env.PYTHONSAFEPATH = '1';
    }
    this.log.info(
      `Starting the server: ${[commandLine.command, ...commandLine.args].join(' ')} (interpreter from ${interpreter.source}; cwd ${cwd}; workspace ${trusted ? 'trusted' : 'untrusted'})`,
    );

    const serverOptions: ServerOptions = { command: commandLine.command, args: commandLine.args, options: { cwd, env } };
    const clientOptions: LanguageClientOptions = {
      documentSelector: documentSelector(fixtureGlobs),
      outputChannel: this.log,
      traceOutputChannel: this.log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: { workspaceTrusted: trusted, fixtureGlobs, client: 'replay-lens-vscode' },
      connectionOptions: { maxRestartCount: 3 },
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
      if (this.client !== client) {
        return;
      }
      if (e.newState === State.Running) {
        this.setState('running');
      } else if (e.newState === State.Stopped && this.state === 'running') {
        this.setState('failed', 'the server stopped');
      }
    });
    try {
      await client.start();
      client.onNotification(Notifications.status, (params: StatusParams) => {
        this.statusBar.setStatus(params);
        this.statusEmitter.fire(params);
      });
      this.setState('running');
      const info = client.initializeResult?.serverInfo;
      this.log.info(`Server running${info ? `: ${info.name} ${info.version ?? ''}` : ''}`);
    } catch (e) {
      this.log.error(`The server did not start: ${String(e instanceof Error ? e.message : e)}`);
      this.client = undefined;
      try {
        await client.dispose(2000);
      } catch {
        // already stopped
      }
      this.setState('failed', 'did not start');
      void this.offerHelp(
        `Replay Lens: the server did not start with ${commandLine.command}. Is the replay-lens package installed in that interpreter? See the output for details.`,
      );
    }
  }

  private async offerHelp(message: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(message, 'Show Output', 'Open Settings');
    if (choice === 'Show Output') {
      this.log.show(true);
    } else if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'replayLens.interpreter');
    }
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) {
      try {
        await client.dispose(2000);
      } catch (e) {
        this.log.warn(`Stopping the server: ${String(e)}`);
      }
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
