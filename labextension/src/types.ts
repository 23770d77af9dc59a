/**
 * The JSON the nbprofile server extension answers with, one interface per
 * response. These mirror `nbprofile/server/` (the routes under
 * `/nbprofile/api/`); a field added there is added here.
 */

/** How a number was obtained; see `nbprofile/meters/base.py`. */
export type Method = 'measured' | 'sampled' | 'estimated' | 'unavailable';

export interface Reading {
  /** `null` exactly when `method` is `unavailable`; `note` then says why. */
  value: number | null;
  unit: string;
  method: Method;
  source: string;
  note: string | null;
}

export type VerdictStatus = 'pass' | 'fail' | 'unmeasurable';

export interface Limit {
  /** A budget key: `time`, `ram`, `vram`, `energy`, `co2`, `tokens`, `cost`, ... */
  key: string;
  op: '<=' | '<';
  kind: 'absolute' | 'percent' | 'last' | 'baseline';
  value: number;
  percent: number | null;
  /** The limit as the user wrote it, e.g. `time<=1s`. */
  text: string;
}

export interface LimitVerdict {
  limit: Limit;
  status: VerdictStatus;
  value: number | null;
  threshold: number | null;
  reason: string | null;
}

export interface Verdict {
  items: LimitVerdict[];
  name: string | null;
  status: VerdictStatus;
}

export interface RunSummary {
  run_id: string;
  /** ISO 8601, UTC. */
  started_at: string;
  cells: number;
  wall_s: number | null;
  budget_failures: number;
  kernel_id: string | null;
  host: string;
  nbprofile: string;
}

export interface RunsResponse {
  notebook: string;
  /** Newest first. */
  runs: RunSummary[];
}

export interface RunDetailInfo extends RunSummary {
  info: Record<string, unknown>;
}

export interface CellRecord {
  id: number;
  run_id: string;
  seq: number;
  notebook: string | null;
  cell_id: string | null;
  execution_count: number | null;
  code_hash: string;
  source: string;
  started_at: string;
  status: 'ok' | 'error' | 'interrupted';
  error_type: string | null;
  readings: Record<string, Reading>;
  overhead_s: number;
  name: string | null;
  budget: Record<string, unknown> | null;
  verdict: Verdict | null;
  verdict_status: VerdictStatus | null;
  notes: string[];
}

export interface RunDetail {
  run: RunDetailInfo;
  /** In execution order. */
  cells: CellRecord[];
}

export interface Delta {
  abs: number | null;
  /** Relative change as a fraction (`0.125` is +12.5 %); `null` when A is 0 or either side is missing. */
  pct: number | null;
}

export interface CompareCell {
  key: string;
  cell_id: string | null;
  source: string;
  /** `null` for a metric not measured in that run, or a cell the run lacks. */
  a: Record<string, number | null>;
  b: Record<string, number | null>;
  /** How each value was obtained; `null` where there is none. */
  method_a: Record<string, Method | null>;
  method_b: Record<string, Method | null>;
  delta: Record<string, Delta>;
  regression: boolean;
}

/** How a run's total was obtained: `cells < of` means some cells had no value, so a lower bound. */
export interface TotalMethod {
  method: Method;
  cells: number;
  of: number;
}

export interface CompareTotals {
  a: Record<string, number | null>;
  b: Record<string, number | null>;
  method_a: Record<string, TotalMethod>;
  method_b: Record<string, TotalMethod>;
  delta: Record<string, Delta>;
}

export interface CompareResponse {
  a: RunSummary;
  b: RunSummary;
  metrics: string[];
  cells: CompareCell[];
  totals: CompareTotals;
}

export interface StatusResponse {
  version: string;
  store: string;
  records: number;
}

export type ReportFormat = 'html' | 'md' | 'json' | 'csv';
