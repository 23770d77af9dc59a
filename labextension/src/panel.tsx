/**
 * The sidebar panel: runs of the current notebook, the cells of one run with
 * their budget chips, and the comparison of two runs.
 *
 * Everything shown from the server goes through React text nodes or
 * attributes (escaped); nothing is set as HTML.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { Bar, BarChart, DeltaChart } from './charts';
import { VirtualRows } from './virtual';
import {
  BUDGET_KEYS,
  UNAVAILABLE,
  firstLine,
  formatDelta,
  formatDuration,
  formatPercent,
  formatStart,
  formatValue,
  metricInfo,
  showReading
} from './format';
import { EmptyState, Loadable, PanelModel, View } from './model';
import type {
  CellRecord,
  CompareCell,
  CompareResponse,
  LimitVerdict,
  ReportFormat,
  RunDetail,
  RunSummary,
  TotalMethod
} from './types';

/** Where a row points in the notebook. */
export interface CellTarget {
  cellId: string | null;
  source: string;
}

/** Select and scroll to a cell of the current notebook; false when it is not there any more. */
export type Reveal = (target: CellTarget) => Promise<boolean>;

/** Row heights in px, as style/base.css fixes them (the row windowing relies on them). */
const ROW_PX = 24;
const CHIPS_ROW_PX = 44;

function hasChips(record: CellRecord): boolean {
  return record.verdict !== null && record.verdict.items.length > 0;
}

/** Names of the `performance` entries the render benchmark reads. */
export const PERF = {
  data: 'nbprofile:cells:data',
  layout: 'nbprofile:cells:layout',
  paint: 'nbprofile:cells:paint'
};

export class NbprofilePanel extends ReactWidget {
  constructor(
    readonly model: PanelModel,
    private readonly _reveal: Reveal
  ) {
    super();
    this.addClass('nbp-panel');
    model.changed.connect(() => this.update(), this);
    model.detailArrived.connect(() => {
      performance.clearMarks(PERF.data);
      performance.mark(PERF.data);
    }, this);
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

function PanelView(props: { model: PanelModel; reveal: Reveal }): JSX.Element {
  const { model, reveal } = props;
  const [notice, setNotice] = React.useState<string | null>(null);
  const state = model.state;
  const open = React.useCallback(
    async (key: string, target: CellTarget) => {
      model.selectRow(key);
      const found = await reveal(target);
      setNotice(found ? null : 'That cell is no longer in this notebook (deleted, or its code was edited).');
    },
    [model, reveal]
  );
  const notebook = state.kind === 'no-notebook' || state.kind === 'no-server' ? null : state.notebook;
  return (
    <div className="nbp-root">
      <header className="nbp-header">
        <div className="nbp-title">
          <span className="nbp-title-name">nbprofile</span>
          {notebook !== null && (
            <span className="nbp-title-notebook" title={notebook}>
              {notebook.split('/').pop()}
            </span>
          )}
        </div>
        {state.kind === 'ready' && <Tabs view={model.view} runs={state.runs.length} onChange={v => model.setView(v)} />}
      </header>
      {state.kind === 'ready' && state.notLoadedInKernel && (
        <div className="nbp-banner" role="status">
          nbprofile is not loaded in this kernel: run <code>%load_ext nbprofile</code> to record new runs. Showing
          earlier runs.
        </div>
      )}
      {notice !== null && (
        <div className="nbp-banner" role="status">
          {notice}
        </div>
      )}
      <div className="nbp-body">
        {state.kind !== 'ready' ? (
          <EmptyMessage state={state} />
        ) : model.view === 'runs' ? (
          <RunsView model={model} runs={state.runs} kernelId={state.kernelId} />
        ) : model.view === 'cells' ? (
          <CellsView model={model} open={open} />
        ) : (
          <CompareView model={model} open={open} />
        )}
      </div>
    </div>
  );
}

function Tabs(props: { view: View; runs: number; onChange: (view: View) => void }): JSX.Element {
  const tabs: [View, string][] = [
    ['runs', `Runs (${props.runs})`],
    ['cells', 'Cells'],
    ['compare', 'Compare']
  ];
  return (
    <div className="nbp-tabs" role="tablist">
      {tabs.map(([view, label]) => (
        <button
          key={view}
          role="tab"
          aria-selected={props.view === view}
          className={`nbp-tab${props.view === view ? ' nbp-tab-active' : ''}`}
          data-view={view}
          onClick={() => props.onChange(view)}
        >
          {label}
        </button>
      ))}
    </div>
  );
}

/** One message per reason there is nothing to show, each saying how to fix it. */
function EmptyMessage(props: { state: EmptyState }): JSX.Element {
  const { state } = props;
  let title: string;
  let body: React.ReactNode;
  switch (state.kind) {
    case 'no-notebook':
      title = 'Open a notebook';
      body = 'The panel shows the runs of the notebook you are working in. Open or select a notebook.';
      break;
    case 'loading':
      title = 'Loading…';
      body = null;
      break;
    case 'no-server':
      title = 'The nbprofile server extension is not running';
      body = (
        <>
          The panel reads records through it. Install nbprofile in the environment that runs JupyterLab (
          <code>pip install nbprofile</code>), check <code>jupyter server extension list</code>, and restart
          JupyterLab. ({state.detail})
        </>
      );
      break;
    case 'error':
      title = 'Cannot read the records';
      body = state.message;
      break;
    case 'not-loaded':
      title = 'nbprofile is not loaded in this kernel';
      body = (
        <>
          Cells ran without being measured. Run <code>%load_ext nbprofile</code> in the first cell, then run your
          cells again.
        </>
      );
      break;
    case 'no-records':
      title = 'No records yet';
      body = state.loaded ? (
        'nbprofile is loaded; the next cell you run is recorded here.'
      ) : (
        <>
          Run <code>%load_ext nbprofile</code> in this notebook, then run some cells: each one is measured and shows
          up here.
        </>
      );
      break;
  }
  return (
    <div className="nbp-empty" data-empty={state.kind}>
      <div className="nbp-empty-title">{title}</div>
      {body !== null && <div className="nbp-empty-body">{body}</div>}
    </div>
  );
}

function FailBadge(props: { failures: number }): JSX.Element {
  return props.failures > 0 ? (
    <span className="nbp-badge nbp-badge-fail" title={`${props.failures} cell(s) failed their budget`}>
      {props.failures} failed
    </span>
  ) : (
    <span className="nbp-badge nbp-badge-none" title="no budget failed">
      0 failed
    </span>
  );
}

function RunsView(props: { model: PanelModel; runs: RunSummary[]; kernelId: string | null }): JSX.Element {
  const { model, runs, kernelId } = props;
  return (
    <div className="nbp-runs">
      {runs.length >= 2 && (
        <div className="nbp-toolbar">
          <button className="nbp-button" onClick={() => model.setCompare(runs[1].run_id, runs[0].run_id)}>
            Compare the last two runs
          </button>
        </div>
      )}
      <div className="nbp-table" role="table">
        <div className="nbp-row nbp-row-head nbp-runs-row" role="row">
          <span role="columnheader">Started</span>
          <span role="columnheader" className="nbp-num">
            Cells
          </span>
          <span role="columnheader" className="nbp-num" title="sum of the cells' wall time">
            Total
          </span>
          <span role="columnheader">Budgets</span>
        </div>
        {runs.map(run => (
          <div
            key={run.run_id}
            className="nbp-row nbp-runs-row nbp-clickable"
            role="row"
            tabIndex={0}
            data-run={run.run_id}
            title={`run ${run.run_id} on ${run.host}, nbprofile ${run.nbprofile}${run.kernel_id ? `, kernel ${run.kernel_id}` : ''}`}
            onClick={() => model.showRun(run.run_id)}
            onKeyDown={e => e.key === 'Enter' && model.showRun(run.run_id)}
          >
            <span className="nbp-run-start">
              {formatStart(run.started_at)}
              {kernelId !== null && run.kernel_id === kernelId && <span className="nbp-tag">this kernel</span>}
            </span>
            <span className="nbp-num">{run.cells}</span>
            <span className="nbp-num">{run.wall_s === null ? UNAVAILABLE : formatDuration(run.wall_s)}</span>
            <span>
              <FailBadge failures={run.budget_failures} />
            </span>
          </div>
        ))}
      </div>
    </div>
  );
}

function Loading<T>(props: {
  value: Loadable<T>;
  empty: React.ReactNode;
  children: (data: T) => JSX.Element;
}): JSX.Element {
  const { value } = props;
  switch (value.kind) {
    case 'idle':
      return <div className="nbp-empty">{props.empty}</div>;
    case 'loading':
      return <div className="nbp-empty">Loading…</div>;
    case 'error':
      return (
        <div className="nbp-empty" data-empty="error">
          <div className="nbp-empty-title">Cannot read the records</div>
          <div className="nbp-empty-body">{value.message}</div>
        </div>
      );
    case 'ok':
      return props.children(value.data);
  }
}

function MetricSelect(props: { value: string; keys: string[]; onChange: (key: string) => void; label: string }): JSX.Element {
  return (
    <label className="nbp-field">
      {props.label}
      <select className="nbp-select" value={props.value} onChange={e => props.onChange(e.target.value)}>
        {props.keys.map(key => (
          <option key={key} value={key}>
            {metricInfo(key).label}
          </option>
        ))}
      </select>
    </label>
  );
}

function RunSelect(props: {
  runs: RunSummary[];
  value: string;
  onChange: (runId: string) => void;
  label: string;
  name: string;
}): JSX.Element {
  return (
    <label className="nbp-field">
      {props.label}
      <select
        className="nbp-select"
        name={props.name}
        value={props.value}
        onChange={e => props.onChange(e.target.value)}
      >
        {props.runs.map((run, i) => (
          <option key={run.run_id} value={run.run_id}>
            {i === 0 ? 'newest: ' : ''}
            {formatStart(run.started_at)} · {run.cells} cells
          </option>
        ))}
      </select>
    </label>
  );
}

function rowLabel(record: CellRecord): string {
  return record.execution_count !== null ? `[${record.execution_count}]` : `#${record.seq}`;
}

function CellsView(props: { model: PanelModel; open: (key: string, target: CellTarget) => void }): JSX.Element {
  const { model, open } = props;
  const runs = model.state.kind === 'ready' ? model.state.runs : [];
  const shown = model.shownRun;
  return (
    <div className="nbp-cells-view">
      <div className="nbp-toolbar">
        <RunSelect
          label="Run"
          name="run"
          runs={runs}
          value={shown?.run_id ?? ''}
          onChange={runId => model.showRun(runId)}
        />
        {shown !== null && <ExportMenu model={model} runId={shown.run_id} />}
      </div>
      <Loading value={model.detail} empty="No run selected.">
        {data => <CellsTable model={model} detail={data} open={open} />}
      </Loading>
    </div>
  );
}

function ExportMenu(props: { model: PanelModel; runId: string }): JSX.Element {
  const [error, setError] = React.useState<string | null>(null);
  const formats: [ReportFormat, string][] = [
    ['html', 'HTML'],
    ['md', 'Markdown'],
    ['csv', 'CSV'],
    ['json', 'JSON']
  ];
  return (
    <label className="nbp-field" title={error ?? 'download a report of this run'}>
      Export
      <select
        className="nbp-select"
        value=""
        onChange={e => {
          const format = e.target.value as ReportFormat;
          if (format) {
            props.model.api.download(props.runId, format).then(
              () => setError(null),
              (err: unknown) => setError(`export failed: ${String(err)}`)
            );
          }
        }}
      >
        <option value="">report…</option>
        {formats.map(([format, label]) => (
          <option key={format} value={format}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}

function Chip(props: { item: LimitVerdict }): JSX.Element {
  const { item } = props;
  const { limit } = item;
  const unit = BUDGET_KEYS[limit.key]?.unit ?? '';
  const value = item.value === null ? UNAVAILABLE : formatValue(item.value, unit);
  const threshold = item.threshold === null ? limit.text : formatValue(item.threshold, unit);
  const strict = limit.op === '<';
  let mark: string;
  let cmp: string;
  switch (item.status) {
    case 'pass':
      mark = '✓';
      cmp = strict ? '<' : '≤';
      break;
    case 'fail':
      mark = '✗';
      cmp = strict ? '≥' : '>';
      break;
    default:
      mark = '?';
      cmp = strict ? '<' : '≤';
  }
  const status = item.status === 'unmeasurable' ? 'not measurable' : item.status;
  const reason = item.reason ? `: ${item.reason}` : '';
  return (
    <span className={`nbp-chip nbp-chip-${item.status}`} title={`${limit.text} ${status}${reason}`}>
      {mark} {limit.key} {value} {cmp} {threshold}
    </span>
  );
}

/** "max 301 ms" over a chart's values; says so when none was measured. */
function chartRange(values: (number | null)[], unit: string): string {
  let max: number | null = null;
  for (const v of values) {
    if (v !== null && (max === null || v > max)) {
      max = v;
    }
  }
  return max === null ? 'not measured in this run' : `max ${formatValue(max, unit)}`;
}

/** The grid template for the cells table: #, cell (code and budget chips), one column per metric. */
function gridColumns(metrics: number): string {
  return `2.6em minmax(var(--nbp-cell-min), 22em) repeat(${metrics}, 5.4em)`;
}

function CellsTable(props: {
  model: PanelModel;
  detail: RunDetail;
  open: (key: string, target: CellTarget) => void;
}): JSX.Element {
  const { model, detail, open } = props;
  const columns = model.settings.columns;
  const root = React.useRef<HTMLDivElement>(null);
  const cells = detail.cells;
  // The render benchmark: from the data's arrival to this commit's layout, and to the next paint.
  React.useLayoutEffect(() => {
    const node = root.current;
    if (node === null || performance.getEntriesByName(PERF.data, 'mark').length === 0) {
      return;
    }
    void node.getBoundingClientRect(); // force layout now
    const layout = performance.measure(PERF.layout, PERF.data);
    node.dataset.renderLayoutMs = layout.duration.toFixed(1);
    requestAnimationFrame(() =>
      setTimeout(() => {
        const paint = performance.measure(PERF.paint, PERF.data);
        node.dataset.renderPaintMs = paint.duration.toFixed(1);
        performance.clearMarks(PERF.data);
      })
    );
  }, [detail]);

  const metric = columns.includes(model.chartMetric) ? model.chartMetric : columns[0] ?? 'wall_s';
  const info = metricInfo(metric);
  const bars: Bar[] = cells.map(record => {
    const reading = record.readings[metric];
    const shown = showReading(reading, info.unit);
    return {
      key: String(record.id),
      value: reading?.value ?? null,
      label: `${rowLabel(record)} ${firstLine(record.source)}: ${shown.text}`,
      bad: record.verdict_status === 'fail'
    };
  });
  const failures = cells.filter(c => c.verdict_status === 'fail').length;
  const run = detail.run;
  const [hover, setHover] = React.useState<Bar | null>(null);
  const height = React.useCallback((i: number) => (hasChips(cells[i]) ? CHIPS_ROW_PX : ROW_PX), [cells]);
  return (
    <div className="nbp-cells" ref={root} data-run={run.run_id} data-cells={cells.length}>
      <div className="nbp-summary">
        <span title={`run ${run.run_id} on ${run.host}`}>{formatStart(run.started_at)}</span>
        <span>{cells.length} cells</span>
        <span title="sum of the cells' wall time">
          total {run.wall_s === null ? UNAVAILABLE : formatDuration(run.wall_s)}
        </span>
        <FailBadge failures={failures} />
      </div>
      {cells.length === 0 ? (
        <div className="nbp-empty">This run has no records yet.</div>
      ) : (
        <>
          <div className="nbp-chart-box">
            <div className="nbp-chart-caption">
              <MetricSelect label="Chart" value={metric} keys={columns} onChange={k => model.setChartMetric(k)} />
              <span className="nbp-chart-readout">{hover?.label ?? chartRange(bars.map(b => b.value), info.unit)}</span>
            </div>
            <BarChart
              bars={bars}
              title={`${info.label} per cell`}
              selected={model.selectedRow}
              onHover={setHover}
              onSelect={key => {
                const record = cells.find(c => String(c.id) === key);
                if (record) {
                  open(key, { cellId: record.cell_id, source: record.source });
                }
              }}
            />
          </div>
          <div className="nbp-table nbp-cells-table" role="table" style={{ ['--nbp-cols' as string]: gridColumns(columns.length) }}>
            <div className="nbp-row nbp-row-head" role="row">
              <span role="columnheader">#</span>
              <span role="columnheader">Cell</span>
              {columns.map(key => {
                const m = metricInfo(key);
                return (
                  <span key={key} role="columnheader" className="nbp-num" title={m.title}>
                    {m.label}
                  </span>
                );
              })}
            </div>
            <VirtualRows
              count={cells.length}
              height={height}
              scroller=".nbp-body"
              row={i => (
                <CellRow
                  key={cells[i].id}
                  record={cells[i]}
                  columns={columns}
                  selected={model.selectedRow === String(cells[i].id)}
                  open={open}
                />
              )}
            />
          </div>
        </>
      )}
    </div>
  );
}

const CellRow = React.memo(function CellRow(props: {
  record: CellRecord;
  columns: string[];
  selected: boolean;
  open: (key: string, target: CellTarget) => void;
}): JSX.Element {
  const { record, columns, selected, open } = props;
  const key = String(record.id);
  const go = () => open(key, { cellId: record.cell_id, source: record.source });
  const verdict = record.verdict_status;
  return (
    <div
      className={`nbp-row nbp-clickable${hasChips(record) ? ' nbp-row-chipped' : ''}${verdict === 'fail' ? ' nbp-row-fail' : ''}${selected ? ' nbp-row-selected' : ''}`}
      role="row"
      tabIndex={0}
      data-record={key}
      data-cell-id={record.cell_id ?? ''}
      data-verdict={verdict ?? ''}
      onClick={go}
      onKeyDown={e => e.key === 'Enter' && go()}
    >
      <span className="nbp-index">{rowLabel(record)}</span>
      <span className="nbp-source" title={record.source}>
        {record.status !== 'ok' && (
          <span className="nbp-tag nbp-tag-error" title={record.error_type ?? record.status}>
            {record.status === 'error' ? record.error_type ?? 'error' : record.status}
          </span>
        )}
        {firstLine(record.source)}
      </span>
      {columns.map(column => {
        const shown = showReading(record.readings[column], metricInfo(column).unit);
        return (
          <span key={column} className={`nbp-num nbp-method-${shown.method}`} title={shown.title}>
            {shown.text}
          </span>
        );
      })}
      {record.verdict !== null && record.verdict.items.length > 0 && (
        <span className="nbp-chips">
          {record.verdict.items.map((item, i) => (
            <Chip key={i} item={item} />
          ))}
        </span>
      )}
    </div>
  );
});

function CompareView(props: { model: PanelModel; open: (key: string, target: CellTarget) => void }): JSX.Element {
  const { model, open } = props;
  const runs = model.state.kind === 'ready' ? model.state.runs : [];
  const pair = model.comparedRuns;
  if (pair === null) {
    return (
      <div className="nbp-empty" data-empty="one-run">
        <div className="nbp-empty-title">Compare needs two runs</div>
        <div className="nbp-empty-body">
          Run the notebook again (restart the kernel, then Run → Run All Cells) to compare the new run with this one.
        </div>
      </div>
    );
  }
  const [a, b] = pair;
  return (
    <div className="nbp-compare-view">
      <div className="nbp-toolbar">
        <RunSelect label="A" name="a" runs={runs} value={a.run_id} onChange={id => model.setCompare(id, b.run_id)} />
        <RunSelect label="B" name="b" runs={runs} value={b.run_id} onChange={id => model.setCompare(a.run_id, id)} />
      </div>
      <Loading value={model.comparison} empty="">
        {data => <CompareTable model={model} data={data} open={open} />}
      </Loading>
    </div>
  );
}

/**
 * A compared value: `~` and a title when it was estimated or sampled; for a run's
 * total, `≥` when some cells had no value (the sum covers only the others).
 */
function showNumber(
  value: number | null | undefined,
  unit: string,
  missing: string,
  method?: string | null,
  total?: TotalMethod
): { text: string; title: string; method: string } {
  if (value === null || value === undefined) {
    return { text: UNAVAILABLE, title: missing, method: 'unavailable' };
  }
  const how = total?.method ?? method ?? 'measured';
  const estimate = how === 'estimated' || how === 'sampled';
  const partial = total !== undefined && total.cells < total.of;
  const text = `${partial ? '≥ ' : ''}${estimate ? '~' : ''}${formatValue(value, unit)}`;
  const titles = [
    estimate ? (total ? `${how}: includes ${how} values` : how) : '',
    partial ? `sum over ${total.cells} of ${total.of} cells; the others could not be measured` : ''
  ];
  return { text, title: titles.filter(t => t).join('; '), method: how };
}

function DeltaCells(props: { value: number | null | undefined; pct: number | null | undefined; unit: string }): JSX.Element {
  const { value, pct, unit } = props;
  const cls = value === null || value === undefined || value === 0 ? '' : value > 0 ? ' nbp-worse' : ' nbp-better';
  return (
    <>
      <span className={`nbp-num${cls}`}>{value === null || value === undefined ? '–' : formatDelta(value, unit)}</span>
      <span className={`nbp-num${cls}`}>{pct === null || pct === undefined ? '–' : formatPercent(pct)}</span>
    </>
  );
}

function CompareTable(props: {
  model: PanelModel;
  data: CompareResponse;
  open: (key: string, target: CellTarget) => void;
}): JSX.Element {
  const { model, data, open } = props;
  const has = (key: string) => data.totals.a[key] != null || data.totals.b[key] != null;
  const measured = data.metrics.filter(has);
  const unmeasured = data.metrics.filter(key => !has(key));
  const metrics = measured.length > 0 ? measured : ['wall_s'];
  const metric = metrics.includes(model.chartMetric) ? model.chartMetric : metrics[0];
  const info = metricInfo(metric);
  const regressions = data.cells.filter(c => c.regression).length;
  const bars: Bar[] = data.cells.map(cell => {
    const d = cell.delta[metric];
    const text =
      d?.abs === null || d?.abs === undefined
        ? UNAVAILABLE
        : `${formatDelta(d.abs, info.unit)}${d.pct === null ? '' : ` (${formatPercent(d.pct)})`}`;
    return { key: cell.key, value: d?.abs ?? null, label: `${firstLine(cell.source)}: ${text}` };
  });
  const openCell = (cell: CompareCell) => open(cell.key, { cellId: cell.cell_id, source: cell.source });
  const [hover, setHover] = React.useState<Bar | null>(null);
  const height = React.useCallback(() => ROW_PX, []);
  return (
    <div className="nbp-compare" data-regressions={regressions}>
      <div className="nbp-summary">
        <span>{data.cells.length} cells</span>
        {regressions > 0 ? (
          <span className="nbp-badge nbp-badge-fail">{regressions} regressed</span>
        ) : (
          <span className="nbp-badge nbp-badge-none">no regression</span>
        )}
      </div>
      <div className="nbp-table nbp-totals" role="table">
        <div className="nbp-row nbp-row-head nbp-totals-row" role="row">
          <span role="columnheader">Total</span>
          <span role="columnheader" className="nbp-num">A</span>
          <span role="columnheader" className="nbp-num">B</span>
          <span role="columnheader" className="nbp-num">Δ</span>
          <span role="columnheader" className="nbp-num">%</span>
        </div>
        {measured.map(key => {
          const m = metricInfo(key);
          const ta = showNumber(data.totals.a[key], m.unit, 'not measured in run A', null, data.totals.method_a?.[key]);
          const tb = showNumber(data.totals.b[key], m.unit, 'not measured in run B', null, data.totals.method_b?.[key]);
          const d = data.totals.delta[key];
          return (
            <div key={key} className="nbp-row nbp-totals-row" role="row" data-metric={key}>
              <span title={m.title}>{m.label}</span>
              <span className={`nbp-num nbp-method-${ta.method}`} title={ta.title}>{ta.text}</span>
              <span className={`nbp-num nbp-method-${tb.method}`} title={tb.title}>{tb.text}</span>
              <DeltaCells value={d?.abs} pct={d?.pct} unit={m.unit} />
            </div>
          );
        })}
        {unmeasured.length > 0 && (
          <div className="nbp-unmeasured" title="no cell of either run has a value for these: see the cells view for why">
            Not measured in either run: {unmeasured.map(key => metricInfo(key).label).join(', ')}
          </div>
        )}
      </div>
      <div className="nbp-chart-box">
        <div className="nbp-chart-caption">
          <MetricSelect label="Change in" value={metric} keys={metrics} onChange={k => model.setChartMetric(k)} />
          <span className="nbp-chart-readout">{hover?.label ?? 'B − A per cell; up is worse'}</span>
        </div>
        <DeltaChart
          bars={bars}
          title={`change in ${info.label} per cell, B − A`}
          selected={model.selectedRow}
          onHover={setHover}
          onSelect={key => {
            const cell = data.cells.find(c => c.key === key);
            if (cell) {
              openCell(cell);
            }
          }}
        />
      </div>
      <div className="nbp-table nbp-compare-table" role="table">
        <div className="nbp-row nbp-row-head nbp-compare-row" role="row">
          <span role="columnheader">Cell</span>
          <span role="columnheader" className="nbp-num">{info.label} A</span>
          <span role="columnheader" className="nbp-num">{info.label} B</span>
          <span role="columnheader" className="nbp-num">Δ</span>
          <span role="columnheader" className="nbp-num">%</span>
        </div>
        <VirtualRows
          count={data.cells.length}
          height={height}
          scroller=".nbp-body"
          row={i => {
            const cell = data.cells[i];
            const va = showNumber(cell.a[metric], info.unit, 'not measured in run A, or the cell did not run in it',
              cell.method_a?.[metric]);
            const vb = showNumber(cell.b[metric], info.unit, 'not measured in run B, or the cell did not run in it',
              cell.method_b?.[metric]);
            const d = cell.delta[metric];
            return (
              <div
                key={cell.key}
                role="row"
                tabIndex={0}
                data-key={cell.key}
                data-regression={cell.regression ? 'true' : 'false'}
                className={`nbp-row nbp-compare-row nbp-clickable${cell.regression ? ' nbp-row-regression' : ''}${model.selectedRow === cell.key ? ' nbp-row-selected' : ''}`}
                onClick={() => openCell(cell)}
                onKeyDown={e => e.key === 'Enter' && openCell(cell)}
              >
                <span className="nbp-source" title={cell.source}>
                  {cell.regression && <span className="nbp-tag nbp-tag-error">regression</span>}
                  {firstLine(cell.source)}
                </span>
                <span className={`nbp-num nbp-method-${va.method}`} title={va.title}>
                  {va.text}
                </span>
                <span className={`nbp-num nbp-method-${vb.method}`} title={vb.title}>
                  {vb.text}
                </span>
                <DeltaCells value={d?.abs} pct={d?.pct} unit={info.unit} />
              </div>
            );
          }}
        />
      </div>
    </div>
  );
}
