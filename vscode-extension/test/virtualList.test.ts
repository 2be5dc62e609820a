// The steps view's virtual list: a 5,000-step session keeps only the rows in view in the DOM and
// asks the server for each page once, as the user scrolls through it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pagesOf, positionsIn, revealTop, visibleWindow } from '../media/virtualList';

test('the window holds the rows in view and a margin, clamped to the list', () => {
  assert.deepEqual(visibleWindow(0, 600, 30, 5000, 10), { start: 0, end: 31 });
  assert.deepEqual(visibleWindow(3000, 600, 30, 5000, 10), { start: 90, end: 131 });
  assert.deepEqual(visibleWindow(5000 * 30, 600, 30, 5000, 10), { start: 4990, end: 5000 });
  assert.deepEqual(visibleWindow(-50, 600, 30, 5000, 10), { start: 0, end: 31 });
  assert.deepEqual(visibleWindow(0, 600, 30, 0), { start: 0, end: 0 });
  assert.deepEqual(visibleWindow(0, 600, 30, 6, 10), { start: 0, end: 6 });
  assert.deepEqual(visibleWindow(100, 0, 30, 50, 0), { start: 3, end: 5 }); // a viewport not laid out yet: one row
});

test('scrolling through 5,000 steps: at most the rows in view plus margins at once, every row shown, each page asked once', () => {
  const rowHeight = 33;
  const viewport = 640;
  const total = 5000;
  const pageSize = 200;
  const shown = new Set<number>();
  const asked: number[] = [];
  let largest = 0;
  for (let top = 0; top <= total * rowHeight; top += 97) {
    const window = visibleWindow(top, viewport, rowHeight, total);
    const positions = positionsIn(window, null);
    largest = Math.max(largest, positions.length);
    positions.forEach((p) => shown.add(p));
    for (const page of pagesOf(positions, pageSize)) if (!asked.includes(page)) asked.push(page);
  }
  assert.ok(largest <= Math.ceil(viewport / rowHeight) + 1 + 20, `${largest} rows at once`);
  assert.equal(shown.size, total);
  assert.deepEqual(asked, Array.from({ length: 25 }, (_, i) => i + 1));
});

test('a filter: the window runs over the positions it keeps, and their pages', () => {
  const kept = Array.from({ length: 300 }, (_, i) => i * 17); // every 17th step of 5,100
  const window = visibleWindow(150 * 30, 300, 30, kept.length, 2);
  assert.deepEqual(window, { start: 148, end: 163 });
  const positions = positionsIn(window, kept);
  assert.deepEqual(positions.slice(0, 3), [148 * 17, 149 * 17, 150 * 17]);
  assert.deepEqual(pagesOf(positions, 200), [13, 14]);
  assert.deepEqual(pagesOf([], 200), []);
});

test('revealing a row scrolls as little as possible', () => {
  assert.equal(revealTop(10, 0, 300, 30), 30); // below: its bottom at the viewport's bottom
  assert.equal(revealTop(2, 0, 300, 30), 0); // in view: no scroll
  assert.equal(revealTop(3, 200, 300, 30), 90); // above: its top at the viewport's top
  assert.equal(revealTop(4999, 0, 600, 30), 4999 * 30 + 30 - 600);
});
