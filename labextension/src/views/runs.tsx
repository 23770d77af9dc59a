/**
 * The runs view: the notebook's runs, newest first; a click opens one in the
 * cells view. A run is a kernel session: it says how many cells ran and how
 * many executions that took (Run All twice: each cell twice), and its total
 * adds up all executions, what the session really spent. At the sidebar's
 * opening width a run takes two lines; a wider sidebar gives it one
 * (style/runs.css). On a team store, where others' runs of the notebook are
 * listed too, each run names its user and a choice lists only the user's own.
 */
import * as React from 'react';

import { FailBadge } from '../components/badges.js';
import { UNAVAILABLE, formatDuration } from '../format.js';
import type { PanelModel } from '../model.js';
import { formatStart } from '../show.js';
import type { RunSummary } from '../types.js';
import { ALL_TOTAL, ALL_TOTAL_TITLE, count } from './executions.js';

/** The users of these runs, when more than one ran them (a team store); else empty. */
export function usersOf(runs: RunSummary[]): string[] {
  const users = new Set(runs.map(r => r.user).filter((u): u is string => !!u));
  return users.size > 1 ? [...users].sort() : [];
}

export function RunsView(props: { model: PanelModel; runs: RunSummary[]; kernelId: string | null }): JSX.Element {
  const { model, runs, kernelId } = props;
  const users = usersOf(runs);
  // the choice is offered once there is a choice: other people's runs, or "mine" picked earlier
  const scoped = users.length > 0 || model.scope === 'mine';
  return (
    <div className="nbp-runs">
      {(runs.length >= 2 || scoped) && (
        <div className="nbp-toolbar">
          {runs.length >= 2 && (
            <button className="nbp-button" onClick={() => model.setCompare(runs[1].run_id, runs[0].run_id)}>
              Compare the last two runs
            </button>
          )}
          {scoped && (
            <label className="nbp-scope" title="runs of everyone who uses this store, or your own">
              Runs of{' '}
              <select
                className="nbp-select"
                value={model.scope}
                onChange={e => model.setScope(e.currentTarget.value === 'mine' ? 'mine' : 'team')}
              >
                <option value="team">everyone</option>
                <option value="mine">me</option>
              </select>
            </label>
          )}
        </div>
      )}
      <div className="nbp-table" role="table">
        <div className="nbp-row nbp-row-head nbp-runs-row" role="row">
          <span role="columnheader" className="nbp-run-start">
            Started
          </span>
          <span role="columnheader" className="nbp-run-counts" title="distinct cells, and executions (re-runs too)">
            Cells · executions
          </span>
          <span role="columnheader" className="nbp-num nbp-run-total" title={ALL_TOTAL_TITLE}>
            Time, {ALL_TOTAL}
          </span>
          <span role="columnheader" className="nbp-run-budgets">
            Budgets
          </span>
        </div>
        {runs.map(run => (
          <RunRow
            key={run.run_id}
            run={run}
            thisKernel={kernelId !== null && run.kernel_id === kernelId}
            showUser={users.length > 0}
            model={model}
          />
        ))}
      </div>
    </div>
  );
}

function RunRow(props: { run: RunSummary; thisKernel: boolean; showUser: boolean; model: PanelModel }): JSX.Element {
  const { run, model } = props;
  const kernel = run.kernel_id ? `, kernel ${run.kernel_id}` : '';
  const executions = run.executions ?? run.cells;
  return (
    <div
      className="nbp-row nbp-runs-row nbp-clickable"
      role="row"
      tabIndex={0}
      data-run={run.run_id}
      data-cells={run.cells}
      data-executions={executions}
      data-user={run.user ?? undefined}
      title={`run ${run.run_id} by ${run.user ?? 'an unknown user'} on ${run.host}, nbprofile ${run.nbprofile}${kernel}`}
      onClick={() => model.showRun(run.run_id)}
      onKeyDown={e => e.key === 'Enter' && model.showRun(run.run_id)}
    >
      <span className="nbp-run-start">
        {formatStart(run.started_at)}
        {props.thisKernel && <span className="nbp-tag">this kernel</span>}
        {props.showUser && run.user && (
          <span className="nbp-tag nbp-user" title={`run by ${run.user} on ${run.host}`}>
            {run.user}
          </span>
        )}
      </span>
      <span className="nbp-run-counts">
        {count(run.cells, 'cell')} · {count(executions, 'execution')}
      </span>
      <span className="nbp-num nbp-run-total" data-total="all" title={`${ALL_TOTAL_TITLE} (${executions})`}>
        {run.wall_s === null ? UNAVAILABLE : formatDuration(run.wall_s)}
      </span>
      <span className="nbp-run-budgets">
        <FailBadge failures={run.budget_failures} />
      </span>
    </div>
  );
}
