/**
 * The cells view: one run's records in execution order, a bar chart of one
 * metric per cell, and a table with a column per metric and the budget chips.
 */
import * as React from 'react';

import type { Catalog } from '../catalog.js';
import { DiedBadge, FailBadge } from '../components/badges.js';
import { Bar, BarChart } from '../components/charts.js';
import { ExportMenu } from '../components/export-menu.js';
import { Loading } from '../components/loadable.js';
import { fitColumn, rowHeight } from '../components/rows.js';
import { MetricSelect, RunSelect } from '../components/selects.js';
import { VirtualRows } from '../components/virtual-rows.js';
import { diedMissing, diedSummary, isDied } from '../died.js';
import { UNAVAILABLE, formatDuration, formatValue } from '../format.js';
import type { PanelModel } from '../model.js';
import { useRenderTiming } from '../perf.js';
import type { OpenRow } from '../reveal.js';
import { firstLine, formatStart, readingText, rowLabel, showReading } from '../show.js';
import type { CellRecord, RunDetail } from '../types.js';
import { CellRow } from './cell-row.js';

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
        {shown !== null && <ExportMenu api={model.api} runId={shown.run_id} formats={catalog.formats} />}
      </div>
      <Loading value={model.detail} empty="No run selected.">
        {data => <CellsTable model={model} catalog={catalog} detail={data} open={open} />}
      </Loading>
    </div>
  );
}

/** Why a run's total time is marked `~` when a cell's kernel died in it. */
const DIED_TOTAL = "; estimated: a died cell counts until its kernel was last seen";

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

/**
 * The grid template for the cells table: #, cell (code and budget chips), one
 * column per metric, as wide as its header and its longest value in this run.
 */
function gridColumns(cells: CellRecord[], columns: readonly string[], catalog: Catalog): string {
  const widths = columns.map(key => {
    const info = catalog.info(key);
    const texts = cells.map(record => readingText(record.readings[key], info.unit));
    return fitColumn([info.label, ...texts], 5.4);
  });
  return `2.6em minmax(var(--nbp-cell-min), 22em) ${widths.join(' ')}`;
}

function CellsTable(props: { model: PanelModel; catalog: Catalog; detail: RunDetail; open: OpenRow }): JSX.Element {
  const { model, catalog, detail, open } = props;
  const columns = model.columns;
  const root = React.useRef<HTMLDivElement>(null);
  const cells = detail.cells;
  useRenderTiming(root, detail);

  const chosen = model.chartMetric;
  const metric = chosen !== null && columns.includes(chosen) ? chosen : columns[0] ?? '';
  const info = catalog.info(metric);
  const bars: Bar[] = cells.map(record => {
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
  // A key the catalog does not know takes its unit from its readings.
  const unit = info.unit || (cells.find(c => c.readings[metric])?.readings[metric].unit ?? '');
  const failures = cells.filter(c => c.verdict_status === 'fail').length;
  const deaths = React.useMemo(() => cells.filter(isDied).map(diedSummary), [cells]);
  const run = detail.run;
  const [hover, setHover] = React.useState<Bar | null>(null);
  const height = React.useCallback((i: number) => rowHeight(cells[i]), [cells]);
  const grid = React.useMemo(() => gridColumns(cells, columns, catalog), [cells, columns, catalog]);
  return (
    <div className="nbp-cells" ref={root} data-run={run.run_id} data-cells={cells.length}>
      <div className="nbp-summary">
        <span title={`run ${run.run_id} on ${run.host}`}>{formatStart(run.started_at)}</span>
        <span>{cells.length} cells</span>
        <span title={`sum of the cells' wall time${deaths.length > 0 ? DIED_TOTAL : ''}`}>
          total {run.wall_s === null ? UNAVAILABLE : `${deaths.length > 0 ? '~' : ''}${formatDuration(run.wall_s)}`}
        </span>
        <FailBadge failures={failures} />
        <DiedBadge summaries={deaths} />
      </div>
      {cells.length === 0 ? (
        <div className="nbp-empty">This run has no records yet.</div>
      ) : (
        <>
          <div className="nbp-chart-box">
            <div className="nbp-chart-caption">
              <MetricSelect
                label="Chart"
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
                const record = cells.find(c => String(c.id) === key);
                if (record) {
                  open(key, { cellId: record.cell_id, source: record.source });
                }
              }}
            />
          </div>
          <div
            className="nbp-table nbp-cells-table"
            role="table"
            style={{ ['--nbp-cols' as string]: grid }}
          >
            <div className="nbp-row nbp-row-head" role="row">
              <span role="columnheader">#</span>
              <span role="columnheader">Cell</span>
              {columns.map(key => {
                const m = catalog.info(key);
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
                  catalog={catalog}
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
