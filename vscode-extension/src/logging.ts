// One output channel with real levels. Three sources write to it, each line once:
// - the server's stderr, in Python logging's format ("2026-01-01 10:00:00,123 WARNING server.x: …"),
//   logged at its level; lines without that format (a traceback, a crash) at error level. It is
//   complete from the first line to a crash, so it is the server's log here;
// - the language client's own messages ("[Error - 10:00:00] …"), logged at their level, except the
//   copies of the server's records it receives as window/logMessage (already shown from stderr);
// - the JSON-RPC trace, at trace level.
import type * as vscode from 'vscode';

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface LevelLog {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const PYTHON_LEVELS: Record<string, Level> = { DEBUG: 'debug', INFO: 'info', WARNING: 'warn', ERROR: 'error', CRITICAL: 'error' };
const CLIENT_LEVELS: Record<string, Level> = { Trace: 'trace', Debug: 'debug', Info: 'info', Warn: 'warn', Error: 'error' };
const PYTHON_RECORD = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/;
const CLIENT_LINE = /^\[(Trace|Debug|Info|Warn|Error)\s*- [^\]]*\] ?(.*)$/s;
/** A server record forwarded as window/logMessage: "WARNING server.lsp.state: …". */
const LOG_MESSAGE_COPY = /^(DEBUG|INFO|WARNING|ERROR|CRITICAL) server[\w.]*: /;

/** Splits the server's stderr into lines and logs each at its level; keeps the last lines for messages. */
export class ServerStderr {
  private partial = '';
  private readonly tail: string[] = [];

  constructor(private readonly log: LevelLog) {}

  feed(chunk: string): void {
    const lines = (this.partial + chunk).split(/\r?\n/);
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  flush(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  /** The last non-empty lines the server wrote (for a failure message). */
  lastLines(n = 1): string[] {
    return this.tail.slice(-n);
  }

  private line(line: string): void {
    if (!line.trim()) return;
    this.tail.push(line.trim());
    if (this.tail.length > 20) this.tail.shift();
    const record = PYTHON_RECORD.exec(line);
    if (record) {
      this.log[PYTHON_LEVELS[record[1]]](record[2]);
      return;
    }
    // Not a log record: a traceback's lines, a crash, a launcher's message.
    this.log.error(line);
  }
}

function channelLike(log: vscode.LogOutputChannel, write: (line: string) => void): vscode.OutputChannel {
  let partial = '';
  return {
    name: log.name,
    append(value: string) {
      const lines = (partial + value).split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const line of lines) write(line);
    },
    appendLine(value: string) {
      write(partial + value);
      partial = '';
    },
    replace: (value: string) => log.replace(value),
    clear: () => log.clear(),
    show: (column?: vscode.ViewColumn | boolean, preserveFocus?: boolean) => (typeof column === 'boolean' ? log.show(column) : log.show(column, preserveFocus)),
    hide: () => log.hide(),
    // The channel belongs to the extension, not to one client.
    dispose: () => undefined,
  };
}

/** The channel given to the language client as its `outputChannel`: its lines at their levels. */
export function clientOutput(log: vscode.LogOutputChannel): vscode.OutputChannel {
  let level: Level = 'info';
  let skipping = false;
  return channelLike(log, (line) => {
    const m = CLIENT_LINE.exec(line);
    if (m) {
      level = CLIENT_LEVELS[m[1]];
      skipping = LOG_MESSAGE_COPY.test(m[2]);
      if (!skipping) log[level](m[2]);
    } else if (!skipping && line.trim()) {
      // The data of the line before (an error's stack): same level.
      log[level](line);
    }
  });
}

/** The channel given to the language client as its `traceOutputChannel`: JSON-RPC traffic at trace level. */
export function traceOutput(log: vscode.LogOutputChannel): vscode.OutputChannel {
  return channelLike(log, (line) => {
    const m = CLIENT_LINE.exec(line);
    const text = m ? m[2] : line;
    if (text.trim()) log.trace(text);
  });
}
