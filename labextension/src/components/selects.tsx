/** The toolbar's selects: a metric (by its catalog label), a run (by its start and size). */
import * as React from 'react';

import type { Catalog } from '../catalog.js';
import { formatStart } from '../show.js';
import type { RunSummary } from '../types.js';

export function MetricSelect(props: {
  label: string;
  value: string;
  keys: readonly string[];
  catalog: Catalog;
  onChange: (key: string) => void;
}): JSX.Element {
  return (
    <label className="nbp-field">
      {props.label}
      <select className="nbp-select" value={props.value} onChange={e => props.onChange(e.target.value)}>
        {props.keys.map(key => {
          const info = props.catalog.info(key);
          return (
            <option key={key} value={key} title={info.title}>
              {info.label}
            </option>
          );
        })}
      </select>
    </label>
  );
}

export function RunSelect(props: {
  runs: RunSummary[];
  value: string;
  onChange: (runId: string) => void;
  label: string;
  name: string;
}): JSX.Element {
  return (
    <label className="nbp-field">
      {props.label}
      <select
        className="nbp-select"
        name={props.name}
        value={props.value}
        onChange={e => props.onChange(e.target.value)}
      >
        {props.runs.map((run, i) => (
          <option key={run.run_id} value={run.run_id}>
            {i === 0 ? 'newest: ' : ''}
            {formatStart(run.started_at)} · {run.cells} cells
          </option>
        ))}
      </select>
    </label>
  );
}
