/**
 * nbprofile's JupyterLab extension: a left-sidebar panel that follows the
 * current notebook and shows its measured runs (see panel.tsx, model.ts, views/).
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { ICellModel, ICodeCellModel } from '@jupyterlab/cells';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';
import { Debouncer } from '@lumino/polling';

import { footerPlugin } from './footer/plugin.js';
import { PanelModel } from './model.js';
import { IRunningCells, RunningCells } from './running.js';
import { CellTarget, NbprofilePanel } from './panel.js';
import { DEFAULT_SETTINGS, NotebookRef, PanelSettings } from './state.js';
import { statusPlugin } from './status/plugin.js';

const PLUGIN_ID = 'nbprofile:plugin';
const PANEL_ID = 'nbprofile-panel';
const LOAD_EXT = /^\s*%(re)?load_ext\s+nbprofile\b/m;

export const gaugeIcon = new LabIcon({
  name: 'nbprofile:gauge',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M12 4a10 10 0 0 0-8.66 15h17.32A10 10 0 0 0 12 4zm0 2a8 8 0 0 1 ' +
    '7.48 11H4.52A8 8 0 0 1 12 6zm4.24 2.34-4.95 4.95a1.5 1.5 0 1 0 1.42 1.42l4.95-4.95zM6 13H4v1.5h2zm14 ' +
    '0h-2v1.5h2zM11.25 7v2h1.5V7z"/></svg>'
});

function describeNotebook(panel: NotebookPanel | null): NotebookRef | null {
  if (panel === null || panel.isDisposed) {
    return null;
  }
  let ranCells = false;
  let ranLoadExt = false;
  const cells = panel.content.model?.cells;
  if (cells) {
    for (let i = 0; i < cells.length; i++) {
      const cell: ICellModel = cells.get(i);
      if (cell.type !== 'code' || (cell as ICodeCellModel).executionCount === null) {
        continue;
      }
      ranCells = true;
      if (!ranLoadExt && LOAD_EXT.test(cell.sharedModel.getSource())) {
        ranLoadExt = true;
      }
    }
  }
  return {
    path: panel.context.path,
    kernelId: panel.sessionContext.session?.kernel?.id ?? null,
    ranCells,
    ranLoadExt
  };
}

/** Select a record's cell: by its nbformat id, else by its code. */
async function revealCell(app: JupyterFrontEnd, panel: NotebookPanel | null, target: CellTarget): Promise<boolean> {
  if (panel === null) {
    return false;
  }
  const notebook = panel.content;
  const cells = notebook.widgets;
  let index = target.cellId === null ? -1 : cells.findIndex(cell => cell.model.id === target.cellId);
  if (index < 0) {
    const source = target.source.trim();
    index = cells.findIndex(cell => cell.model.type === 'code' && cell.model.sharedModel.getSource().trim() === source);
  }
  if (index < 0) {
    return false;
  }
  app.shell.activateById(panel.id);
  notebook.mode = 'command';
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  await notebook.scrollToItem(index, 'center');
  notebook.activeCell?.node.focus();
  return true;
}

/** The user's settings; `columns` empty (the default) means the catalog's columns. */
function readSettings(settings: ISettingRegistry.ISettings): PanelSettings {
  const interval = Number(settings.get('pollInterval').composite);
  const raw = settings.get('columns').composite;
  const keys = Array.isArray(raw) ? raw.filter((key): key is string => typeof key === 'string' && key !== '') : [];
  return {
    pollInterval: Number.isFinite(interval) && interval > 0 ? interval : DEFAULT_SETTINGS.pollInterval,
    columns: [...new Set(keys)]
  };
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The nbprofile panel: the runs of the current notebook, cell by cell, against their budgets.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry, ILayoutRestorer, IRunningCells],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    settingRegistry: ISettingRegistry | null,
    restorer: ILayoutRestorer | null,
    running: RunningCells | null
  ) => {
    const model = new PanelModel(() => describeNotebook(tracker.currentWidget));
    const panel = new NbprofilePanel(model, target => revealCell(app, tracker.currentWidget, target), running);
    panel.id = PANEL_ID;
    panel.title.icon = gaugeIcon;
    panel.title.caption = 'nbprofile';
    panel.title.label = '';
    panel.node.setAttribute('aria-label', 'nbprofile');
    app.shell.add(panel, 'left', { rank: 1000 });
    restorer?.add(panel, PANEL_ID);

    // Follow the current notebook, its path (renames) and its kernel (restarts, changes).
    let followed: NotebookPanel | null = null;
    const changed = () => model.notebookChanged();
    const follow = () => {
      if (followed !== null && !followed.isDisposed) {
        followed.context.pathChanged.disconnect(changed);
        followed.sessionContext.kernelChanged.disconnect(changed);
      }
      followed = tracker.currentWidget;
      if (followed !== null) {
        followed.context.pathChanged.connect(changed);
        followed.sessionContext.kernelChanged.connect(changed);
        void followed.sessionContext.ready.then(changed);
      }
      changed();
    };
    tracker.currentChanged.connect(follow);
    follow();

    // A cell finished: its record is already in the store (written in post_run_cell).
    const soon = new Debouncer(() => model.refresh(), 200);
    NotebookActions.executed.connect((_, { notebook }) => {
      if (notebook === tracker.currentWidget?.content) {
        void soon.invoke();
      }
    });

    app.commands.addCommand('nbprofile:show-panel', {
      label: 'Show the nbprofile panel',
      execute: () => app.shell.activateById(PANEL_ID)
    });

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          model.setSettings(readSettings(settings));
          settings.changed.connect(() => model.setSettings(readSettings(settings)));
          // The panel's metric chooser writes the user's choice here (the Settings editor shows it too).
          model.saveColumns = columns => settings.set('columns', columns);
        })
        .catch((reason: unknown) => {
          console.error('nbprofile: cannot load the panel settings; using the defaults.', reason);
        });
    }
  }
};

export default [plugin, footerPlugin, statusPlugin];
