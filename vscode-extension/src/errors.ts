// Errors from the server: MethodNotFound means "this server version lacks the feature" and is
// answered with a clear message, never a crash.

export const METHOD_NOT_FOUND = -32601;

export function errorCode(e: unknown): number | undefined {
  if (e && typeof e === 'object' && 'code' in e && typeof (e).code === 'number') {
    return (e as { code: number }).code;
  }
  return undefined;
}

export function isMethodNotFound(e: unknown): boolean {
  if (errorCode(e) === METHOD_NOT_FOUND) {
    return true;
  }
  const message = errorMessage(e).toLowerCase();
  return /method not found|unhandled method|command not found|unknown command|not supported/.test(message);
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) {
    return e.message;
  }
  if (e && typeof e === 'object' && 'message' in e) {
    return String((e).message);
  }
  return String(e);
}

/** Thrown by the extension when the running server lacks a command or request. */
export class UnsupportedError extends Error {
  constructor(readonly feature: string) {
    super(`This version of the Replay Lens server does not support ${feature} yet.`);
    this.name = 'UnsupportedError';
  }
}
