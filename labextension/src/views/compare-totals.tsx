/**
 * The compare view's totals: a row per metric measured in either run, A, B and
 * the change; at the sidebar's opening width a metric takes two lines (its
 * label and change, then A and B: a cost such as `~<$0.000001` leaves no room
 * for one), a wider sidebar gives it one line and Δ; then the metrics neither run
 * measured, named once. A total adds up each cell's latest execution in its
 * run (a cell run twice counts once), as the cells view's total of that name.
 */
import * as React from 'react';

import type { Catalog } from '../catalog.js';
import { DeltaCells, deltaTexts } from '../components/delta-cells.js';
import { NumberCell } from '../components/number-cell.js';
import { fitColumn } from '../components/rows.js';
import { showCompared } from '../show.js';
import type { CompareTotals } from '../types.js';
import { LATEST_TOTAL, LATEST_TOTAL_TITLE } from './executions.js';

/** Each total shown: A, B and the change, with the metric they are of. */
function totalsOf(totals: CompareTotals, measured: string[], catalog: Catalog) {
  return measured.map(key => {
    const m = catalog.info(key);
    const a = showCompared(totals.a[key], m.unit, 'not measured in run A', null, totals.method_a?.[key], m.peak);
    const b = showCompared(totals.b[key], m.unit, 'not measured in run B', null, totals.method_b?.[key], m.peak);
    const d = totals.delta[key];
    return { key, m, a, b, abs: d?.abs, pct: d?.pct, texts: deltaTexts(d?.abs, d?.pct, m.unit) };
  });
}

export function CompareTotalsTable(props: {
  totals: CompareTotals;
  measured: string[];
  unmeasured: string[];
  catalog: Catalog;
  wide: boolean;
}): JSX.Element {
  const { totals, measured, unmeasured, catalog, wide } = props;
  const rows = totalsOf(totals, measured, catalog);
  const number = fitColumn(rows.flatMap(r => [r.a.text, r.b.text, ...(wide ? [r.texts[0]] : [])]), 4.6);
  const percent = fitColumn(rows.map(r => r.texts[1]), 3.6);
  const grid = wide
    ? `minmax(0, 1fr) ${number} ${number} ${number} ${percent}`
    : 'minmax(0, 1fr) minmax(0, 1fr)'; // style/table.css lays the narrow rows out on two lines
  return (
    <div
      className={`nbp-table nbp-totals${wide ? '' : ' nbp-totals-narrow'}`}
      role="table"
      style={{ ['--nbp-cols' as string]: grid }}
    >
      <div className="nbp-totals-caption" title={LATEST_TOTAL_TITLE} data-total="latest">
        Totals, {LATEST_TOTAL}
      </div>
      <div className="nbp-row nbp-row-head nbp-totals-row" role="row">
        <span role="columnheader" className="nbp-total-label" title={LATEST_TOTAL_TITLE}>
          Total
        </span>
        <span role="columnheader" className="nbp-num nbp-total-a">
          A
        </span>
        <span role="columnheader" className="nbp-num nbp-total-b">
          B
        </span>
        {wide && (
          <span role="columnheader" className="nbp-num">
            Δ
          </span>
        )}
        <span role="columnheader" className="nbp-num nbp-total-pct">
          %
        </span>
      </div>
      {rows.map(({ key, m, a, b, abs, pct }) => (
        <div key={key} className="nbp-row nbp-totals-row" role="row" data-metric={key}>
          <span
            className="nbp-total-label"
            title={`${m.title}: ${m.peak ? "the largest of each cell's latest execution" : LATEST_TOTAL_TITLE}`}
          >
            {m.label}
          </span>
          <NumberCell shown={a} className="nbp-total-a" />
          <NumberCell shown={b} className="nbp-total-b" />
          <DeltaCells value={abs} pct={pct} unit={m.unit} only={wide ? undefined : 'pct'} className="nbp-total-pct" />
        </div>
      ))}
      {unmeasured.length > 0 && (
        <div className="nbp-unmeasured" title="no cell of either run has a value for these: see the cells view for why">
          Not measured in either run: {unmeasured.map(key => catalog.info(key).label).join(', ')}
        </div>
      )}
    </div>
  );
}
