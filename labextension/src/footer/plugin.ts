/**
 * Footers drawn by the page: listens on nbprofile's channel of every notebook's (and
 * console's) kernel and draws each footer under its cell (see channel.ts, drawer.ts).
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { ISessionContext } from '@jupyterlab/apputils';
import { IConsoleTracker } from '@jupyterlab/console';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { IRunningCells, RunningCells } from '../running.js';
import { KernelChannels } from './channel.js';
import { FooterDrawer } from './drawer.js';

const FOOTER_PLUGIN_ID = 'nbprofile:footer';

export const footerPlugin: JupyterFrontEndPlugin<RunningCells> = {
  id: FOOTER_PLUGIN_ID,
  description: "Draws nbprofile's footer under each measured cell, without saving it into the notebook.",
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry, IConsoleTracker],
  provides: IRunningCells,
  activate: (
    _app: JupyterFrontEnd,
    tracker: INotebookTracker,
    settingRegistry: ISettingRegistry | null,
    consoles: IConsoleTracker | null
  ): RunningCells => {
    const drawer = new FooterDrawer();
    const running = new RunningCells();
    const channels = new KernelChannels((kernel, message) => {
      tracker.forEach(panel => {
        if (panel.sessionContext.session?.kernel !== kernel) {
          return; // another notebook, or another connection to a shared kernel (it draws its own)
        }
        const cell = panel.content.widgets.find(c => c.model.id === message.cell_id);
        if (cell === undefined) {
          return;
        }
        if ('bundle' in message) {
          running.clear(panel.context.path);
          drawer.draw(panel.content.rendermime, cell, message).catch((reason: unknown) => {
            console.error('nbprofile: could not draw a footer', reason);
          });
        } else {
          drawer.showLive(cell, message);
          const source = cell.model.sharedModel.getSource().trim().split('\n')[0] ?? '';
          running.set({ notebook: panel.context.path, cellId: message.cell_id, source, text: message.text });
        }
      });
    });
    // every connection of ours registers the target (one without it would close the kernel's comm)
    const watch = (context: ISessionContext) => {
      const attach = () => channels.attach(context.session?.kernel);
      context.kernelChanged.connect(attach);
      void context.ready.then(attach);
      attach();
    };
    tracker.widgetAdded.connect((_, panel) => watch(panel.sessionContext));
    tracker.forEach(panel => watch(panel.sessionContext));
    consoles?.widgetAdded.connect((_, panel) => watch(panel.sessionContext));
    consoles?.forEach(panel => watch(panel.sessionContext));
    NotebookActions.executionScheduled.connect((_, { notebook, cell }) => {
      drawer.clear(cell);
      drawer.adopt(notebook.rendermime, cell);
    });
    // a cell that ends without a footer (hidden, or a fast cell) is no longer running either
    NotebookActions.executed.connect((_, { notebook }) => {
      const panel = tracker.find(p => p.content === notebook);
      if (panel) {
        running.clear(panel.context.path);
      }
    });

    if (settingRegistry) {
      settingRegistry
        .load(FOOTER_PLUGIN_ID)
        .then(settings => {
          const read = () => {
            drawer.options = { keepSummaryInMetadata: settings.get('keepSummaryInMetadata').composite === true };
          };
          read();
          settings.changed.connect(read);
        })
        .catch((reason: unknown) => {
          console.error('nbprofile: cannot load the footer settings; using the defaults.', reason);
        });
    }
    return running;
  }
};
