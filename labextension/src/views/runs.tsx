/** The runs view: the notebook's runs, newest first; a click opens one in the cells view. */
import * as React from 'react';

import { FailBadge } from '../components/badges.js';
import { UNAVAILABLE, formatDuration } from '../format.js';
import type { PanelModel } from '../model.js';
import { formatStart } from '../show.js';
import type { RunSummary } from '../types.js';

export function RunsView(props: { model: PanelModel; runs: RunSummary[]; kernelId: string | null }): JSX.Element {
  const { model, runs, kernelId } = props;
  return (
    <div className="nbp-runs">
      {runs.length >= 2 && (
        <div className="nbp-toolbar">
          <button className="nbp-button" onClick={() => model.setCompare(runs[1].run_id, runs[0].run_id)}>
            Compare the last two runs
          </button>
        </div>
      )}
      <div className="nbp-table" role="table">
        <div className="nbp-row nbp-row-head nbp-runs-row" role="row">
          <span role="columnheader">Started</span>
          <span role="columnheader" className="nbp-num">
            Cells
          </span>
          <span role="columnheader" className="nbp-num" title="sum of the cells' wall time">
            Total
          </span>
          <span role="columnheader">Budgets</span>
        </div>
        {runs.map(run => (
          <RunRow key={run.run_id} run={run} thisKernel={kernelId !== null && run.kernel_id === kernelId} model={model} />
        ))}
      </div>
    </div>
  );
}

function RunRow(props: { run: RunSummary; thisKernel: boolean; model: PanelModel }): JSX.Element {
  const { run, model } = props;
  const kernel = run.kernel_id ? `, kernel ${run.kernel_id}` : '';
  return (
    <div
      className="nbp-row nbp-runs-row nbp-clickable"
      role="row"
      tabIndex={0}
      data-run={run.run_id}
      title={`run ${run.run_id} on ${run.host}, nbprofile ${run.nbprofile}${kernel}`}
      onClick={() => model.showRun(run.run_id)}
      onKeyDown={e => e.key === 'Enter' && model.showRun(run.run_id)}
    >
      <span className="nbp-run-start">
        {formatStart(run.started_at)}
        {props.thisKernel && <span className="nbp-tag">this kernel</span>}
      </span>
      <span className="nbp-num">{run.cells}</span>
      <span className="nbp-num">{run.wall_s === null ? UNAVAILABLE : formatDuration(run.wall_s)}</span>
      <span>
        <FailBadge failures={run.budget_failures} />
      </span>
    </div>
  );
}
