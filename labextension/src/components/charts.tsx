/**
 * Two small inline SVG charts, no chart library: bars of one metric per cell,
 * and the per-cell change of a metric between two runs around a zero line.
 *
 * Bars of a kind are drawn as one `<path>` (a run of 2,000 cells is four
 * elements, not 2,000); the bar under the pointer is found from its x
 * position and reported through `onHover`, so the caller can show its label.
 * Colours come from JupyterLab's CSS variables (see style/base.css).
 */
import * as React from 'react';

export interface Bar {
  key: string;
  value: number | null;
  /** What the caller shows while the pointer is on the bar, e.g. `[3] train(model): 1.52 s`. */
  label: string;
  /** Drawn in the failure colour (a failed budget). */
  bad?: boolean;
}

const HEIGHT = 48;

type Kind = 'normal' | 'bad' | 'good' | 'missing' | 'selected';

const CLASSES: Record<Kind, string> = {
  normal: 'nbp-bar',
  bad: 'nbp-bar nbp-bar-bad',
  good: 'nbp-bar nbp-bar-good',
  missing: 'nbp-bar nbp-bar-missing',
  selected: 'nbp-bar nbp-bar-selected'
};

interface ChartProps {
  bars: Bar[];
  title: string;
  selected: string | null;
  onSelect: (key: string) => void;
  onHover: (bar: Bar | null) => void;
}

/** Path segments per kind of bar, given each bar's top and height. */
function paths(
  bars: Bar[],
  shape: (bar: Bar) => { kind: Kind; y: number; h: number },
  selected: string | null
): [Kind, string][] {
  const gap = bars.length > 120 ? 0 : 0.15;
  const out: Record<Kind, string[]> = { normal: [], bad: [], good: [], missing: [], selected: [] };
  bars.forEach((bar, i) => {
    const { kind, y, h } = shape(bar);
    const x = i + gap / 2;
    const w = 1 - gap;
    out[bar.key === selected && kind !== 'missing' ? 'selected' : kind].push(
      `M${x.toFixed(3)} ${y.toFixed(2)}h${w.toFixed(3)}v${h.toFixed(2)}h${(-w).toFixed(3)}z`
    );
  });
  return (Object.keys(out) as Kind[]).filter(k => out[k].length > 0).map(k => [k, out[k].join('')]);
}

function Chart(props: ChartProps & { className: string; children?: React.ReactNode; segments: [Kind, string][] }): JSX.Element {
  const { bars, title, onSelect, onHover } = props;
  const n = Math.max(bars.length, 1);
  const at = (e: React.MouseEvent<SVGSVGElement>): Bar | null => {
    const box = e.currentTarget.getBoundingClientRect();
    const i = Math.floor(((e.clientX - box.left) / Math.max(box.width, 1)) * n);
    return bars[Math.min(Math.max(i, 0), bars.length - 1)] ?? null;
  };
  return (
    <svg
      className={props.className}
      viewBox={`0 0 ${n} ${HEIGHT}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={title}
      onMouseMove={e => onHover(at(e))}
      onMouseLeave={() => onHover(null)}
      onClick={e => {
        const bar = at(e);
        if (bar !== null && bar.value !== null) {
          onSelect(bar.key);
        }
      }}
    >
      <title>{title}</title>
      {props.children}
      {props.segments.map(([kind, d]) => (
        <path key={kind} className={CLASSES[kind]} d={d} />
      ))}
    </svg>
  );
}

/** One bar per cell, heights relative to the largest; a missing value is a grey tick. */
export function BarChart(props: ChartProps): JSX.Element {
  let max = 0;
  for (const bar of props.bars) {
    if (bar.value !== null && bar.value > max) {
      max = bar.value;
    }
  }
  const segments = paths(
    props.bars,
    bar => {
      if (bar.value === null || max <= 0) {
        return { kind: 'missing', y: HEIGHT - 1.5, h: 1.5 };
      }
      const h = Math.max(0.75, (bar.value / max) * (HEIGHT - 2));
      return { kind: bar.bad ? 'bad' : 'normal', y: HEIGHT - h, h };
    },
    props.selected
  );
  return <Chart {...props} className="nbp-chart" segments={segments} />;
}

/** Per-cell change between two runs: up (worse) in the failure colour, down (better) in the success colour. */
export function DeltaChart(props: ChartProps): JSX.Element {
  let max = 0;
  for (const bar of props.bars) {
    if (bar.value !== null && Math.abs(bar.value) > max) {
      max = Math.abs(bar.value);
    }
  }
  const mid = HEIGHT / 2;
  const segments = paths(
    props.bars,
    bar => {
      if (bar.value === null || bar.value === 0 || max <= 0) {
        return { kind: 'missing', y: mid - 0.5, h: 1 };
      }
      const h = Math.max(0.75, (Math.abs(bar.value) / max) * (mid - 1));
      return bar.value > 0 ? { kind: 'bad', y: mid - h, h } : { kind: 'good', y: mid, h };
    },
    props.selected
  );
  const n = Math.max(props.bars.length, 1);
  return (
    <Chart {...props} className="nbp-chart nbp-chart-delta" segments={segments}>
      <line className="nbp-zero" x1={0} x2={n} y1={mid} y2={mid} />
    </Chart>
  );
}
