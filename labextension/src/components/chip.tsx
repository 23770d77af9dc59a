/** A budget limit's chip in a cell's detail: ✓ / ✗ / ?, the key, the value against the limit. */
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
