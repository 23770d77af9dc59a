/** The Δ and % cells of a compared number: B − A, red when it grew, green when it shrank. */
import * as React from 'react';

import { formatDelta, formatPercent } from '../format.js';

type Maybe = number | null | undefined;

/** The two texts: `+12.0 ms`, `+4.00%`; `–` where there is no change to show. */
export function deltaTexts(value: Maybe, pct: Maybe, unit: string): [string, string] {
  return [
    value === null || value === undefined ? '–' : formatDelta(value, unit),
    pct === null || pct === undefined ? '–' : formatPercent(pct, { signed: true })
  ];
}

/** Both cells, or (`only="pct"`, a narrow row) the % alone, with Δ in its tooltip. */
export function DeltaCells(props: {
  value: Maybe;
  pct: Maybe;
  unit: string;
  only?: 'pct';
  className?: string;
}): JSX.Element {
  const { value, pct, unit, only } = props;
  const extra = props.className ? ` ${props.className}` : '';
  const [abs, rel] = deltaTexts(value, pct, unit);
  const cls = value === null || value === undefined || value === 0 ? '' : value > 0 ? ' nbp-worse' : ' nbp-better';
  if (only === 'pct') {
    return (
      <span className={`nbp-num${cls}${extra}`} title={abs === '–' ? 'no change computed' : `B − A: ${abs}`}>
        {rel}
      </span>
    );
  }
  return (
    <>
      <span className={`nbp-num${cls}`}>{abs}</span>
      <span className={`nbp-num${cls}`}>{rel}</span>
    </>
  );
}
