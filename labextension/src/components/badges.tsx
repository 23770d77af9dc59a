/** The summary badges: failed budgets of a run, cells whose kernel died, regressed cells of a comparison. */
import * as React from 'react';

import { DIED_MARK } from '../died.js';
import { formatPercent } from '../format.js';

export function FailBadge(props: { failures: number }): JSX.Element {
  return props.failures > 0 ? (
    <span className="nbp-badge nbp-badge-fail" title={`${props.failures} cell(s) failed their budget`}>
      {props.failures} failed
    </span>
  ) : (
    <span className="nbp-badge nbp-badge-none" title="no budget failed">
      0 failed
    </span>
  );
}

/** The cells of a run whose kernel died, one summary per line in its tooltip; nothing when none did. */
export function DiedBadge(props: { summaries: string[] }): JSX.Element | null {
  const { summaries } = props;
  if (summaries.length === 0) {
    return null;
  }
  return (
    <span className="nbp-badge nbp-badge-fail nbp-died-count" title={summaries.join('\n')}>
      {DIED_MARK} kernel died
      {summaries.length > 1 ? ` ×${summaries.length}` : ''}
    </span>
  );
}

/** `fraction`: the share of a change that makes a regression (the catalog's). */
export function RegressionBadge(props: { regressions: number; fraction: number }): JSX.Element {
  const rule = `a regression: B above A by more than ${formatPercent(props.fraction)} and more than the metric's floor`;
  return props.regressions > 0 ? (
    <span className="nbp-badge nbp-badge-fail" title={`${props.regressions} cell(s) with ${rule}`}>
      {props.regressions} regressed
    </span>
  ) : (
    <span className="nbp-badge nbp-badge-none" title={`no cell with ${rule}`}>
      no regression
    </span>
  );
}
