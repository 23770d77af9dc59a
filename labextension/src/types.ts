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
  /**
   * The footer's own words for this limit, formatted by Python: the whole line
   * (`time 1.00496 s > 1 s`, `vram not measurable here (no GPU)`), the value and
   * the resolved threshold (`1.00496 s`, `1 s`; `null` when there is none).
   * Absent in records served by an older nbprofile.
   */
  text?: string;
  value_text?: string | null;
  threshold_text?: string | null;
}

export interface Verdict {
  items: LimitVerdict[];
  name: string | null;
  status: VerdictStatus;
}

/**
 * A run is a kernel session; a cell may execute in it several times (Run All
 * twice in one kernel). `cells` counts the distinct cells (by id, else by code,
 * as compare matches them), `executions` every execution, and `wall_s` adds up
 * the wall time of all executions: what the session really spent.
 */
export interface RunSummary {
  run_id: string;
  /** ISO 8601, UTC. */
  started_at: string;
  /** Distinct cells (servers before 0.2 counted executions here). */
  cells: number;
  /** Every execution, re-runs included; absent from older servers. */
  executions?: number;
  /** The wall time of all executions. */
  wall_s: number | null;
  budget_failures: number;
  kernel_id: string | null;
  host: string;
  /** Who ran it (a team store keeps everyone's runs); absent from older servers. */
  user?: string | null;
  nbprofile: string;
}

/** Whose runs the panel lists: everyone's in the store (a team store's), or the user's own. */
export type Scope = 'team' | 'mine';

export interface RunsResponse {
  notebook: string;
  /** Absent from older servers (which list every run in the store). */
  scope?: Scope;
  /** Newest first. */
  runs: RunSummary[];
}

export interface RunDetailInfo extends RunSummary {
  info: Record<string, unknown>;
}

/**
 * How a cell's execution ended. `died`: its kernel died while it ran (a record
 * the kernel's journal made afterwards): `error_type` is the likely cause in
 * words ("out of memory", "signal SIGKILL") or null, `wall_s` runs until the
 * kernel was last seen, and most other readings are absent.
 */
export type CellStatus = 'ok' | 'error' | 'interrupted' | 'died';

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
  status: CellStatus;
  error_type: string | null;
  readings: Record<string, Reading>;
  overhead_s: number;
  name: string | null;
  budget: Record<string, unknown> | null;
  verdict: Verdict | null;
  verdict_status: VerdictStatus | null;
  notes: string[];
  /** Where a long cell's time went, in the footer's words; null when it was not sampled (absent: older servers). */
  hotspots?: { lines: string[]; how: string } | null;
}

/** What `DELETE /nbprofile/api/runs/<run>` removed. */
export interface DeleteResponse {
  deleted: { runs: number; records: number };
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

/** One metric of a compared cell that got worse by more than the regression rule allows. */
export interface CompareRegression {
  metric: string;
  label: string;
  a: number;
  b: number;
  /** A fraction: 0.32 = +32 %. */
  pct: number;
  /** What reports and the CLI print: `CPU +32% (410 ms → 540 ms)`. */
  text: string;
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
  /** Whether any metric regressed: `regressions` is then not empty. */
  regression: boolean;
  /** The metrics that regressed, in the catalog's order. Absent from older servers. */
  regressions?: CompareRegression[];
  /** The cell's status in each run; `null` where it did not run there. Absent from older servers. */
  status_a?: CellStatus | null;
  status_b?: CellStatus | null;
  /**
   * The run(s) whose kernel died in this cell; its deltas are then all `null`
   * (its numbers stop where the kernel was last seen), and it is no regression.
   */
  died?: 'A' | 'B' | 'both' | null;
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
  /** How many of nbprofile's own magic cells (`%nbprofile …`, `%load_ext nbprofile`) were left out. */
  left_out?: number;
}

export interface StatusResponse {
  version: string;
  store: string;
  records: number;
}

/** A report format's name (`html`, `md`, ...), as `GET /nbprofile/api/formats` lists them. */
export type ReportFormat = string;

export interface ReportFormatSpec {
  name: ReportFormat;
  /** What the export menu shows: `HTML`, `Markdown`, ... */
  label: string;
  /** The file suffix, with its dot: `.html`. */
  suffix: string;
  media_type: string;
  /** The format can put two runs side by side. */
  compares: boolean;
}

/** `GET /nbprofile/api/formats`: the report formats, in display order. */
export interface FormatsResponse {
  formats: ReportFormatSpec[];
}

/**
 * One entry of nbprofile's metric catalog (`nbprofile/metrics.py`, `Metric`).
 * A `key` containing `{i}` is a per-device family: `gpu{i}_energy_j` stands for
 * `gpu0_energy_j`, `gpu1_energy_j`, ... The footer's fields are not read here.
 */
export interface MetricSpec {
  key: string;
  /** The base unit of the value: `s`, `B`, `J`, `g`, `USD`, `tokens`, ... (`""`: a bare number). */
  unit: string;
  /** Short name for column headers, charts and chips: `time`, `peak RAM`. */
  label: string;
  /** One line: what the number is (the column header's tooltip). */
  description: string;
  /** Where the number comes from. */
  source: string;
  /** The budget key that limits it (`time` in `%%budget time<=30s`), if any. */
  budget: string | null;
  /** A run's figure: the cells' sum, or its largest cell (peaks). */
  aggregate: 'sum' | 'max';
  /** Compare: a change counts as a regression only above this amount; `null`: not compared. */
  regression_floor: number | null;
  /** Shown as a column by default, in catalog order. */
  column: boolean;
  live?: boolean;
  llm_guard?: string | null;
}

/** `GET /nbprofile/api/metrics`: the catalog, in display order. */
export interface MetricsResponse {
  metrics: MetricSpec[];
  /** The share of a change that makes a regression (together with each metric's floor). */
  regression_fraction: number;
}

/** `GET /nbprofile/api/kernels/<id>/usage`: a kernel's memory now (the status bar). */
export interface KernelUsage {
  /** the kernel process's resident memory; null when unavailable (`reason` says why) */
  rss_bytes: number | null;
  /** the memory the machine or its cgroup allows, when known */
  limit_bytes: number | null;
  limit_source: string | null;
  reason: string | null;
}
