/** One record in the cells table: its label, its code, a number per column, its budget chips. */
import * as React from 'react';

import type { Catalog } from '../catalog.js';
import { VerdictChips } from '../components/chip.js';
import { NumberCell } from '../components/number-cell.js';
import { hasChips } from '../components/rows.js';
import { DIED_MARK, diedCause, diedMissing, diedSummary, isDied } from '../died.js';
import type { OpenRow } from '../reveal.js';
import { firstLine, rowLabel, showReading } from '../show.js';
import type { CellRecord } from '../types.js';

function rowClass(record: CellRecord, selected: boolean): string {
  const classes = ['nbp-row', 'nbp-clickable'];
  if (hasChips(record)) {
    classes.push('nbp-row-chipped');
  }
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

function ErrorTag(props: { record: CellRecord }): JSX.Element | null {
  const { record } = props;
  if (record.status === 'ok') {
    return null;
  }
  if (isDied(record)) {
    // a filled red badge, as the failures badge: the row holds only what the journal knew (a space
    // after it, as the tags' margin, without a style of its own)
    return (
      <>
        <span
          className="nbp-badge nbp-badge-fail nbp-died"
          title={`${diedSummary(record)}${record.notes[0] ? `\n${record.notes[0]}` : ''}`}
          aria-label={`died: ${diedCause(record)}`}
        >
          {DIED_MARK} died
        </span>{' '}
      </>
    );
  }
  return (
    <span className="nbp-tag nbp-tag-error" title={record.error_type ?? record.status}>
      {record.status === 'error' ? record.error_type ?? 'error' : record.status}
    </span>
  );
}

export const CellRow = React.memo(function CellRow(props: {
  record: CellRecord;
  columns: readonly string[];
  catalog: Catalog;
  selected: boolean;
  open: OpenRow;
}): JSX.Element {
  const { record, columns, catalog, selected, open } = props;
  const key = String(record.id);
  const go = () => open(key, { cellId: record.cell_id, source: record.source });
  const died = isDied(record);
  return (
    <div
      className={rowClass(record, selected)}
      role="row"
      tabIndex={0}
      data-record={key}
      data-cell-id={record.cell_id ?? ''}
      data-verdict={record.verdict_status ?? ''}
      data-status={record.status}
      onClick={go}
      onKeyDown={e => e.key === 'Enter' && go()}
    >
      <span className="nbp-index">{rowLabel(record)}</span>
      <span className="nbp-source" title={died ? `${diedSummary(record)}\n\n${record.source}` : record.source}>
        <ErrorTag record={record} />
        {firstLine(record.source)}
      </span>
      {columns.map(column => (
        <NumberCell
          key={column}
          shown={
            died && record.readings[column] === undefined
              ? diedMissing()
              : showReading(record.readings[column], catalog.info(column).unit)
          }
        />
      ))}
      {record.verdict !== null && record.verdict.items.length > 0 && (
        <VerdictChips items={record.verdict.items} catalog={catalog} />
      )}
    </div>
  );
});
