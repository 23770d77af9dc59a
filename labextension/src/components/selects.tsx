/** The toolbar's selects: a metric (by its catalog label), a run (by its start, cells and executions). */
import * as React from 'react';

import type { Catalog } from '../catalog.js';
import { formatStart } from '../show.js';
import type { RunSummary } from '../types.js';

export function MetricSelect(props: {
  label: string;
  name?: string;
  value: string;
  keys: readonly string[];
  catalog: Catalog;
  onChange: (key: string) => void;
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

/**
 * A run as a picker lists it, short enough for the sidebar's width:
 * `14:03:22 · 5 cells`; the executions and which is the newest are in its tooltip.
 */
export function runChoice(run: RunSummary): string {
  return `${formatStart(run.started_at)} · ${run.cells} cell${run.cells === 1 ? '' : 's'}`;
}

/** Everything about a run the picker's tooltip says. */
export function runTitle(run: RunSummary, newest: boolean): string {
  const executions = run.executions ?? run.cells;
  return `${newest ? 'the newest run: ' : ''}${run.cells} cells, ${executions} executions (run ${run.run_id})`;
}

export function RunSelect(props: {
  runs: RunSummary[];
  value: string;
  onChange: (runId: string) => void;
  label: string;
  name: string;
}): JSX.Element {
  return (
    <label className="nbp-field nbp-field-wide">
      {props.label}
      <select
        className="nbp-select"
        name={props.name}
        value={props.value}
        onChange={e => props.onChange(e.target.value)}
      >
        {props.runs.map((run, i) => (
          <option key={run.run_id} value={run.run_id} title={runTitle(run, i === 0)}>
            {runChoice(run)}
          </option>
        ))}
      </select>
    </label>
  );
}
