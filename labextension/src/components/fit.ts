/**
 * How many metric columns a table can show at the width it has: the sidebar
 * opens at about 250 px, where a row holds its label, its code and one number;
 * a wider sidebar shows more columns. Pure arithmetic over estimated widths
 * (the text is not measured: rows are drawn only where they are seen), so the
 * estimates err wide, and the code column, `minmax(0, 1fr)`, absorbs the rest.
 */

/** The panel's UI font: 13 px, and a digit of it about 8.3 px wide (DejaVu Sans 0.636 em). */
export const EM_PX = 13;
export const CH_PX = 8.5;

/** A column as `fitColumn` sizes it (`max(minEm em, (chars + 1) ch)`), in px. */
export function columnPx(longest: number, minEm: number): number {
  return Math.max(minEm * EM_PX, (Math.min(longest, 40) + 1) * CH_PX);
}

/**
 * How many of `columns` (px widths, in the order they are offered) fit in
 * `width` beside `fixed` px and a code column of at least `codeMin` px, each
 * column costing `gap` px more; always at least `atLeast` (a row shows its
 * chosen metric even when the code gets less than its minimum).
 */
export function columnsThatFit(
  width: number,
  columns: readonly number[],
  fixed: number,
  codeMin: number,
  gap: number,
  atLeast = 1
): number {
  let left = width - fixed - codeMin;
  let n = 0;
  for (const px of columns) {
    if (left < px + gap) {
      break;
    }
    left -= px + gap;
    n++;
  }
  return Math.min(Math.max(n, atLeast), columns.length);
}
