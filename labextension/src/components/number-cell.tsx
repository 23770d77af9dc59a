/**
 * A table cell holding one number: right-aligned, classed by how it was
 * obtained, its tooltip saying so; with `bar` (0–1), a bar behind it, its share
 * of the largest value shown (the narrow sidebar's one metric per row).
 */
import * as React from 'react';

import type { Shown } from '../show.js';

export function NumberCell(props: { shown: Shown; bar?: number | null; className?: string }): JSX.Element {
  const { shown, bar } = props;
  const extra = props.className ? ` ${props.className}` : '';
  if (bar === undefined) {
    return (
      <span className={`nbp-num nbp-method-${shown.method}${extra}`} title={shown.title}>
        {shown.text}
      </span>
    );
  }
  const fill = bar === null || !Number.isFinite(bar) ? 0 : Math.min(Math.max(bar, 0), 1);
  return (
    <span
      className={`nbp-num nbp-barred nbp-method-${shown.method}${extra}`}
      title={shown.title}
      style={{ ['--nbp-bar' as string]: `${(fill * 100).toFixed(1)}%` }}
    >
      {shown.text}
    </span>
  );
}
