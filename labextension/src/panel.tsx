/**
 * The sidebar panel as a Lumino widget: it renders the views (views/shell.tsx)
 * from the model, re-renders when the model changes, and tells the model when
 * it is shown or hidden (the poll stands by while it is hidden).
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import type { PanelModel } from './model.js';
import { markDataArrived } from './perf.js';
import type { Reveal } from './reveal.js';
import type { RunningCells } from './running.js';
import { PanelView } from './views/shell.js';

export { PERF } from './perf.js';
export type { CellTarget, Reveal } from './reveal.js';

export class NbprofilePanel extends ReactWidget {
  constructor(
    readonly model: PanelModel,
    private readonly _reveal: Reveal,
    private readonly _running: RunningCells | null = null
  ) {
    super();
    this.addClass('nbp-panel');
    model.changed.connect(() => this.update(), this);
    _running?.changed.connect(() => this.isVisible && this.update(), this);
    model.detailArrived.connect(markDataArrived, this);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.dispose();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.setVisible(false);
  }

  protected render(): JSX.Element {
    const state = this.model.state;
    const notebook = state.kind === 'no-notebook' || state.kind === 'no-server' ? null : state.notebook;
    return <PanelView model={this.model} reveal={this._reveal} running={this._running?.of(notebook) ?? null} />;
  }
}
