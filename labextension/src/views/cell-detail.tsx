/**
 * A cell's detail, under the view while its row is selected: what the row has
 * no room for at the sidebar's width. Its code, its status, every budget limit
 * as a chip with its value against the limit, every reading with its label,
 * value and method (or why it is unavailable), and, for a cell that ran several
 * times in the run, each execution's time.
 */
import * as React from 'react';

import type { Catalog } from '../catalog.js';
import { VerdictChip } from '../components/chip.js';
import { ReadingList } from '../components/reading-list.js';
import { DIED_MISSING, diedSummary, isDied } from '../died.js';
import { showReading, rowLabel } from '../show.js';
import type { CellRecord } from '../types.js';
import { ErrorTag } from './cell-row.js';

/** The frame of a row's detail: a title line with a close button, then the body. */
export function DetailFrame(props: {
  title: React.ReactNode;
  onClose: () => void;
  data: Record<string, string>;
  children: React.ReactNode;
}): JSX.Element {
  const dataset = Object.fromEntries(Object.entries(props.data).map(([k, v]) => [`data-${k}`, v]));
  return (
    <section className="nbp-detail" aria-label="detail of the selected row" {...dataset}>
      <div className="nbp-detail-head">
        <div className="nbp-detail-title">{props.title}</div>
        <button
          className="nbp-detail-close"
          title="close the detail"
          aria-label="close the detail"
          onClick={props.onClose}
        >
          ×
        </button>
      </div>
      {props.children}
    </section>
  );
}

export function CellDetail(props: {
  record: CellRecord;
  /** The cell's executions in this run, in order (the record among them). */
  executions: readonly CellRecord[];
  /** The metrics the view offers: a died cell lists those it lacks, and why. */
  columns: readonly string[];
  catalog: Catalog;
  onClose: () => void;
}): JSX.Element {
  const { record, executions, columns, catalog, onClose } = props;
  const items = record.verdict?.items ?? [];
  const wall = catalog.info('wall_s');
  return (
    <DetailFrame
      onClose={onClose}
      data={{ 'detail-record': String(record.id) }}
      title={
        <>
          <span className="nbp-index">{rowLabel(record)}</span> <ErrorTag record={record} />
          {executions.length > 1 && (
            <span className="nbp-detail-times">
              execution {executions.indexOf(record) + 1} of {executions.length} in this run
            </span>
          )}
        </>
      }
    >
      <pre className="nbp-detail-source">{record.source}</pre>
      {isDied(record) && <div className="nbp-detail-note nbp-worse">{diedSummary(record)}</div>}
      {record.status === 'error' && record.error_type && (
        <div className="nbp-detail-note">raised {record.error_type}</div>
      )}
      {items.length > 0 && (
        <div className="nbp-detail-section">
          <div className="nbp-detail-heading">
            Budget{record.verdict?.name ? ` ${record.verdict.name}` : ''}: {record.verdict?.status}
          </div>
          <div className="nbp-detail-chips">
            {items.map((item, i) => (
              <VerdictChip key={i} item={item} catalog={catalog} />
            ))}
          </div>
        </div>
      )}
      {record.hotspots && (
        <div className="nbp-detail-section" data-section="hotspots">
          <div className="nbp-detail-heading" title={record.hotspots.how}>
            Where the time went (sampled)
          </div>
          <ol className="nbp-detail-hotspots">
            {record.hotspots.lines.map((line, i) => (
              <li key={i}>{line}</li>
            ))}
          </ol>
        </div>
      )}
      <div className="nbp-detail-section">
        <div className="nbp-detail-heading">Readings</div>
        <ReadingList
          readings={record.readings}
          catalog={catalog}
          absent={isDied(record) ? { keys: columns, why: DIED_MISSING } : undefined}
        />
      </div>
      {executions.length > 1 && (
        <div className="nbp-detail-section">
          <div className="nbp-detail-heading">Every execution of this cell in this run</div>
          <ol className="nbp-detail-executions">
            {executions.map(execution => (
              <li key={execution.id} className={execution === record ? 'nbp-detail-current' : ''}>
                {rowLabel(execution)} {showReading(execution.readings.wall_s, wall.unit).text}
                {execution.verdict_status === 'fail' ? ' ✗ budget failed' : ''}
              </li>
            ))}
          </ol>
        </div>
      )}
      {record.notes.length > 0 && (
        <div className="nbp-detail-section">
          <div className="nbp-detail-heading">Notes</div>
          {record.notes.map((note, i) => (
            <div key={i} className="nbp-detail-note">
              {note}
            </div>
          ))}
        </div>
      )}
    </DetailFrame>
  );
}
