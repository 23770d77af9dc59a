/**
 * The panel's data layer: what the panel shows, fetched by one `Poll`.
 *
 * The poll stands by while the browser tab is hidden and while the panel is
 * not visible (collapsed sidebar, another tab in it), backs off when the server
 * fails, and is refreshed at once when a cell finishes or the notebook changes.
 * Each tick fetches the current notebook's runs, then only what the open view
 * needs, and only when it changed (a run's detail is fetched again when its
 * cell count or totals move). The metric catalog and the report formats are
 * fetched once, with the first tick, and again on the next ticks (backing off)
 * until they arrive; until then the panel shows its loading state.
 */
import { IPoll, Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { NbprofileAPI } from './api.js';
import { Catalog, fetchCatalog } from './catalog.js';
import {
  DEFAULT_SETTINGS,
  Loadable,
  NotebookRef,
  PanelSettings,
  PanelState,
  View,
  describe,
  failureState
} from './state.js';
import type { CompareResponse, RunDetail, RunSummary, Scope } from './types.js';

const MAX_BACKOFF_MS = 60_000;

export class PanelModel {
  constructor(
    private readonly _notebook: () => NotebookRef | null,
    readonly api: NbprofileAPI = new NbprofileAPI()
  ) {
    this._poll = new Poll({
      name: 'nbprofile:panel',
      factory: () => this._tick(),
      frequency: this._frequency(),
      // Stand by while the page is hidden, and always while the panel is.
      standby: () => (this._visible ? 'when-hidden' : true)
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted right before new run detail is handed to the view (the render benchmark starts here). */
  get detailArrived(): ISignal<this, RunDetail> {
    return this._detailArrived;
  }

  state: PanelState = { kind: 'no-notebook' };
  view: View = 'cells';
  /** The run the cells view shows; `null` follows the newest run. */
  selectedRun: string | null = null;
  /** The runs compared; `null` means the second newest (a) and the newest (b). */
  compareA: string | null = null;
  compareB: string | null = null;
  /** The metric the charts show; `null`: the first column. */
  chartMetric: string | null = null;
  detail: Loadable<RunDetail> = { kind: 'idle' };
  comparison: Loadable<CompareResponse> = { kind: 'idle' };
  /** The record (by id) or compared cell (by key) last clicked, highlighted in the views. */
  selectedRow: string | null = null;
  /** Whether the selected row's detail (every reading, the budget chips) is open under the view. */
  detailOpen = false;
  /** The cells view shows every execution in order, not one row per cell (its latest execution). */
  allExecutions = false;
  /** Whose runs are listed: everyone's (a team store keeps them all) or the user's own. */
  scope: Scope = 'team';
  settings: PanelSettings = DEFAULT_SETTINGS;
  /** Writes the columns to the user's settings (set by index.ts); without it a choice lasts until a reload. */
  saveColumns: ((columns: string[]) => Promise<void>) | null = null;

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  /** The server's metric catalog and report formats, once they arrived. */
  get catalog(): Catalog | null {
    return this._catalog;
  }

  /** The reading keys the cells view shows: the user's columns, else the catalog's. */
  get columns(): readonly string[] {
    if (this.settings.columns.length > 0) {
      return this.settings.columns;
    }
    return this._catalog?.columns() ?? [];
  }

  /** The run the cells view shows, resolved against the runs known. */
  get shownRun(): RunSummary | null {
    if (this.state.kind !== 'ready') {
      return null;
    }
    const runs = this.state.runs;
    return runs.find(r => r.run_id === this.selectedRun) ?? runs[0] ?? null;
  }

  /** The two runs the compare view compares (older first), or null with fewer than two. */
  get comparedRuns(): [RunSummary, RunSummary] | null {
    if (this.state.kind !== 'ready' || this.state.runs.length < 2) {
      return null;
    }
    const runs = this.state.runs;
    const b = runs.find(r => r.run_id === this.compareB) ?? runs[0];
    const a = runs.find(r => r.run_id === this.compareA) ?? runs.find(r => r !== b) ?? runs[1];
    return [a, b];
  }

  setVisible(visible: boolean): void {
    this._visible = visible;
    if (visible) {
      void this.refresh();
    }
  }

  setSettings(settings: PanelSettings): void {
    this.settings = settings;
    this._poll.frequency = this._frequency();
    this._emit();
  }

  /** The notebook (or its kernel, or its path) changed: forget what was shown for the old one. */
  notebookChanged(): void {
    const ref = this._notebook();
    const path = ref?.path ?? null;
    if (path !== this._path) {
      this._path = path;
      this.selectedRun = null;
      this.compareA = null;
      this.compareB = null;
      this.selectedRow = null;
      this.detailOpen = false;
      this.detail = { kind: 'idle' };
      this.comparison = { kind: 'idle' };
      this._detailKey = '';
      this._compareKey = '';
      this.state = path === null ? { kind: 'no-notebook' } : { kind: 'loading', notebook: path };
      this._emit();
    }
    void this.refresh();
  }

  setView(view: View): void {
    this.view = view;
    this.detailOpen = false; // a row's key means something else in another view
    this._emit();
    void this.refresh();
  }

  /** Show a run's cells; picking the newest run follows the newest from then on. */
  showRun(runId: string): void {
    const newest = this.state.kind === 'ready' ? this.state.runs[0]?.run_id : undefined;
    this.selectedRun = runId === newest ? null : runId;
    this.view = 'cells';
    this.detailOpen = false;
    this._emit();
    void this.refresh();
  }

  setCompare(a: string | null, b: string | null): void {
    this.compareA = a;
    this.compareB = b;
    this.view = 'compare';
    this._emit();
    void this.refresh();
  }

  setChartMetric(key: string | null): void {
    this.chartMetric = key;
    this._emit();
  }

  /** A row was clicked (or Enter pressed on it): select it and open its detail; `null` clears both. */
  selectRow(key: string | null): void {
    this.selectedRow = key;
    this.detailOpen = key !== null;
    this._emit();
  }

  /** The row stays selected. */
  closeDetail(): void {
    this.detailOpen = false;
    this._emit();
  }

  setScope(scope: Scope): void {
    this.scope = scope;
    this._emit();
    void this.refresh();
  }

  setAllExecutions(all: boolean): void {
    this.allExecutions = all;
    this._emit();
  }

  /** The user picked the columns in the panel: show them now, and keep them in the settings. */
  setColumns(columns: string[]): void {
    this.settings = { ...this.settings, columns };
    this._emit();
    this.saveColumns?.(columns).catch((reason: unknown) => {
      console.error('nbprofile: cannot save the columns to the settings; they last until the page reloads.', reason);
    });
  }

  /** Poll now (a cell finished, the view changed). */
  refresh(): Promise<void> {
    return this._poll.isDisposed ? Promise.resolve() : this._poll.refresh();
  }

  private _frequency(): IPoll.Frequency {
    const interval = Math.max(500, Math.round(this.settings.pollInterval * 1000));
    return { interval, backoff: true, max: Math.max(interval, MAX_BACKOFF_MS) };
  }

  private _emit(): void {
    this._changed.emit();
  }

  /** One poll: runs of the notebook, then what the open view needs. Throws to back off. */
  private async _tick(): Promise<void> {
    const gen = ++this._generation;
    const current = () => gen === this._generation && !this.isDisposed;
    const ref = this._notebook();
    if (ref === null) {
      if (this.state.kind !== 'no-notebook') {
        this.state = { kind: 'no-notebook' };
        this._emit();
      }
      await this._loadCatalog(); // ready for the first notebook; a failure backs off
      return;
    }
    const notebook = ref.path;
    // A run picked in the panel need not wait for the runs list, nor the runs for the catalog.
    const prefetch = this._prefetchDetail();
    let runs: RunSummary[];
    let catalog: Catalog;
    try {
      [catalog, runs] = await Promise.all([
        this._loadCatalog(),
        this.api.runs(notebook, ref.kernelId, this.scope).then(response => response.runs)
      ]);
    } catch (error) {
      if (!current()) {
        return;
      }
      this.state = await failureState(error, notebook, () => this.api.status());
      if (current()) {
        this._emit();
      }
      throw error; // back off
    }
    if (!current()) {
      return;
    }
    const kernelRuns = ref.kernelId ? runs.filter(r => r.kernel_id === ref.kernelId) : [];
    if (runs.length === 0) {
      this.state =
        ref.ranCells && !ref.ranLoadExt
          ? { kind: 'not-loaded', notebook }
          : { kind: 'no-records', notebook, loaded: ref.ranLoadExt };
    } else {
      this.state = {
        kind: 'ready',
        notebook,
        runs,
        kernelId: ref.kernelId,
        notLoadedInKernel: kernelRuns.length === 0 && ref.ranCells && !ref.ranLoadExt,
        catalog
      };
    }
    if (this.view === 'cells') {
      await this._fetchDetail(current, prefetch);
    } else if (this.view === 'compare') {
      await this._fetchComparison(current);
    }
    if (current()) {
      this._emit();
    }
  }

  /** The catalog and the formats, fetched together and once; a failure is retried by the next call. */
  private _loadCatalog(): Promise<Catalog> {
    if (this._catalog !== null) {
      return Promise.resolve(this._catalog);
    }
    this._catalogRequest ??= fetchCatalog(this.api).then(
      catalog => (this._catalog = catalog),
      (error: unknown) => {
        this._catalogRequest = null; // the next tick asks again
        throw error;
      }
    );
    return this._catalogRequest;
  }

  /** The detail of the run picked in the cells view, when it is not the one shown. */
  private _prefetchDetail(): { runId: string; data: Promise<RunDetail | null> } | null {
    const runId = this.selectedRun;
    if (this.view !== 'cells' || runId === null) {
      return null;
    }
    if (this.detail.kind === 'ok' && this.detail.data.run.run_id === runId) {
      return null;
    }
    // Failures are taken up by the regular fetch; never an unhandled rejection.
    return { runId, data: this.api.run(runId).catch(() => null) };
  }

  private async _fetchDetail(
    current: () => boolean,
    prefetch: { runId: string; data: Promise<RunDetail | null> } | null = null
  ): Promise<void> {
    const run = this.shownRun;
    if (run === null) {
      this.detail = { kind: 'idle' };
      this._detailKey = '';
      return;
    }
    const key = `${run.run_id}|${run.executions ?? run.cells}|${run.wall_s}|${run.budget_failures}`;
    if (key === this._detailKey && this.detail.kind === 'ok') {
      return;
    }
    if (this.detail.kind !== 'ok' || this.detail.data.run.run_id !== run.run_id) {
      this.detail = { kind: 'loading' };
      this._emit();
    }
    try {
      const early = prefetch !== null && prefetch.runId === run.run_id ? await prefetch.data : null;
      const data = early ?? (await this.api.run(run.run_id));
      if (!current()) {
        return;
      }
      this._detailKey = key;
      this._detailArrived.emit(data);
      this.detail = { kind: 'ok', data };
    } catch (error) {
      if (current()) {
        this.detail = { kind: 'error', message: describe(error) };
      }
    }
  }

  private async _fetchComparison(current: () => boolean): Promise<void> {
    const pair = this.comparedRuns;
    if (pair === null) {
      this.comparison = { kind: 'idle' };
      this._compareKey = '';
      return;
    }
    const [a, b] = pair;
    const key = `${a.run_id}|${a.executions ?? a.cells}|${a.wall_s}|${b.run_id}|${b.executions ?? b.cells}|${b.wall_s}`;
    if (key === this._compareKey && this.comparison.kind === 'ok') {
      return;
    }
    const same =
      this.comparison.kind === 'ok' &&
      this.comparison.data.a.run_id === a.run_id &&
      this.comparison.data.b.run_id === b.run_id;
    if (!same) {
      this.comparison = { kind: 'loading' };
      this._emit();
    }
    try {
      const data = await this.api.compare(a.run_id, b.run_id);
      if (!current()) {
        return;
      }
      this._compareKey = key;
      this.comparison = { kind: 'ok', data };
    } catch (error) {
      if (current()) {
        this.comparison = { kind: 'error', message: describe(error) };
      }
    }
  }

  private _poll: Poll;
  private _catalog: Catalog | null = null;
  private _catalogRequest: Promise<Catalog> | null = null;
  private _visible = false;
  private _path: string | null = null;
  private _generation = 0;
  private _detailKey = '';
  private _compareKey = '';
  private _changed = new Signal<this, void>(this);
  private _detailArrived = new Signal<this, RunDetail>(this);
}
