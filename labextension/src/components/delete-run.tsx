/** "Delete…" for the run the cells view shows: asked first, the server's refusal shown as it says it. */
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import * as React from 'react';

import type { PanelModel } from '../model.js';
import { formatStart } from '../show.js';
import type { RunSummary } from '../types.js';
import { count } from '../views/executions.js';

export function DeleteRun(props: { model: PanelModel; run: RunSummary }): JSX.Element {
  const { model, run } = props;
  const executions = run.executions ?? run.cells;
  const ask = async (): Promise<void> => {
    const answer = await showDialog({
      title: 'Delete this run?',
      body:
        `The run of ${formatStart(run.started_at)} (${count(run.cells, 'cell')}, ` +
        `${count(executions, 'execution')}; run ${run.run_id}) and its records are deleted from the record ` +
        'store. The other runs are kept.',
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })],
      defaultButton: 0 // Enter keeps the run
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      // the server says no, with its reason, to another user's run or a running kernel's
      await model.api.deleteRun(run.run_id);
      // back to the runs, without it (a run picked or compared that is gone falls back to the newest)
      model.setView('runs');
    } catch (error) {
      await showErrorMessage('The run was not deleted', error instanceof Error ? error.message : String(error));
    }
  };
  return (
    <button
      className="nbp-button nbp-delete-run"
      title="delete this run and its records from the record store"
      onClick={() => void ask()}
    >
      Delete…
    </button>
  );
}
