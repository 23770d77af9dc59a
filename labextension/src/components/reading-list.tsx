/**
 * Every reading of a record, in the catalog's order: its label, its value, and
 * how it was obtained (measured, sampled or estimated, from what; or
 * unavailable, and why), in words rather than only in a tooltip.
 */
import * as React from 'react';

import type { Catalog } from '../catalog.js';
import { UNAVAILABLE } from '../format.js';
import { showReading } from '../show.js';
import type { Reading } from '../types.js';

/** A record's reading keys in catalog order (a family member at its family's place), unknown keys last. */
export function catalogOrder(keys: readonly string[], catalog: Catalog): string[] {
  const order = new Map(catalog.metrics.map((spec, i) => [spec.key, i]));
  const rank = (key: string) => {
    const spec = catalog.metric(key);
    return spec === null ? Number.MAX_SAFE_INTEGER : order.get(spec.key) ?? Number.MAX_SAFE_INTEGER;
  };
  return [...keys].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export function ReadingList(props: {
  readings: Record<string, Reading>;
  catalog: Catalog;
  /** Keys the record lacks that should say why (a died cell: the kernel died before they were measured). */
  absent?: { keys: readonly string[]; why: string };
}): JSX.Element {
  const { readings, catalog, absent } = props;
  const keys = catalogOrder(Object.keys(readings), catalog);
  const lacking = (absent?.keys ?? []).filter(key => readings[key] === undefined);
  return (
    <div className="nbp-readings" role="list" aria-label="readings">
      {keys.map(key => {
        const info = catalog.info(key, readings[key].unit);
        const shown = showReading(readings[key], info.unit);
        return (
          <div key={key} className="nbp-reading" role="listitem" data-reading={key}>
            <span className="nbp-reading-label" title={`${info.title} (${key})`}>
              {info.label}
            </span>
            <span className={`nbp-num nbp-method-${shown.method}`}>{shown.text}</span>
            <span className={`nbp-reading-how nbp-how-${shown.method}`}>{shown.title}</span>
          </div>
        );
      })}
      {lacking.map(key => (
        <div key={key} className="nbp-reading" role="listitem" data-reading={key}>
          <span className="nbp-reading-label" title={`${catalog.info(key).title} (${key})`}>
            {catalog.info(key).label}
          </span>
          <span className="nbp-num nbp-method-unavailable">{UNAVAILABLE}</span>
          <span className="nbp-reading-how nbp-how-unavailable">{absent?.why}</span>
        </div>
      ))}
    </div>
  );
}
