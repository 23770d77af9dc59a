/**
 * Row geometry the windowed tables rely on: heights in px, as style/table.css
 * fixes them (`.nbp-rows > .nbp-row`, `.nbp-row-tall`), and the width of a
 * number column.
 */

export const ROW_PX = 24;
/** A row with a second line (a compared cell's regressions). */
export const TALL_ROW_PX = 42;

/**
 * A number column as wide as the longest text it will hold (and at least
 * `minEm`): every row is a grid of its own, so a column's width must be known
 * before the rows are drawn (only those in view are).
 */
export function fitColumn(texts: Iterable<string>, minEm: number): string {
  return `max(${minEm}em, ${Math.min(longestText(texts), 40) + 1}ch)`;
}

export function longestText(texts: Iterable<string>): number {
  let longest = 0;
  for (const text of texts) {
    longest = Math.max(longest, text.length);
  }
  return longest;
}
