/** A budget limit's chip in a cell's row: ✓ / ✗ / ?, the key, the value against the limit. */
import * as React from 'react';

import type { Catalog } from '../catalog.js';
import type { LimitVerdict } from '../types.js';
import { showLimit } from '../verdict.js';

export function VerdictChip(props: { item: LimitVerdict; catalog: Catalog }): JSX.Element {
  const { item } = props;
  const shown = showLimit(item, props.catalog);
  return (
    <span className={`nbp-chip nbp-chip-${item.status}`} title={shown.title}>
      {shown.text}
    </span>
  );
}

export function VerdictChips(props: { items: LimitVerdict[]; catalog: Catalog }): JSX.Element {
  return (
    <span className="nbp-chips">
      {props.items.map((item, i) => (
        <VerdictChip key={i} item={item} catalog={props.catalog} />
      ))}
    </span>
  );
}
