/**
 * What a run is: a kernel session, in which a cell may execute several times
 * (Run All twice in one kernel). The cells view shows one row per cell, its
 * latest execution, and can show every execution in order; every total says
 * what it adds up. Pure functions of a run's records.
 *
 * The two totals, and their words, shared by every view so that one label
 * always gives one number:
 * - "latest execution of each cell": each cell's latest execution, nbprofile's
 *   own magic cells left out, as compare (`nbprofile/report/compare.py`) sums it;
 * - "all N executions": every execution, as the server's run `wall_s` sums it:
 *   what the session really spent.
 */
import type { CellRecord } from '../types.js';

/** The words of each total, as every view shows them. */
export const LATEST_TOTAL = 'latest execution of each cell';
export const ALL_TOTAL = 'all executions';
export const LATEST_TOTAL_TITLE =
  "the sum over each cell's latest execution in this run (a cell run several times counts once); " +
  "nbprofile's own magic cells (%nbprofile …, %load_ext nbprofile) are left out, as compare leaves them out";
export const ALL_TOTAL_TITLE =
  'the sum over every execution in this run, re-runs of a cell included: what the kernel session really spent';

/** `1 cell`, `7 cells`. */
export function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `all 21 executions`: how many the total adds up. */
export function allTotalLabel(executions: number): string {
  return executions === 1 ? 'the 1 execution' : `all ${executions} executions`;
}

/** One cell of a run: its executions in order, the latest last. */
export interface CellGroup {
  key: string;
  latest: CellRecord;
  executions: CellRecord[];
}

/** How compare matches a cell across executions and runs: its nbformat id, else its code. */
export function cellKey(record: Pick<CellRecord, 'cell_id' | 'code_hash'>): string {
  return record.cell_id ? record.cell_id : `code:${record.code_hash}`;
}

/**
 * A run's records (in execution order) by cell, in the order of each cell's
 * latest execution: the rows' labels (their latest execution counts) then read
 * in order, and Run All twice lists the cells as the notebook does.
 */
export function groupByCell(records: readonly CellRecord[]): CellGroup[] {
  const groups = new Map<string, CellGroup>();
  for (const record of records) {
    const key = cellKey(record);
    const group = groups.get(key);
    if (group === undefined) {
      groups.set(key, { key, latest: record, executions: [record] });
    } else {
      group.executions.push(record);
      group.latest = record;
      groups.delete(key); // re-inserted: a Map keeps insertion order, so the group moves to its latest place
      groups.set(key, group);
    }
  }
  return [...groups.values()];
}

const OWN_MAGICS = ['%nbprofile', '%load_ext nbprofile', '%unload_ext nbprofile', '%reload_ext nbprofile'];

/**
 * nbprofile's own magic cells (`%nbprofile history`, `%load_ext nbprofile`):
 * what they cost is nbprofile's, not the notebook's. A port of
 * `is_own_magic` in `nbprofile/report/compare.py`; keep the two alike.
 */
export function isOwnMagic(source: string): boolean {
  const text = source.trim();
  return OWN_MAGICS.some(m => text === m || [' ', '\n', '\t'].some(end => text.startsWith(m + end)));
}

/** The "latest execution of each cell" total of a reading, as compare sums it. */
export interface LatestTotal {
  /** `null` when no counted cell has a value (never 0 for want of values). */
  value: number | null;
  /** Some value in it was estimated or sampled (a died cell's time is). */
  estimated: boolean;
  /** Cells counted, and nbprofile's own cells left out. */
  cells: number;
  leftOut: number;
}

export function latestTotal(groups: readonly CellGroup[], key: string, peak = false): LatestTotal {
  let value: number | null = null;
  let estimated = false;
  let cells = 0;
  let leftOut = 0;
  for (const { latest } of groups) {
    if (isOwnMagic(latest.source)) {
      leftOut++;
      continue;
    }
    cells++;
    const reading = latest.readings[key];
    if (reading === undefined || reading.value === null || reading.method === 'unavailable') {
      continue;
    }
    value = value === null ? reading.value : peak ? Math.max(value, reading.value) : value + reading.value;
    estimated = estimated || reading.method !== 'measured';
  }
  return { value, estimated, cells, leftOut };
}
