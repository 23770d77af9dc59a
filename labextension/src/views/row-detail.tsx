/**
 * The selected row's detail, under the open view (outside its scrolling body,
 * so the windowed rows keep their fixed heights): a record's in the cells
 * view, a compared cell's in the compare view. Nothing when no row's detail is
 * open or the row is gone (another run shown, new data).
 */
import * as React from 'react';

import type { Catalog } from '../catalog.js';
import type { PanelModel } from '../model.js';
import { CellDetail } from './cell-detail.js';
import { CompareDetail } from './compare-detail.js';
import { cellKey } from './executions.js';

export function RowDetail(props: {
  model: PanelModel;
  catalog: Catalog;
  /** The view's scrolling body, where the selected row is. */
  body: React.RefObject<HTMLElement>;
}): JSX.Element | null {
  const { model, catalog, body } = props;
  const key = model.selectedRow;
  const open = model.detailOpen && key !== null;
  // The detail takes room from the view: keep the row it is about in sight.
  React.useLayoutEffect(() => {
    if (open) {
      body.current?.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' });
    }
  }, [open, key, body]);
  if (!open) {
    return null;
  }
  const close = () => model.closeDetail();
  if (model.view === 'cells' && model.detail.kind === 'ok') {
    const cells = model.detail.data.cells;
    const record = cells.find(c => String(c.id) === key);
    if (record === undefined) {
      return null;
    }
    const executions = cells.filter(c => cellKey(c) === cellKey(record));
    return (
      <CellDetail record={record} executions={executions} columns={model.columns} catalog={catalog} onClose={close} />
    );
  }
  if (model.view === 'compare' && model.comparison.kind === 'ok') {
    const data = model.comparison.data;
    const cell = data.cells.find(c => c.key === key);
    if (cell === undefined) {
      return null;
    }
    const measured = data.metrics.filter(m => data.totals.a[m] != null || data.totals.b[m] != null);
    return <CompareDetail cell={cell} metrics={measured} catalog={catalog} onClose={close} />;
  }
  return null;
}
