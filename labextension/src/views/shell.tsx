/**
 * The panel's frame: its title (the notebook followed), the tabs, the banners,
 * and the open view, or the message saying why there is nothing to show; under
 * it, the selected row's detail (views/row-detail.tsx).
 *
 * Everything shown from the server goes through React text nodes or
 * attributes (escaped); nothing is set as HTML.
 */
import * as React from 'react';

import { EmptyMessage } from '../components/empty-state.js';
import { Tabs } from '../components/tabs.js';
import type { PanelModel } from '../model.js';
import type { CellTarget, Reveal } from '../reveal.js';
import type { RunningCell } from '../running.js';
import { CellsView } from './cells.js';
import { CompareView } from './compare.js';
import { RowDetail } from './row-detail.js';
import { RunsView } from './runs.js';

export function PanelView(props: { model: PanelModel; reveal: Reveal; running?: RunningCell | null }): JSX.Element {
  const { model, reveal, running } = props;
  const [notice, setNotice] = React.useState<string | null>(null);
  const body = React.useRef<HTMLDivElement>(null);
  const state = model.state;
  const open = React.useCallback(
    async (key: string, target: CellTarget) => {
      model.selectRow(key);
      const found = await reveal(target);
      setNotice(found ? null : 'That cell is no longer in this notebook (deleted, or its code was edited).');
    },
    [model, reveal]
  );
  const notebook = state.kind === 'no-notebook' || state.kind === 'no-server' ? null : state.notebook;
  return (
    <div className="nbp-root">
      <header className="nbp-header">
        <div className="nbp-title">
          <span className="nbp-title-name">nbprofile</span>
          {notebook !== null && (
            <span className="nbp-title-notebook" title={notebook}>
              {notebook.split('/').pop()}
            </span>
          )}
        </div>
        {state.kind === 'ready' && <Tabs view={model.view} runs={state.runs.length} onChange={v => model.setView(v)} />}
      </header>
      {state.kind === 'ready' && state.notLoadedInKernel && (
        <div className="nbp-banner" role="status">
          nbprofile is not loaded in this kernel: run <code>%load_ext nbprofile</code> to record new runs. Showing
          earlier runs.
        </div>
      )}
      {running && (
        <div className="nbp-running" role="status" data-cell-id={running.cellId} title={running.text}>
          <span className="nbp-running-source">▶ {running.source}</span>
          <span className="nbp-running-text">{running.text}</span>
        </div>
      )}
      {notice !== null && (
        <div className="nbp-banner" role="status">
          {notice}
        </div>
      )}
      <div className="nbp-body" ref={body}>
        {state.kind !== 'ready' ? (
          <EmptyMessage state={state} />
        ) : model.view === 'runs' ? (
          <RunsView model={model} runs={state.runs} kernelId={state.kernelId} />
        ) : model.view === 'cells' ? (
          <CellsView model={model} catalog={state.catalog} open={open} />
        ) : (
          <CompareView model={model} catalog={state.catalog} open={open} />
        )}
      </div>
      {state.kind === 'ready' && <RowDetail model={model} catalog={state.catalog} body={body} />}
    </div>
  );
}
