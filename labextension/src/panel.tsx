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
import { PanelView } from './views/shell.js';

export { PERF } from './perf.js';
export type { CellTarget, Reveal } from './reveal.js';

export class NbprofilePanel extends ReactWidget {
  constructor(
    readonly model: PanelModel,
    private readonly _reveal: Reveal
  ) {
    super();
    this.addClass('nbp-panel');
    model.changed.connect(() => this.update(), this);
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
    return <PanelView model={this.model} reveal={this._reveal} />;
  }
}
