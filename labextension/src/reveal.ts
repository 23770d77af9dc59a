/**
 * How a row of the panel points into the notebook: the cell it stands for,
 * and the function (given by index.ts) that selects and scrolls to it.
 */

/** Where a row points in the notebook. */
export interface CellTarget {
  cellId: string | null;
  source: string;
}

/** Select and scroll to a cell of the current notebook; false when it is not there any more. */
export type Reveal = (target: CellTarget) => Promise<boolean>;

/** A view's row was clicked: highlight it (`key`, a record id or a compared cell's key) and reveal its cell. */
export type OpenRow = (key: string, target: CellTarget) => void;
