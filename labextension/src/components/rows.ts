/**
 * Row geometry the windowed tables rely on: heights in px, as style/table.css
 * fixes them (`.nbp-rows > .nbp-row`, `.nbp-row-chipped`).
 */
import type { CellRecord } from '../types.js';

export const ROW_PX = 24;
/** A cells-table row with budget chips under it. */
export const CHIPS_ROW_PX = 44;

export function hasChips(record: CellRecord): boolean {
  return record.verdict !== null && record.verdict.items.length > 0;
}

export function rowHeight(record: CellRecord): number {
  return hasChips(record) ? CHIPS_ROW_PX : ROW_PX;
}

/**
 * A number column as wide as the longest text it will hold (and at least
 * `minEm`): every row is a grid of its own, so a column's width must be known
 * before the rows are drawn (only those in view are).
 */
export function fitColumn(texts: Iterable<string>, minEm: number): string {
  let longest = 0;
  for (const text of texts) {
    longest = Math.max(longest, text.length);
  }
  return `max(${minEm}em, ${Math.min(longest, 40) + 1}ch)`;
}
