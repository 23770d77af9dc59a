/**
 * Rows rendered only where they can be seen: a run of 2,000 cells puts ~60
 * rows in the DOM, not 2,000 (see bench/panel_render.py). Row heights are
 * known in advance (the CSS fixes them), so the window is found by binary
 * search over their running offsets, from the scroll position of the panel's
 * scrolling body.
 */
import * as React from 'react';

/** Rows drawn beyond each edge of the visible area, in pixels. */
const OVERSCAN_PX = 800;
/** Rendered before the first measurement: enough for a tall screen. */
const INITIAL_PX = 2400;

/** The largest i with offsets[i] <= y (0 when y is above the first row). */
function indexAt(offsets: number[], y: number): number {
  let lo = 0;
  let hi = offsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= y) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

export function VirtualRows(props: {
  count: number;
  /** Height in px of row i; must match the CSS. */
  height: (i: number) => number;
  row: (i: number) => JSX.Element;
  /** The scrolling ancestor, found with `closest`. */
  scroller: string;
}): JSX.Element {
  const { count, height, row, scroller } = props;
  const offsets = React.useMemo(() => {
    const out = new Array<number>(count + 1);
    out[0] = 0;
    for (let i = 0; i < count; i++) {
      out[i + 1] = out[i] + height(i);
    }
    return out;
  }, [count, height]);
  const [range, setRange] = React.useState<[number, number]>([0, -1]);
  const box = React.useRef<HTMLDivElement>(null);

  React.useLayoutEffect(() => {
    const node = box.current;
    const parent = node?.closest(scroller) as HTMLElement | null | undefined;
    if (!node || !parent) {
      return;
    }
    let frame = 0;
    const update = () => {
      frame = 0;
      const top = parent.getBoundingClientRect().top - node.getBoundingClientRect().top;
      const first = Math.min(indexAt(offsets, top - OVERSCAN_PX), count);
      const last = Math.min(indexAt(offsets, top + parent.clientHeight + OVERSCAN_PX) + 1, count);
      setRange(prev => (prev[0] === first && prev[1] === last ? prev : [first, last]));
    };
    const schedule = () => {
      if (frame === 0) {
        frame = requestAnimationFrame(update);
      }
    };
    update();
    parent.addEventListener('scroll', schedule, { passive: true });
    const observer = new ResizeObserver(schedule);
    observer.observe(parent);
    return () => {
      parent.removeEventListener('scroll', schedule);
      observer.disconnect();
      if (frame !== 0) {
        cancelAnimationFrame(frame);
      }
    };
  }, [offsets, count, scroller]);

  const first = range[1] < 0 ? 0 : range[0];
  const last = range[1] < 0 ? Math.min(indexAt(offsets, INITIAL_PX) + 1, count) : Math.min(range[1], count);
  const rows: JSX.Element[] = [];
  for (let i = first; i < last; i++) {
    rows.push(row(i));
  }
  return (
    <div ref={box} className="nbp-rows" data-count={count} data-rendered={last - first}>
      <div style={{ height: offsets[first] }} />
      {rows}
      <div style={{ height: offsets[count] - offsets[last] }} />
    </div>
  );
}
