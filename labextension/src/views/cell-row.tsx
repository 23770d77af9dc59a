/**
 * One row of the cells table: its label, its code (with its status tag and how
 * often it ran), its numbers (the first with a bar), its budget mark. A click
 * or Enter selects it, reveals the cell in the notebook and opens its detail.
 */
import * as React from 'react';

import type { Catalog } from '../catalog.js';
import { NumberCell } from '../components/number-cell.js';
import { VerdictMark } from '../components/verdict-mark.js';
import { DIED_MARK, diedCause, diedMissing, diedSummary, isDied } from '../died.js';
import type { OpenRow } from '../reveal.js';
import { firstLine, rowLabel, showReading } from '../show.js';
import type { CellRecord } from '../types.js';

function rowClass(record: CellRecord, selected: boolean): string {
  const classes = ['nbp-row', 'nbp-clickable'];
  if (record.verdict_status === 'fail' || isDied(record)) {
    classes.push('nbp-row-fail');
  }
  if (isDied(record)) {
    classes.push('nbp-row-died');
  }
  if (selected) {
    classes.push('nbp-row-selected');
  }
  return classes.join(' ');
}

export function ErrorTag(props: { record: CellRecord }): JSX.Element | null {
  const { record } = props;
  if (record.status === 'ok') {
    return null;
  }
  if (isDied(record)) {
    // a filled red badge, as the failures badge: the row holds only what the journal knew
    return (
      <span
        className="nbp-badge nbp-badge-fail nbp-died"
        title={`${diedSummary(record)}${record.notes[0] ? `\n${record.notes[0]}` : ''}`}
        aria-label={`died: ${diedCause(record)}`}
      >
        {DIED_MARK} died
      </span>
    );
  }
  return (
    <span className="nbp-tag nbp-tag-error" title={record.error_type ?? record.status}>
      {record.status === 'error' ? record.error_type ?? 'error' : record.status}
    </span>
  );
}

/** `×3`: the cell ran three times in this run; the row shows its latest execution. */
export function TimesTag(props: { count: number }): JSX.Element | null {
  if (props.count < 2) {
    return null;
  }
  return (
    <span
      className="nbp-tag nbp-times"
      title={`ran ${props.count} times in this run; the row shows the latest (tick "every execution" for each)`}
    >
      ×{props.count}
    </span>
  );
}

export const CellRow = React.memo(function CellRow(props: {
  record: CellRecord;
  /** How many times the cell ran in the run (1 in the every-execution view). */
  executions: number;
  columns: readonly string[];
  /** The first column's share of the largest value shown, for its bar. */
  bar: number | null;
  /** The table has a column for `×N` (some cell ran more than once). */
  timesColumn: boolean;
  catalog: Catalog;
  selected: boolean;
  open: OpenRow;
}): JSX.Element {
  const { record, executions, columns, bar, timesColumn, catalog, selected, open } = props;
  const key = String(record.id);
  const go = () => open(key, { cellId: record.cell_id, source: record.source });
  const died = isDied(record);
  return (
    <div
      className={rowClass(record, selected)}
      role="row"
      tabIndex={0}
      aria-selected={selected}
      data-record={key}
      data-cell-id={record.cell_id ?? ''}
      data-verdict={record.verdict_status ?? ''}
      data-status={record.status}
      data-executions={executions}
      onClick={go}
      onKeyDown={e => {
        if (e.key === 'Enter') {
          e.preventDefault();
          go();
        }
      }}
    >
      <span className="nbp-index">{rowLabel(record)}</span>
      {timesColumn && (
        <span className="nbp-times-cell">
          <TimesTag count={executions} />
        </span>
      )}
      <span className="nbp-source" title={died ? `${diedSummary(record)}\n\n${record.source}` : record.source}>
        <ErrorTag record={record} />
        <span className="nbp-source-text">{firstLine(record.source)}</span>
      </span>
      {columns.map((column, i) => (
        <NumberCell
          key={column}
          bar={i === 0 ? bar : undefined}
          shown={
            died && record.readings[column] === undefined
              ? diedMissing()
              : showReading(record.readings[column], catalog.info(column).unit)
          }
        />
      ))}
      <VerdictMark verdict={record.verdict} catalog={catalog} />
    </div>
  );
});
