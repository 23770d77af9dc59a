/** The panel's tabs: runs (with their count), cells, compare. */
import * as React from 'react';

import type { View } from '../state.js';

export function Tabs(props: { view: View; runs: number; onChange: (view: View) => void }): JSX.Element {
  const tabs: [View, string][] = [
    ['runs', `Runs (${props.runs})`],
    ['cells', 'Cells'],
    ['compare', 'Compare']
  ];
  return (
    <div className="nbp-tabs" role="tablist">
      {tabs.map(([view, label]) => (
        <button
          key={view}
          role="tab"
          aria-selected={props.view === view}
          className={`nbp-tab${props.view === view ? ' nbp-tab-active' : ''}`}
          data-view={view}
          onClick={() => props.onChange(view)}
        >
          {label}
        </button>
      ))}
    </div>
  );
}
