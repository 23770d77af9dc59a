/**
 * The cells view: one run (a kernel session), one row per cell with its latest
 * execution (or every execution in order), a bar chart of one metric per row,
 * and the run's two totals, each saying what it adds up (views/executions.ts).
 *
 * At the sidebar's opening width a row shows its code, the chosen metric with
 * a bar and its budget mark; a wider sidebar shows more metric columns, as
 * many as fit (components/fit.ts). A row's detail lists everything else.
 */
import * as React from 'react';

import type { Catalog } from '../catalog.js';
import { DiedBadge, FailBadge } from '../components/badges.js';
import { Bar, BarChart } from '../components/charts.js';
import { ColumnChooser } from '../components/column-chooser.js';
import { DeleteRun } from '../components/delete-run.js';
import { ExportMenu } from '../components/export-menu.js';
import { CH_PX, EM_PX, columnPx, columnsThatFit } from '../components/fit.js';
import { Loading } from '../components/loadable.js';
import { ROW_PX, fitColumn, longestText } from '../components/rows.js';
import { MetricSelect, RunSelect } from '../components/selects.js';
import { useWidth } from '../components/use-width.js';
import { VirtualRows } from '../components/virtual-rows.js';
import { diedMissing, diedSummary, isDied } from '../died.js';
import { UNAVAILABLE, formatDuration, formatValue } from '../format.js';
import type { PanelModel } from '../model.js';
import { useRenderTiming } from '../perf.js';
import type { OpenRow } from '../reveal.js';
import { firstLine, formatStart, readingText, rowLabel, showReading } from '../show.js';
import type { CellRecord, RunDetail } from '../types.js';
import { CellRow } from './cell-row.js';
import {
  ALL_TOTAL_TITLE,
  LATEST_TOTAL,
  LATEST_TOTAL_TITLE,
  allTotalLabel,
  count,
  groupByCell,
  latestTotal
} from './executions.js';

export function CellsView(props: { model: PanelModel; catalog: Catalog; open: OpenRow }): JSX.Element {
  const { model, catalog, open } = props;
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
      </div>
      <Loading value={model.detail} empty="No run selected.">
        {data => <CellsTable model={model} catalog={catalog} detail={data} open={open} />}
      </Loading>
    </div>
  );
}

/** Why a run's total time is marked `~` when a cell's kernel died in it. */
const DIED_TOTAL = '; estimated: a died cell counts until its kernel was last seen';

/** "max 301 ms" over a chart's values; says so when none was measured. */
function chartRange(values: (number | null)[], unit: string): string {
  const max = largest(values);
  return max === null ? 'not measured in the rows shown' : `max ${formatValue(max, unit)}`;
}

function largest(values: Iterable<number | null>): number | null {
  let max: number | null = null;
  for (const v of values) {
    if (v !== null && (max === null || v > max)) {
      max = v;
    }
  }
  return max;
}

/** The label column, the budget mark and the row's padding, in px (style/table.css). */
const LABEL_EM = 2.8;
const MARK_EM = 1.2;
/** The `×N` column, there when some cell ran more than once. */
const TIMES_EM = 2;
const ROW_PADDING_PX = 8;
const GAP_PX = 4;
/** The code keeps about 12 characters before a second metric column is shown. */
const CODE_MIN_PX = 12 * CH_PX;
const NUMBER_MIN_EM = 4.2;

/**
 * The metric columns shown at `width`: the chosen metric, then the other
 * columns in order, as many as fit; and the grid template for them.
 */
function layout(
  rows: readonly CellRecord[],
  metric: string,
  columns: readonly string[],
  catalog: Catalog,
  width: number,
  timesColumn: boolean
): { shown: string[]; grid: string } {
  const offered = [metric, ...columns.filter(key => key !== metric)].filter(key => key !== '');
  const texts = offered.map(key => {
    const info = catalog.info(key);
    return [info.label, ...rows.map(record => readingText(record.readings[key], info.unit))];
  });
  const times = timesColumn ? TIMES_EM : 0;
  const fixed = (LABEL_EM + MARK_EM + times) * EM_PX + ROW_PADDING_PX + (timesColumn ? 3 : 2) * GAP_PX;
  const fits = columnsThatFit(
    width,
    texts.map(t => columnPx(longestText(t), NUMBER_MIN_EM)),
    fixed,
    CODE_MIN_PX,
    GAP_PX
  );
  const shown = offered.slice(0, fits);
  const widths = texts.slice(0, fits).map(t => fitColumn(t, NUMBER_MIN_EM));
  const label = timesColumn ? `${LABEL_EM}em ${TIMES_EM}em` : `${LABEL_EM}em`;
  return { shown, grid: `${label} minmax(0, 1fr) ${widths.join(' ')} ${MARK_EM}em`.replace(/ +/g, ' ') };
}

function CellsTable(props: { model: PanelModel; catalog: Catalog; detail: RunDetail; open: OpenRow }): JSX.Element {
  const { model, catalog, detail, open } = props;
  const columns = model.columns;
  const root = React.useRef<HTMLDivElement>(null);
  const width = useWidth(root, 240);
  const cells = detail.cells;
  useRenderTiming(root, detail);

  const groups = React.useMemo(() => groupByCell(cells), [cells]);
  const all = model.allExecutions;
  // one row per cell (its latest execution), or every execution in order
  const rows = React.useMemo(
    () =>
      all
        ? cells.map(record => ({ record, count: 1 }))
        : groups.map(group => ({ record: group.latest, count: group.executions.length })),
    [all, cells, groups]
  );
  const records = React.useMemo(() => rows.map(r => r.record), [rows]);

  const chosen = model.chartMetric;
  const metric = chosen !== null && columns.includes(chosen) ? chosen : columns[0] ?? '';
  const info = catalog.info(metric);
  const bars: Bar[] = records.map(record => {
    const reading = record.readings[metric];
    const died = isDied(record);
    // a died cell's bar is what the journal knew (its time until the kernel was last seen): red, and said so
    const shown = died && reading === undefined ? diedMissing() : showReading(reading, info.unit);
    return {
      key: String(record.id),
      value: reading?.value ?? null,
      label: `${rowLabel(record)} ${firstLine(record.source)}: ${shown.text}${died ? ` (${diedSummary(record)})` : ''}`,
      bad: record.verdict_status === 'fail' || died
    };
  });
  const max = largest(bars.map(b => b.value));
  // A key the catalog does not know takes its unit from its readings.
  const unit = info.unit || (cells.find(c => c.readings[metric])?.readings[metric].unit ?? '');
  const seen = React.useMemo(() => [...new Set(cells.flatMap(c => Object.keys(c.readings)))], [cells]);
  const [hover, setHover] = React.useState<Bar | null>(null);
  const height = React.useCallback(() => ROW_PX, []);
  const timesColumn = rows.some(r => r.count > 1);
  const { shown, grid } = React.useMemo(
    () => layout(records, metric, columns, catalog, width, timesColumn),
    [records, metric, columns, catalog, width, timesColumn]
  );
  const run = detail.run;
  return (
    <div className="nbp-cells" ref={root} data-run={run.run_id} data-cells={rows.length} data-columns={shown.length}>
      <RunFacts detail={detail} />
      <div className="nbp-toolbar">
        <label className="nbp-check" title="one row per execution, in the order they ran, re-runs included">
          <input
            type="checkbox"
            name="all-executions"
            checked={all}
            onChange={e => model.setAllExecutions(e.target.checked)}
          />
          every execution
        </label>
        <ColumnChooser
          catalog={catalog}
          columns={columns}
          seen={seen}
          custom={model.settings.columns.length > 0}
          onChange={keys => model.setColumns(keys)}
        />
        <ExportMenu api={model.api} runId={run.run_id} formats={catalog.formats} />
        <DeleteRun model={model} run={run} />
      </div>
      {cells.length === 0 ? (
        <div className="nbp-empty">This run has no records yet.</div>
      ) : (
        <>
          <div className="nbp-chart-box">
            <div className="nbp-chart-caption">
              <MetricSelect
                label="Show"
                name="metric"
                value={metric}
                keys={columns}
                catalog={catalog}
                onChange={k => model.setChartMetric(k)}
              />
              <span className="nbp-chart-readout">{hover?.label ?? chartRange(bars.map(b => b.value), unit)}</span>
            </div>
            <BarChart
              bars={bars}
              title={`${info.label} per cell`}
              selected={model.selectedRow}
              onHover={setHover}
              onSelect={key => {
                const record = records.find(c => String(c.id) === key);
                if (record) {
                  open(key, { cellId: record.cell_id, source: record.source });
                }
              }}
            />
          </div>
          <div className="nbp-table nbp-cells-table" role="table" style={{ ['--nbp-cols' as string]: grid }}>
            <div className="nbp-row nbp-row-head" role="row">
              <span role="columnheader">#</span>
              {timesColumn && (
                <span role="columnheader" title="how many times the cell ran in this run">
                  ×
                </span>
              )}
              <span role="columnheader">Cell</span>
              {shown.map(key => {
                const m = catalog.info(key);
                return (
                  <span key={key} role="columnheader" className="nbp-num" title={m.title}>
                    {m.label}
                  </span>
                );
              })}
              <span role="columnheader" className="nbp-mark" title="budget: ✓ passed, ✗ failed, ? not measurable">
                ✓
              </span>
            </div>
            <VirtualRows
              count={rows.length}
              height={height}
              scroller=".nbp-body"
              row={i => (
                <CellRow
                  key={rows[i].record.id}
                  record={rows[i].record}
                  executions={rows[i].count}
                  timesColumn={timesColumn}
                  columns={shown}
                  bar={max === null || max <= 0 ? null : (rows[i].record.readings[metric]?.value ?? 0) / max}
                  catalog={catalog}
                  selected={model.selectedRow === String(rows[i].record.id)}
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

/** The run in one line (start, cells, executions, failures, deaths), then its two totals, each named. */
function RunFacts(props: { detail: RunDetail }): JSX.Element {
  const { run, cells } = props.detail;
  const groups = React.useMemo(() => groupByCell(cells), [cells]);
  const deaths = React.useMemo(() => cells.filter(isDied).map(diedSummary), [cells]);
  const latest = React.useMemo(() => latestTotal(groups, 'wall_s'), [groups]);
  const failures = cells.filter(c => c.verdict_status === 'fail').length;
  const died = deaths.length > 0 ? '~' : '';
  const left = latest.leftOut > 0 ? `; ${latest.leftOut} of nbprofile's own cell(s) left out` : '';
  return (
    <>
      <div className="nbp-summary">
        <span title={`run ${run.run_id} on ${run.host}: one kernel session`}>{formatStart(run.started_at)}</span>
        <span data-count="cells">{count(groups.length, 'cell')}</span>
        <span data-count="executions" title="every execution in this run, re-runs of a cell included">
          {count(cells.length, 'execution')}
        </span>
        <FailBadge failures={failures} />
        <DiedBadge summaries={deaths} />
      </div>
      <div className="nbp-run-totals" role="group" aria-label="total time">
        <span className="nbp-run-totals-caption">Total time</span>
        <span className="nbp-total-label" title={`${LATEST_TOTAL_TITLE}${left}`}>
          {LATEST_TOTAL}
        </span>
        <span className="nbp-num" data-total="latest" title={`${LATEST_TOTAL_TITLE}${left}`}>
          {latest.value === null ? UNAVAILABLE : `${latest.estimated ? '~' : ''}${formatDuration(latest.value)}`}
        </span>
        <span className="nbp-total-label" title={ALL_TOTAL_TITLE}>
          {allTotalLabel(cells.length)}
        </span>
        <span className="nbp-num" data-total="all" title={`${ALL_TOTAL_TITLE}${died ? DIED_TOTAL : ''}`}>
          {run.wall_s === null ? UNAVAILABLE : `${died}${formatDuration(run.wall_s)}`}
        </span>
      </div>
    </>
  );
}
