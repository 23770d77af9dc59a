/**
 * The render benchmark (bench/panel_render.py): `performance` marks from a
 * run's data arriving to the cells view's layout, and to the next paint. The
 * durations also land on the view's node as `data-render-layout-ms` and
 * `data-render-paint-ms`.
 */
import * as React from 'react';

/** Names of the `performance` entries the render benchmark reads. */
export const PERF = {
  data: 'nbprofile:cells:data',
  layout: 'nbprofile:cells:layout',
  paint: 'nbprofile:cells:paint'
};

/** A run's detail has arrived: the clock starts. */
export function markDataArrived(): void {
  performance.clearMarks(PERF.data);
  performance.mark(PERF.data);
}

/** Measure, after each commit that changes `data`, how long layout and paint took since it arrived. */
export function useRenderTiming(root: React.RefObject<HTMLElement>, data: unknown): void {
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
  }, [root, data]);
}
