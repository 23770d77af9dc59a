/**
 * A compared cell's detail: every metric in both runs with its change, and the
 * metrics that regressed, each with by how much (the server's words, as the
 * CLI and the reports print them). The row shows one metric; this shows all.
 */
import * as React from 'react';

import type { Catalog } from '../catalog.js';
import { deltaTexts } from '../components/delta-cells.js';
import { NumberCell } from '../components/number-cell.js';
import { DIED_MISSING, diedIn } from '../died.js';
import { showCompared } from '../show.js';
import type { CompareCell } from '../types.js';
import { DetailFrame } from './cell-detail.js';

const missing = (status: string | null | undefined, run: string) =>
  status === 'died' ? DIED_MISSING : `not measured in run ${run}, or the cell did not run in it`;

export function CompareDetail(props: {
  cell: CompareCell;
  metrics: readonly string[];
  catalog: Catalog;
  onClose: () => void;
}): JSX.Element {
  const { cell, metrics, catalog, onClose } = props;
  const regressions = cell.regressions ?? [];
  const died = diedIn(cell);
  return (
    <DetailFrame onClose={onClose} data={{ 'detail-key': cell.key }} title="Compared cell, B − A">
      <pre className="nbp-detail-source">{cell.source}</pre>
      {died !== null && (
        <div className="nbp-detail-note nbp-worse">
          The kernel died in this cell in {died === 'both' ? 'both runs' : `run ${died}`}: no change is computed.
        </div>
      )}
      <div className="nbp-detail-section">
        <div className="nbp-detail-heading">{regressions.length > 0 ? 'Regressed' : 'No metric regressed'}</div>
        {regressions.map(r => (
          <div key={r.metric} className="nbp-detail-regression nbp-worse" data-metric={r.metric}>
            {r.text}
          </div>
        ))}
      </div>
      <div className="nbp-detail-section">
        <div className="nbp-detail-heading">Every metric, A → B</div>
        <div className="nbp-compare-metrics" role="list">
          {metrics.map(key => {
            const info = catalog.info(key);
            const d = cell.delta[key];
            const [abs, pct] = deltaTexts(d?.abs, d?.pct, info.unit);
            const grew = d?.abs === null || d?.abs === undefined || d.abs === 0 ? null : d.abs > 0;
            const change = grew === null ? '' : grew ? ' nbp-worse' : ' nbp-better';
            return (
              <div key={key} className="nbp-compare-metric" role="listitem" data-metric={key}>
                <span className="nbp-reading-label" title={info.title}>
                  {info.label}
                </span>
                <span className={`nbp-num${change}`} title={abs === '–' ? 'no change computed' : `B − A: ${abs}`}>
                  {pct}
                </span>
                <span className="nbp-compare-ab">
                  <NumberCell
                    shown={showCompared(cell.a[key], info.unit, missing(cell.status_a, 'A'), cell.method_a?.[key])}
                  />
                  {' → '}
                  <NumberCell
                    shown={showCompared(cell.b[key], info.unit, missing(cell.status_b, 'B'), cell.method_b?.[key])}
                  />
                </span>
              </div>
            );
          })}
        </div>
      </div>
    </DetailFrame>
  );
}
