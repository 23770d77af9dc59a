/**
 * The compare view's totals: a row per metric measured in either run, A, B and
 * the change; then the metrics neither run measured, named once.
 */
import * as React from 'react';

import type { Catalog } from '../catalog.js';
import { DeltaCells, deltaTexts } from '../components/delta-cells.js';
import { NumberCell } from '../components/number-cell.js';
import { fitColumn } from '../components/rows.js';
import { showCompared } from '../show.js';
import type { CompareTotals } from '../types.js';

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
}): JSX.Element {
  const { totals, measured, unmeasured, catalog } = props;
  const rows = totalsOf(totals, measured, catalog);
  const number = fitColumn(rows.flatMap(r => [r.a.text, r.b.text, r.texts[0]]), 5.6);
  const percent = fitColumn(rows.map(r => r.texts[1]), 4.6);
  const grid = `minmax(7em, 16em) ${number} ${number} ${number} ${percent}`;
  return (
    <div className="nbp-table nbp-totals" role="table" style={{ ['--nbp-cols' as string]: grid }}>
      <div className="nbp-row nbp-row-head nbp-totals-row" role="row">
        <span role="columnheader">Total</span>
        <span role="columnheader" className="nbp-num">
          A
        </span>
        <span role="columnheader" className="nbp-num">
          B
        </span>
        <span role="columnheader" className="nbp-num">
          Δ
        </span>
        <span role="columnheader" className="nbp-num">
          %
        </span>
      </div>
      {rows.map(({ key, m, a, b, abs, pct }) => (
        <div key={key} className="nbp-row nbp-totals-row" role="row" data-metric={key}>
          <span title={`${m.title}: ${m.peak ? "the run's largest cell" : 'the sum over the cells'}`}>{m.label}</span>
          <NumberCell shown={a} />
          <NumberCell shown={b} />
          <DeltaCells value={abs} pct={pct} unit={m.unit} />
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
