/**
 * The cells running now, by notebook, with their live numbers (from nbprofile's channel,
 * footer/plugin.ts): the panel shows the running cell of the notebook it follows.
 */
import { Token } from '@lumino/coreutils';
import { ISignal, Signal } from '@lumino/signaling';

export interface RunningCell {
  /** the notebook's path, as JupyterLab names it (`context.path`) */
  notebook: string;
  cellId: string;
  /** the first line of the cell's code */
  source: string;
  /** the kernel's words: `running 12.3 s · CPU 11.9 s (98%) · RAM 1.20 GiB …` */
  text: string;
}

export class RunningCells {
  private readonly _byNotebook = new Map<string, RunningCell>();
  private readonly _changed = new Signal<this, void>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  of(notebook: string | null): RunningCell | null {
    return notebook === null ? null : this._byNotebook.get(notebook) ?? null;
  }

  set(cell: RunningCell): void {
    this._byNotebook.set(cell.notebook, cell);
    this._changed.emit();
  }

  /** The notebook's cell ended (its footer came, or it finished without one). */
  clear(notebook: string): void {
    if (this._byNotebook.delete(notebook)) {
      this._changed.emit();
    }
  }
}

export const IRunningCells = new Token<RunningCells>(
  'nbprofile:running-cells',
  "The cells running now with their live numbers, by notebook (nbprofile's channel)."
);
