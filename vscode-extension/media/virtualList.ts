// The arithmetic of the steps view's virtual list: which rows are on screen, which pages of the
// server hold them, and where to scroll to show a row. Rows have one fixed height, so a session of
// any length keeps only the rows in view (plus a margin) in the DOM. No DOM here: unit tested.

/** Rows `[start, end)` of a list, by position. */
export interface RowWindow {
  start: number;
  end: number;
}

/** The rows in view at `scrollTop` in a viewport `viewport` pixels high, with `overscan` rows either side. */
export function visibleWindow(scrollTop: number, viewport: number, rowHeight: number, count: number, overscan = 10): RowWindow {
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const top = Math.max(0, Math.min(scrollTop, count * rowHeight));
  const first = Math.floor(top / rowHeight);
  const shown = Math.ceil(Math.max(viewport, rowHeight) / rowHeight) + 1;
  return { start: Math.max(0, first - overscan), end: Math.min(count, first + shown + overscan) };
}

/** The server pages (1-based, `pageSize` steps each) holding the steps at these positions of the session. */
export function pagesOf(positions: Iterable<number>, pageSize: number): number[] {
  const pages = new Set<number>();
  for (const position of positions) pages.add(Math.floor(position / pageSize) + 1);
  return [...pages].sort((a, b) => a - b);
}

/** The session positions shown in rows `window` of the list (`order`: positions kept by a filter, else all). */
export function positionsIn(window: RowWindow, order: readonly number[] | null): number[] {
  const positions: number[] = [];
  for (let row = window.start; row < window.end; row++) positions.push(order ? order[row] : row);
  return positions;
}

/** The scroll position that shows row `row` whole, moving as little as possible from `scrollTop`. */
export function revealTop(row: number, scrollTop: number, viewport: number, rowHeight: number): number {
  const top = row * rowHeight;
  if (top < scrollTop) return top;
  if (top + rowHeight > scrollTop + viewport) return Math.max(0, top + rowHeight - viewport);
  return scrollTop;
}
