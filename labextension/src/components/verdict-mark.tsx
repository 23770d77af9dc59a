/**
 * A row's budget verdict as one mark (✓ passed, ✗ failed, ? not measurable),
 * coloured, its tooltip listing every limit as the chips word it: at the
 * sidebar's width a row has room for a mark, not for chips; the cell's detail
 * shows the chips.
 */
import * as React from 'react';

import type { Catalog } from '../catalog.js';
import type { Verdict } from '../types.js';
import { showLimit } from '../verdict.js';

const MARKS = { pass: '✓', fail: '✗', unmeasurable: '?' } as const;
const WORDS = { pass: 'budget passed', fail: 'budget failed', unmeasurable: 'budget not measurable here' } as const;

export function VerdictMark(props: { verdict: Verdict | null; catalog: Catalog }): JSX.Element {
  const { verdict, catalog } = props;
  if (verdict === null || verdict.items.length === 0) {
    return <span className="nbp-mark nbp-mark-none" />; // keeps the row's grid
  }
  const lines = verdict.items.map(item => showLimit(item, catalog).text);
  const name = verdict.name ? ` (${verdict.name})` : '';
  return (
    <span
      className={`nbp-mark nbp-mark-${verdict.status}`}
      role="img"
      aria-label={WORDS[verdict.status]}
      title={`${WORDS[verdict.status]}${name}:\n${lines.join('\n')}`}
    >
      {MARKS[verdict.status]}
    </span>
  );
}
