// Where the turns of a fixture are, from its text (tolerant of JSON that is invalid mid-edit),
// and where the calls of a JSONL recording are (one a line).
import { Node, parseTree } from 'jsonc-parser';

export interface OffsetRange {
  start: number;
  end: number;
}

function turnsArray(text: string): Node | undefined {
  const root = parseTree(text, [], { allowTrailingComma: true, disallowComments: false });
  if (!root || root.type !== 'object' || !root.children) {
    return undefined;
  }
  for (const prop of root.children) {
    const [key, value] = prop.children ?? [];
    if (key?.value === 'turns' && value?.type === 'array') {
      return value;
    }
  }
  return undefined;
}

/** The 0-based index of the fixture turn that contains `offset`, or undefined. */
export function turnAtOffset(text: string, offset: number): number | undefined {
  const turns = turnsArray(text);
  const children = turns?.children ?? [];
  for (let i = 0; i < children.length; i++) {
    const child = children[i];
    if (offset >= child.offset && offset <= child.offset + child.length) {
      return i;
    }
  }
  return undefined;
}

/** The text range of fixture turn `index`, or undefined when the file has no such turn. */
export function turnRange(text: string, index: number): OffsetRange | undefined {
  const child = turnsArray(text)?.children?.[index];
  return child ? { start: child.offset, end: child.offset + child.length } : undefined;
}

export function turnCount(text: string): number {
  return turnsArray(text)?.children?.length ?? 0;
}

export function isRecordingPath(path: string): boolean {
  return /\.jsonl$/i.test(path);
}

/**
 * The turn under the cursor for `replayLens.showNormalizedInput`: the fixture turn that contains
 * the offset, or for a JSONL recording the 0-based index of the non-empty line (the call).
 */
export function turnAtCursor(path: string, text: string, offset: number, line: number): number | undefined {
  if (isRecordingPath(path)) {
    const lines = text.split('\n');
    if (line < 0 || line >= lines.length || lines[line].trim() === '') {
      return undefined;
    }
    let index = 0;
    for (let i = 0; i < line; i++) {
      if (lines[i].trim() !== '') {
        index++;
      }
    }
    return index;
  }
  return turnAtOffset(text, offset);
}

/** A fixture is a JSON file (`.json`): the only kind Rehash edits. */
export function isFixturePath(filePath: string): boolean {
  return /\.json$/i.test(filePath);
}

/** Files that hold a session: fixtures, JSONL recordings and rollouts, compressed traces, databases. */
export function isSessionPath(filePath: string): boolean {
  return /\.(json|jsonl|zst|db|sqlite3?)$/i.test(filePath);
}
