/**
 * The metrics the cells view offers, chosen in the panel by their catalog
 * labels (checkboxes), written back to the `columns` setting. The narrow
 * sidebar shows one of them per row (the "Show" picker chooses which); a wider
 * one shows as many as fit.
 */
import * as React from 'react';

import type { Catalog } from '../catalog.js';

/** The keys offered: the catalog's (families stand for the members seen in the run), then any others chosen. */
export function offeredColumns(catalog: Catalog, chosen: readonly string[], seen: readonly string[]): string[] {
  const offered: string[] = [];
  for (const spec of catalog.metrics) {
    if (spec.key.includes('{i}')) {
      offered.push(...seen.filter(key => catalog.metric(key) === spec && !offered.includes(key)).sort());
    } else if (!offered.includes(spec.key)) {
      offered.push(spec.key);
    }
  }
  return [...offered, ...chosen.filter(key => !offered.includes(key))];
}

export function ColumnChooser(props: {
  catalog: Catalog;
  /** The columns shown now (the user's, else the catalog's defaults). */
  columns: readonly string[];
  /** Reading keys the shown run has, for per-device families. */
  seen: readonly string[];
  /** The user's own choice; empty: the catalog's defaults. */
  custom: boolean;
  onChange: (columns: string[]) => void;
}): JSX.Element {
  const { catalog, columns, seen, custom, onChange } = props;
  const offered = offeredColumns(catalog, columns, seen);
  const toggle = (key: string, on: boolean) =>
    onChange(offered.filter(k => (k === key ? on : columns.includes(k))));
  return (
    <details className="nbp-chooser">
      <summary className="nbp-button" title="the metrics the cells view shows">
        Metrics ({columns.length})
      </summary>
      <div className="nbp-chooser-list" role="group" aria-label="metrics shown">
        {offered.map(key => {
          const info = catalog.info(key);
          const on = columns.includes(key);
          return (
            <label key={key} className="nbp-chooser-item" title={`${info.title} (${key})`}>
              <input
                type="checkbox"
                checked={on}
                // the last one stays: a view with no metric would fall back to the defaults unasked
                disabled={on && columns.length === 1}
                onChange={e => toggle(key, e.target.checked)}
                data-metric={key}
              />
              {info.label}
            </label>
          );
        })}
        {custom && (
          <button className="nbp-button nbp-chooser-reset" onClick={() => onChange([])}>
            Back to the defaults
          </button>
        )}
      </div>
    </details>
  );
}
