/**
 * The compare view: two runs of the notebook cell by cell (B − A), their
 * totals, a chart of the change per cell, and the cells that regressed.
 */
import * as React from 'react';

import type { Catalog, MetricInfo } from '../catalog.js';
import { RegressionBadge } from '../components/badges.js';
import { Bar, DeltaChart } from '../components/charts.js';
import { DeltaCells, deltaTexts } from '../components/delta-cells.js';
import { EmptyBox } from '../components/empty-state.js';
import { Loading } from '../components/loadable.js';
import { NumberCell } from '../components/number-cell.js';
import { ROW_PX, fitColumn } from '../components/rows.js';
import { DIED_MARK, DIED_MISSING, diedIn } from '../died.js';
import { MetricSelect, RunSelect } from '../components/selects.js';
import { VirtualRows } from '../components/virtual-rows.js';
import { UNAVAILABLE, formatDelta, formatPercent } from '../format.js';
import type { PanelModel } from '../model.js';
import type { OpenRow } from '../reveal.js';
import { firstLine, showCompared } from '../show.js';
import type { CompareCell, CompareResponse } from '../types.js';
import { CompareTotalsTable } from './compare-totals.js';

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
      <div className="nbp-toolbar">
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
 * A row's regression tag: its words name the metrics that regressed (`regressed: CPU`), its
 * tooltip says by how much (the server's text, as the CLI and reports print it). `null`: none.
 */
export function regressionTag(cell: CompareCell): { text: string; title: string } | null {
  const found = cell.regressions ?? [];
  if (!cell.regression) {
    return null;
  }
  if (found.length === 0) {
    return { text: 'regression', title: 'a regression (this server does not say in what)' }; // an older server
  }
  return { text: `regressed: ${found.map(r => r.label).join(', ')}`, title: found.map(r => r.text).join('\n') };
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
  const height = React.useCallback(() => ROW_PX, []);
  const grid = React.useMemo(() => compareColumns(data.cells, catalog.info(metric)), [data.cells, metric, catalog]);
  return (
    <div className="nbp-compare" data-regressions={regressions}>
      <div className="nbp-summary">
        <span>{data.cells.length} cells</span>
        {(data.left_out ?? 0) > 0 && (
          <span title="nbprofile's own magic cells (%nbprofile …, %load_ext nbprofile) are not compared">
            {data.left_out} nbprofile cell(s) left out
          </span>
        )}
        <RegressionBadge regressions={regressions} fraction={catalog.regressionFraction} />
      </div>
      <CompareTotalsTable totals={data.totals} measured={measured} unmeasured={unmeasured} catalog={catalog} />
      <div className="nbp-chart-box">
        <div className="nbp-chart-caption">
          <MetricSelect
            label="Change in"
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
          <span role="columnheader" className="nbp-num" title={info.title}>
            {info.label} A
          </span>
          <span role="columnheader" className="nbp-num" title={info.title}>
            {info.label} B
          </span>
          <span role="columnheader" className="nbp-num">
            Δ
          </span>
          <span role="columnheader" className="nbp-num">
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

/** The grid template: cell, then A, B and Δ as wide as the longest of them, then %. */
function compareColumns(cells: CompareCell[], metric: MetricInfo): string {
  const numbers: string[] = [metric.label + ' A'];
  const percents: string[] = [];
  for (const cell of cells) {
    const { a, b, abs, pct } = showCell(cell, metric);
    const [delta, percent] = deltaTexts(abs, pct, metric.unit);
    numbers.push(a.text, b.text, delta);
    percents.push(percent);
  }
  const number = fitColumn(numbers, 5.6);
  return `minmax(7em, 16em) ${number} ${number} ${number} ${fitColumn(percents, 4.6)}`;
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
  selected: boolean;
  open: (cell: CompareCell) => void;
}): JSX.Element {
  const { cell, metric, selected, open } = props;
  const { a, b, abs, pct } = showCell(cell, metric);
  const died = diedIn(cell);
  const tag = regressionTag(cell);
  const classes = `nbp-row nbp-compare-row nbp-clickable${cell.regression ? ' nbp-row-regression' : ''}${
    died ? ' nbp-row-fail nbp-row-died' : ''
  }${selected ? ' nbp-row-selected' : ''}`;
  return (
    <div
      role="row"
      tabIndex={0}
      data-key={cell.key}
      data-regression={cell.regression ? 'true' : 'false'}
      data-died={died ?? ''}
      className={classes}
      onClick={() => open(cell)}
      onKeyDown={e => e.key === 'Enter' && open(cell)}
    >
      <span className="nbp-source" title={cell.source}>
        {tag && (
          <span className="nbp-tag nbp-tag-error" title={tag.title}>
            {tag.text}
          </span>
        )}
        {died && (
          <>
            <span className="nbp-badge nbp-badge-fail nbp-died" title={diedTitle(died)}>
              {DIED_MARK} died{died === 'both' ? '' : ` in ${died}`}
            </span>{' '}
          </>
        )}
        {firstLine(cell.source)}
      </span>
      <NumberCell shown={a} />
      <NumberCell shown={b} />
      <DeltaCells value={abs} pct={pct} unit={metric.unit} />
    </div>
  );
}
