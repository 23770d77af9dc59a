/**
 * A cell whose kernel died while it ran (status `died`, a record the kernel's
 * journal made after the fact): its cause is a guess in words (`error_type`,
 * or null when unknown), its wall time runs only until the kernel was last
 * seen, and most readings are absent. A port of `nbprofile/report/died.py`, so
 * that the panel says the same sentence as the reports and the CLI.
 */
import { UNAVAILABLE, formatBytes } from './format.js';
import type { Shown } from './show.js';
import type { CellRecord, CompareCell } from './types.js';

/** Marks a died cell, as in the text tables and the footer. */
export const DIED_MARK = '✝';
/** What a died cell's absent readings say instead of a number. */
export const DIED_MISSING = 'not measured: the kernel died before this cell finished';
/** A cell id is shown by its first characters: enough to tell a notebook's cells apart at a glance. */
const SHORT_ID = 4;

export function isDied(record: Pick<CellRecord, 'status'>): boolean {
  return record.status === 'died';
}

/** `3f2a5c1e-…` → `3f2a…`; an id no longer than the cut plus its `…` stays whole. */
export function shortId(cellId: string): string {
  return cellId.length <= SHORT_ID + 1 ? cellId : `${cellId.slice(0, SHORT_ID)}…`;
}

/** The likely cause in words, or "cause unknown". */
export function diedCause(record: Pick<CellRecord, 'error_type'>): string {
  return record.error_type || 'cause unknown';
}

/** One line: `kernel died in cell #12 (id 3f2a…) at 22.8 GiB: out of memory`. */
export function diedSummary(
  record: Pick<CellRecord, 'execution_count' | 'seq' | 'cell_id' | 'error_type' | 'readings'>
): string {
  let where = record.execution_count !== null ? `cell #${record.execution_count}` : `record #${record.seq}`;
  if (record.cell_id) {
    where += ` (id ${shortId(record.cell_id)})`;
  }
  const rss = record.readings.rss_peak_bytes?.value;
  const at = rss === null || rss === undefined ? '' : ` at ${formatBytes(rss)}`;
  return `kernel died in ${where}${at}: ${diedCause(record)}`;
}

/** What a died cell shows for a reading the journal could not know: `n/a`, and why. */
export function diedMissing(): Shown {
  return { text: UNAVAILABLE, title: DIED_MISSING, method: 'unavailable' };
}

/** Which run a compared cell's kernel died in: `A`, `B`, `both`, or null (older servers: from the statuses). */
export function diedIn(cell: CompareCell): 'A' | 'B' | 'both' | null {
  if (cell.died !== undefined) {
    return cell.died;
  }
  const a = cell.status_a === 'died';
  const b = cell.status_b === 'died';
  return a && b ? 'both' : a ? 'A' : b ? 'B' : null;
}
