/**
 * Draws a cell's footer under its outputs, as a widget of the cell (not an output): the
 * notebook's outputs, and so the saved .ipynb, stay exactly what the user's code made.
 * A footer goes when its cell runs again or its outputs are cleared.
 */
import type { Cell, ICodeCellModel } from '@jupyterlab/cells';
import type { IOutputAreaModel } from '@jupyterlab/outputarea';
import { IOutputModel, IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { Panel, PanelLayout } from '@lumino/widgets';

import { FooterMessage, LiveMessage, footerOfOutput } from './channel.js';

/** The cell metadata key the optional summary is kept under. */
export const METADATA_KEY = 'nbprofile';

export interface FooterOptions {
  /** keep the compact summary in the cell's metadata, so numbers travel with the file */
  keepSummaryInMetadata: boolean;
}

class CellFooter extends Panel {
  constructor(readonly footer: FooterMessage | null) {
    super();
    this.addClass('nbp-cell-footer');
    if (footer !== null) {
      this.node.dataset.run = footer.run_id;
      this.node.dataset.seq = String(footer.seq);
    }
  }
}

/** The running cell's line: text only (the kernel's words), replaced by the footer. */
class LiveLine extends CellFooter {
  constructor() {
    super(null);
    this.addClass('nbp-cell-live');
    this.node.setAttribute('role', 'status');
  }

  setText(text: string): void {
    this.node.textContent = text;
  }
}

export class FooterDrawer {
  private readonly drawn = new WeakMap<Cell, { widget: CellFooter; forget: () => void }>();
  options: FooterOptions = { keepSummaryInMetadata: false };

  private readonly adopting = new WeakSet<Cell>();

  /**
   * Move the footer outputs of ``cell`` out of its outputs and draw them: those a kernel sends
   * before this page's hello reached it (the cells "Run All" queued behind `%load_ext`).
   */
  adopt(rendermime: IRenderMimeRegistry, cell: Cell): void {
    if (cell.model.type !== 'code' || this.adopting.has(cell)) {
      return;
    }
    this.adopting.add(cell);
    const outputs = (cell.model as ICodeCellModel).outputs;
    outputs.changed.connect((_, change) => {
      // 'set': the footer replacing the live numbers' output (update_display_data)
      if (change.type !== 'add' && change.type !== 'set') {
        return;
      }
      for (const output of change.newValues) {
        const footer = footerOfOutput(cell.model.id, output.toJSON());
        if (footer !== null) {
          // after the change is done: the list must not change under the signal that reports it
          void Promise.resolve().then(() => {
            removeOutput(outputs, output);
            return this.draw(rendermime, cell, footer);
          });
        }
      }
    });
  }

  /** The running cell's numbers, where its footer will be (each update replaces the last). */
  showLive(cell: Cell, live: LiveMessage): void {
    const drawn = this.drawn.get(cell);
    if (drawn !== undefined && drawn.widget instanceof LiveLine) {
      drawn.widget.setText(live.text);
      return;
    }
    this.clear(cell);
    const line = new LiveLine();
    line.setText(live.text);
    this.insert(cell, line);
  }

  async draw(rendermime: IRenderMimeRegistry, cell: Cell, footer: FooterMessage): Promise<void> {
    this.clear(cell);
    const mime = rendermime.preferredMimeType(footer.bundle, 'any');
    if (mime === undefined) {
      return;
    }
    const widget = new CellFooter(footer);
    const renderer = rendermime.createRenderer(mime);
    renderer.addClass('jp-OutputArea-output');
    widget.addWidget(renderer);
    // the kernel's own footer HTML, as the display_data output it replaces was shown (trusted)
    await renderer.renderModel(new MimeModel({ data: footer.bundle, trusted: true }));
    if (cell.isDisposed) {
      widget.dispose();
      return;
    }
    this.clear(cell); // the live line, which came while the footer rendered
    this.insert(cell, widget);
    if (this.options.keepSummaryInMetadata) {
      cell.model.setMetadata(METADATA_KEY, { ...footer.summary });
    }
  }

  private insert(cell: Cell, widget: CellFooter): void {
    const layout = cell.layout as PanelLayout;
    // above the cell's own footer (the last widget), below its outputs
    layout.insertWidget(Math.max(0, layout.widgets.length - 1), widget);
    let forget = () => undefined as void;
    if (cell.model.type === 'code') {
      const outputs = (cell.model as ICodeCellModel).outputs;
      const cleared = () => {
        if (outputs.length === 0) {
          this.clear(cell);
        }
      };
      outputs.changed.connect(cleared);
      forget = () => outputs.changed.disconnect(cleared);
    }
    this.drawn.set(cell, { widget, forget });
  }

  /** The cell runs again, or its outputs were cleared: its footer goes. */
  clear(cell: Cell): void {
    const drawn = this.drawn.get(cell);
    if (drawn !== undefined) {
      drawn.forget();
      drawn.widget.dispose();
      this.drawn.delete(cell);
    }
  }
}

function removeOutput(outputs: IOutputAreaModel, output: IOutputModel): void {
  for (let i = outputs.length - 1; i >= 0; i--) {
    if (outputs.get(i) === output) {
      // not outputs.remove(i): JupyterLab 4.6 passes the wrong end to the shared model for an
      // index above 0, so the output would stay in the saved file; the rest are set again
      const kept = outputs.toJSON().filter((_, j) => j !== i);
      outputs.fromJSON(kept);
      return;
    }
  }
}
