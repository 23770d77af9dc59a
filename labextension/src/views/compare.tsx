/**
 * The compare view: two runs of the notebook cell by cell (B − A), each cell
 * by its latest execution in each run, their totals, a chart of the change per
 * cell, and the cells that regressed, each naming the metrics that did and by
 * how much. At the sidebar's opening width a row shows B and the change of the
 * chosen metric; a wider one shows A, B, Δ and %. A row's detail shows every
 * metric (views/compare-detail.tsx).
 */
import * as React from 'react';

import type { Catalog, MetricInfo } from '../catalog.js';
import { RegressionBadge } from '../components/badges.js';
import { Bar, DeltaChart } from '../components/charts.js';
import { DeltaCells, deltaTexts } from '../components/delta-cells.js';
import { EmptyBox } from '../components/empty-state.js';
import { Loading } from '../components/loadable.js';
import { NumberCell } from '../components/number-cell.js';
import { ROW_PX, TALL_ROW_PX, fitColumn } from '../components/rows.js';
import { MetricSelect, RunSelect } from '../components/selects.js';
import { useWidth } from '../components/use-width.js';
import { VirtualRows } from '../components/virtual-rows.js';
import { DIED_MARK, DIED_MISSING, diedIn } from '../died.js';
import { UNAVAILABLE, formatDelta, formatPercent } from '../format.js';
import type { PanelModel } from '../model.js';
import type { OpenRow } from '../reveal.js';
import { firstLine, showCompared } from '../show.js';
import type { CompareCell, CompareResponse } from '../types.js';
import { CompareTotalsTable } from './compare-totals.js';

/** From this width (px) a compared row has room for A and Δ as well as B and %. */
export const WIDE_COMPARE_PX = 420;

export function CompareView(props: { model: PanelModel; catalog: Catalog; open: OpenRow }): JSX.Element {
  const { model, catalog, open } = props;
  const runs = model.state.kind === 'ready' ? model.state.runs : [];
  const pair = model.comparedRuns;
  if (pair === null) {
    return (
      <EmptyBox kind="one-run" title="Compare needs two runs">
        Run the notebook again (restart the kernel, then Run → Run All Cells) to compare the new run with this one.
      </EmptyBox>
    );
  }
  const [a, b] = pair;
  return (
    <div className="nbp-compare-view">
      <div className="nbp-toolbar nbp-toolbar-stacked">
        <RunSelect label="A" name="a" runs={runs} value={a.run_id} onChange={id => model.setCompare(id, b.run_id)} />
        <RunSelect label="B" name="b" runs={runs} value={b.run_id} onChange={id => model.setCompare(a.run_id, id)} />
      </div>
      <Loading value={model.comparison} empty="">
        {data => <CompareTable model={model} catalog={catalog} data={data} open={open} />}
      </Loading>
    </div>
  );
}

/**
 * A row's regression mark: its words name each metric that regressed and by
 * how much (`regressed: CPU +31.7%`), its tooltip the server's full text
 * (`CPU +31.7% (410 ms → 540 ms)`). `null`: nothing regressed, whatever the
 * numbers did (a row that improved never has one).
 */
export function regressionTag(cell: CompareCell): { text: string; title: string } | null {
  const found = cell.regressions ?? [];
  if (!cell.regression) {
    return null;
  }
  if (found.length === 0) {
    return { text: 'regression', title: 'a regression (this server does not say in what)' }; // an older server
  }
  return {
    text: `regressed: ${found.map(r => `${r.label} ${formatPercent(r.pct, { signed: true })}`).join(', ')}`,
    title: found.map(r => r.text).join('\n')
  };
}

/** A cell's change in the chart's readout: `+12.0 ms (+4.00%)`. */
function describeChange(cell: CompareCell, metric: string, unit: string): string {
  const died = diedIn(cell);
  if (died !== null) {
    return `kernel died in ${died === 'both' ? 'both runs' : `run ${died}`}: no change computed`;
  }
  const d = cell.delta[metric];
  if (d?.abs === null || d?.abs === undefined) {
    return UNAVAILABLE;
  }
  return `${formatDelta(d.abs, unit)}${d.pct === null ? '' : ` (${formatPercent(d.pct, { signed: true })})`}`;
}

function CompareTable(props: {
  model: PanelModel;
  catalog: Catalog;
  data: CompareResponse;
  open: OpenRow;
}): JSX.Element {
  const { model, catalog, data, open } = props;
  const root = React.useRef<HTMLDivElement>(null);
  const wide = useWidth(root, 240) >= WIDE_COMPARE_PX;
  const has = (key: string) => data.totals.a[key] != null || data.totals.b[key] != null;
  const measured = data.metrics.filter(has);
  const unmeasured = data.metrics.filter(key => !has(key));
  const metrics = measured.length > 0 ? measured : data.metrics.slice(0, 1);
  const chosen = model.chartMetric;
  const metric = chosen !== null && metrics.includes(chosen) ? chosen : metrics[0] ?? '';
  const info = catalog.info(metric);
  const regressions = data.cells.filter(c => c.regression).length;
  const bars: Bar[] = data.cells.map(cell => ({
    key: cell.key,
    value: cell.delta[metric]?.abs ?? null,
    label: `${firstLine(cell.source)}: ${describeChange(cell, metric, info.unit)}`
  }));
  const openCell = (cell: CompareCell) => open(cell.key, { cellId: cell.cell_id, source: cell.source });
  const [hover, setHover] = React.useState<Bar | null>(null);
  const height = React.useCallback((i: number) => (data.cells[i].regression ? TALL_ROW_PX : ROW_PX), [data.cells]);
  const grid = React.useMemo(
    () => compareColumns(data.cells, catalog.info(metric), wide),
    [data.cells, metric, catalog, wide]
  );
  return (
    <div
      className="nbp-compare"
      ref={root}
      data-a={data.a.run_id}
      data-b={data.b.run_id}
      data-regressions={regressions}
      data-layout={wide ? 'wide' : 'narrow'}
    >
      <div className="nbp-summary">
        <span>{data.cells.length} cells</span>
        {(data.left_out ?? 0) > 0 && (
          <span title="nbprofile's own magic cells (%nbprofile …, %load_ext nbprofile) are not compared">
            {data.left_out} nbprofile cell(s) left out
          </span>
        )}
        <RegressionBadge regressions={regressions} fraction={catalog.regressionFraction} />
      </div>
      <CompareTotalsTable
        totals={data.totals}
        measured={measured}
        unmeasured={unmeasured}
        catalog={catalog}
        wide={wide}
      />
      <div className="nbp-chart-box">
        <div className="nbp-chart-caption">
          <MetricSelect
            label="Change in"
            name="metric"
            value={metric}
            keys={metrics}
            catalog={catalog}
            onChange={k => model.setChartMetric(k)}
          />
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
      <div className="nbp-table nbp-compare-table" role="table" style={{ ['--nbp-cols' as string]: grid }}>
        <div className="nbp-row nbp-row-head nbp-compare-row" role="row">
          <span role="columnheader">Cell</span>
          {wide && (
            <span role="columnheader" className="nbp-num" title={info.title}>
              {info.label} A
            </span>
          )}
          <span role="columnheader" className="nbp-num" title={info.title}>
            {info.label} B
          </span>
          {wide && (
            <span role="columnheader" className="nbp-num">
              Δ
            </span>
          )}
          <span role="columnheader" className="nbp-num" title="B − A, as a share of A">
            %
          </span>
        </div>
        <VirtualRows
          count={data.cells.length}
          height={height}
          scroller=".nbp-body"
          row={i => (
            <CompareRow
              key={data.cells[i].key}
              cell={data.cells[i]}
              metric={info}
              wide={wide}
              selected={model.selectedRow === data.cells[i].key}
              open={openCell}
            />
          )}
        />
      </div>
    </div>
  );
}

const missing = (run: string) => `not measured in run ${run}, or the cell did not run in it`;
/** Why a compared value is missing: the kernel died in the cell, or the run did not measure it. */
const missingIn = (status: string | null | undefined, run: string) => (status === 'died' ? DIED_MISSING : missing(run));

/** What a compared cell's row shows for a metric: A, B and the change. */
function showCell(cell: CompareCell, metric: MetricInfo) {
  const key = metric.key;
  const d = cell.delta[key];
  return {
    a: showCompared(cell.a[key], metric.unit, missingIn(cell.status_a, 'A'), cell.method_a?.[key]),
    b: showCompared(cell.b[key], metric.unit, missingIn(cell.status_b, 'B'), cell.method_b?.[key]),
    abs: d?.abs,
    pct: d?.pct
  };
}

/** The grid template: cell, then (wide) A, B and Δ as wide as the longest of them, then %. */
function compareColumns(cells: CompareCell[], metric: MetricInfo, wide: boolean): string {
  const numbers: string[] = [metric.label + ' B'];
  const percents: string[] = [];
  for (const cell of cells) {
    const { a, b, abs, pct } = showCell(cell, metric);
    const [delta, percent] = deltaTexts(abs, pct, metric.unit);
    numbers.push(b.text, ...(wide ? [a.text, delta] : []));
    percents.push(percent);
  }
  const number = fitColumn(numbers, 4.6);
  const percent = fitColumn(percents, 3.6);
  return wide
    ? `minmax(0, 1fr) ${number} ${number} ${number} ${percent}`
    : `minmax(0, 1fr) ${number} ${percent}`;
}

/** A died cell's badge tooltip: why its row has no change. */
function diedTitle(died: 'A' | 'B' | 'both'): string {
  const where = died === 'both' ? 'both runs' : `run ${died}`;
  const why = 'its numbers stop where the kernel was last seen, so no change is computed';
  return `the kernel died in this cell in ${where}: ${why}`;
}

function CompareRow(props: {
  cell: CompareCell;
  metric: MetricInfo;
  wide: boolean;
  selected: boolean;
  open: (cell: CompareCell) => void;
}): JSX.Element {
  const { cell, metric, wide, selected, open } = props;
  const { a, b, abs, pct } = showCell(cell, metric);
  const died = diedIn(cell);
  const tag = regressionTag(cell);
  const classes = `nbp-row nbp-compare-row nbp-clickable${cell.regression ? ' nbp-row-regression nbp-row-tall' : ''}${
    died ? ' nbp-row-fail nbp-row-died' : ''
  }${selected ? ' nbp-row-selected' : ''}`;
  return (
    <div
      role="row"
      tabIndex={0}
      aria-selected={selected}
      data-key={cell.key}
      data-regression={cell.regression ? 'true' : 'false'}
      data-died={died ?? ''}
      className={classes}
      onClick={() => open(cell)}
      onKeyDown={e => {
        if (e.key === 'Enter') {
          e.preventDefault();
          open(cell);
        }
      }}
    >
      <span className="nbp-source" title={cell.source}>
        {died && (
          <span className="nbp-badge nbp-badge-fail nbp-died" title={diedTitle(died)}>
            {DIED_MARK} died{died === 'both' ? '' : ` in ${died}`}
          </span>
        )}
        <span className="nbp-source-text">{firstLine(cell.source)}</span>
      </span>
      {wide && <NumberCell shown={a} />}
      <NumberCell shown={b} />
      {wide ? (
        <DeltaCells value={abs} pct={pct} unit={metric.unit} />
      ) : (
        <DeltaCells value={abs} pct={pct} unit={metric.unit} only="pct" />
      )}
      {tag && (
        <span className="nbp-regressed" title={tag.title}>
          ▲ {tag.text}
        </span>
      )}
    </div>
  );
}
