/** Why the panel has nothing to show, one message per reason, each saying how to fix it. */
import * as React from 'react';

import type { EmptyState } from '../state.js';

/** A titled message in the panel's body; `kind` lands in `data-empty`. */
export function EmptyBox(props: { kind: string; title: string; children?: React.ReactNode }): JSX.Element {
  return (
    <div className="nbp-empty" data-empty={props.kind}>
      <div className="nbp-empty-title">{props.title}</div>
      {props.children !== undefined && props.children !== null && (
        <div className="nbp-empty-body">{props.children}</div>
      )}
    </div>
  );
}

export function EmptyMessage(props: { state: EmptyState }): JSX.Element {
  const { state } = props;
  switch (state.kind) {
    case 'no-notebook':
      return (
        <EmptyBox kind={state.kind} title="Open a notebook">
          The panel shows the runs of the notebook you are working in. Open or select a notebook.
        </EmptyBox>
      );
    case 'loading':
      return <EmptyBox kind={state.kind} title="Loading…" />;
    case 'no-server':
      return (
        <EmptyBox kind={state.kind} title="The nbprofile server extension is not running">
          The panel reads records through it. Install nbprofile in the environment that runs JupyterLab (
          <code>pip install nbprofile</code>), check <code>jupyter server extension list</code>, and restart
          JupyterLab. ({state.detail})
        </EmptyBox>
      );
    case 'error':
      return (
        <EmptyBox kind={state.kind} title="Cannot read the records">
          {state.message}
        </EmptyBox>
      );
    case 'not-loaded':
      return (
        <EmptyBox kind={state.kind} title="nbprofile is not loaded in this kernel">
          Cells ran without being measured. Run <code>%load_ext nbprofile</code> in the first cell, then run your
          cells again.
        </EmptyBox>
      );
    case 'no-records':
      return (
        <EmptyBox kind={state.kind} title="No records yet">
          {state.loaded ? (
            'nbprofile is loaded; the next cell you run is recorded here.'
          ) : (
            <>
              Run <code>%load_ext nbprofile</code> in this notebook, then run some cells: each one is measured and
              shows up here.
            </>
          )}
        </EmptyBox>
      );
  }
}
