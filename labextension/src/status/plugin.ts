/** The status-bar item: the running cell's elapsed time and its kernel's memory (see item.ts). */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Signal } from '@lumino/signaling';

import { NbprofileAPI } from '../api.js';
import { KernelStatusItem } from './item.js';

export const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: 'nbprofile:status',
  description: "The running cell's elapsed time and the kernel's memory, in the status bar.",
  autoStart: true,
  requires: [INotebookTracker],
  optional: [IStatusBar],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker, statusBar: IStatusBar | null) => {
    if (statusBar === null) {
      return; // a frontend without a status bar (a custom shell)
    }
    const item = new KernelStatusItem(new NbprofileAPI());
    const activeChanged = new Signal<KernelStatusItem, void>(item);
    let context = tracker.currentWidget?.sessionContext ?? null;
    const follow = () => item.follow(context?.session?.kernel ?? null);
    tracker.currentChanged.connect(() => {
      context?.kernelChanged.disconnect(follow);
      context = tracker.currentWidget?.sessionContext ?? null;
      context?.kernelChanged.connect(follow);
      follow();
      activeChanged.emit();
    });
    context?.kernelChanged.connect(follow);
    follow();
    statusBar.registerStatusItem('nbprofile:status', {
      item,
      align: 'left',
      rank: 5,
      isActive: () => tracker.currentWidget !== null,
      activeStateChanged: activeChanged
    });
  }
};
