/** A table cell holding one number: right-aligned, classed by how it was obtained, its tooltip saying so. */
import * as React from 'react';

import type { Shown } from '../show.js';

export function NumberCell(props: { shown: Shown }): JSX.Element {
  const { shown } = props;
  return (
    <span className={`nbp-num nbp-method-${shown.method}`} title={shown.title}>
      {shown.text}
    </span>
  );
}
