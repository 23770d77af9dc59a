/**
 * What the panel can be showing, as data: the notebook it follows, why there
 * is nothing to show, the runs when there are some, and what a view fetched.
 * The model (model.ts) moves between these; the views render them.
 */
import { APIError } from './api.js';
import type { Catalog } from './catalog.js';
import type { RunSummary } from './types.js';

/** What the panel needs to know about the notebook it follows. */
export interface NotebookRef {
  /** The path as JupyterLab names it (`context.path`), relative to the server root. */
  path: string;
  kernelId: string | null;
  /** Some code cell has run in this kernel (it has an execution count). */
  ranCells: boolean;
  /** A cell with `%load_ext nbprofile` has run in this kernel. */
  ranLoadExt: boolean;
}

/**
 * Why there is nothing to show, with enough to tell the user how to fix it.
 * The view renders one message per kind; see components/empty-state.tsx.
 * `loading` also covers the wait for the metric catalog.
 */
export type EmptyState =
  | { kind: 'no-notebook' }
  | { kind: 'loading'; notebook: string }
  | { kind: 'no-server'; detail: string }
  | { kind: 'error'; notebook: string; message: string }
  | { kind: 'not-loaded'; notebook: string }
  | { kind: 'no-records'; notebook: string; loaded: boolean };

export interface Ready {
  kind: 'ready';
  notebook: string;
  runs: RunSummary[];
  kernelId: string | null;
  /** The current kernel has cells running without nbprofile (no run of this kernel). */
  notLoadedInKernel: boolean;
  /** The server's metric catalog and report formats: there are runs only once it is here. */
  catalog: Catalog;
}

export type PanelState = EmptyState | Ready;

/** Something fetched for a view. */
export type Loadable<T> =
  | { kind: 'idle' }
  | { kind: 'loading' }
  | { kind: 'error'; message: string }
  | { kind: 'ok'; data: T };

export type View = 'runs' | 'cells' | 'compare';

export interface PanelSettings {
  /** Seconds between polls while the panel is visible. */
  pollInterval: number;
  /** Reading keys shown as columns in the cells view; empty: the catalog's columns. */
  columns: string[];
}

export const DEFAULT_SETTINGS: PanelSettings = { pollInterval: 2, columns: [] };

/** An error as one line for the panel. */
export function describe(error: unknown): string {
  if (error instanceof APIError) {
    return error.status ? `${error.message} (HTTP ${error.status})` : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** What a failed poll shows: a missing server extension (its status route 404s too), or the error. */
export async function failureState(
  error: unknown,
  notebook: string,
  status: () => Promise<unknown>
): Promise<PanelState> {
  if (error instanceof APIError && error.status === 404) {
    try {
      await status();
    } catch (statusError) {
      if (statusError instanceof APIError && statusError.status === 404) {
        return { kind: 'no-server', detail: statusError.message };
      }
    }
  }
  return { kind: 'error', notebook, message: describe(error) };
}
