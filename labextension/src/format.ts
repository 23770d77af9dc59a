/**
 * Pure formatters, the same rules as `nbprofile/format.py` (three significant
 * figures, binary byte units), and the metric table the panel's columns use.
 * They never see a missing number: callers show `n/a` with its reason.
 */
import type { Reading } from './types';

export const UNAVAILABLE = 'n/a';

/** Three significant figures at most (two below 1, so that 0.0042 stays 0.0042, not 0.00). */
function sig(value: number): string {
  const a = Math.abs(value);
  if (a >= 100) {
    return value.toFixed(0);
  }
  if (a >= 10) {
    return value.toFixed(1);
  }
  if (a >= 1 || a === 0) {
    return value.toFixed(2);
  }
  return String(Number(value.toPrecision(2)));
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) {
    return String(seconds);
  }
  const sign = seconds < 0 ? '-' : '';
  const s = Math.abs(seconds);
  if (s === 0) {
    return '0 s';
  }
  if (s < 1e-6) {
    return `${sign}${sig(s * 1e9)} ns`;
  }
  if (s < 1e-3) {
    return `${sign}${sig(s * 1e6)} µs`;
  }
  if (s < 1) {
    return `${sign}${sig(s * 1e3)} ms`;
  }
  if (s < 60) {
    return `${sign}${sig(s)} s`;
  }
  if (s < 3600) {
    const r = Math.round(s);
    return `${sign}${Math.floor(r / 60)} min ${String(r % 60).padStart(2, '0')} s`;
  }
  const r = Math.round(s);
  return `${sign}${Math.floor(r / 3600)} h ${String(Math.floor((r % 3600) / 60)).padStart(2, '0')} min`;
}

const BINARY: [string, number][] = [
  ['TiB', 1024 ** 4],
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024]
];

export function formatBytes(n: number): string {
  const sign = n < 0 ? '-' : '';
  const a = Math.abs(n);
  for (const [unit, size] of BINARY) {
    if (a >= size) {
      return `${sign}${sig(a / size)} ${unit}`;
    }
  }
  return `${sign}${a.toFixed(0)} B`;
}

export function formatEnergy(joules: number): string {
  const sign = joules < 0 ? '-' : '';
  const j = Math.abs(joules);
  if (j === 0) {
    return '0 J';
  }
  if (j < 1) {
    return `${sign}${sig(j * 1e3)} mJ`;
  }
  if (j < 3600) {
    return `${sign}${sig(j)} J`;
  }
  if (j < 3.6e6) {
    return `${sign}${sig(j / 3600)} Wh`;
  }
  return `${sign}${sig(j / 3.6e6)} kWh`;
}

export function formatCO2(grams: number): string {
  const sign = grams < 0 ? '-' : '';
  const g = Math.abs(grams);
  if (g === 0) {
    return '0 g';
  }
  if (g < 1e-3) {
    return `${sign}${sig(g * 1e6)} µg`;
  }
  if (g < 1) {
    return `${sign}${sig(g * 1e3)} mg`;
  }
  if (g < 1000) {
    return `${sign}${sig(g)} g`;
  }
  return `${sign}${sig(g / 1000)} kg`;
}

export function formatUSD(dollars: number): string {
  const sign = dollars < 0 ? '-' : '';
  const d = Math.abs(dollars);
  if (d === 0) {
    return '$0';
  }
  if (d >= 1) {
    return `${sign}$${d.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  }
  if (d < 1e-4) {
    // a fraction of a hundredth of a cent: the exponent is shorter than the zeros
    return `${sign}$${d.toExponential(1)}`;
  }
  const decimals = Math.max(2, 2 - Math.floor(Math.log10(d)));
  let text = d.toFixed(decimals).replace(/0+$/, '');
  if ((text.split('.')[1] ?? '').length < 2) {
    text = d.toFixed(2);
  }
  return `${sign}$${text}`;
}

export function formatCount(n: number): string {
  const sign = n < 0 ? '-' : '';
  const a = Math.abs(n);
  for (const [suffix, size] of [
    ['T', 1e12],
    ['G', 1e9],
    ['M', 1e6],
    ['k', 1e3]
  ] as [string, number][]) {
    if (a >= size) {
      return `${sign}${sig(a / size)}${suffix}`;
    }
  }
  return `${sign}${a.toFixed(0)}`;
}

/** A relative change given as a fraction: `0.123` is `+12.3%`. */
export function formatPercent(fraction: number): string {
  const pct = fraction * 100;
  const text = `${sig(pct)}%`;
  return pct > 0 ? `+${text}` : text;
}

const BY_UNIT: Record<string, (v: number) => string> = {
  s: formatDuration,
  B: formatBytes,
  J: formatEnergy,
  g: formatCO2,
  USD: formatUSD,
  tokens: formatCount,
  FLOP: formatCount,
  calls: n => `${formatCount(n)} ${n === 1 ? 'call' : 'calls'}` // a count: never "0.00 calls"
};

/** A value in its base unit, e.g. `formatValue(1.5, 's')` is `1.50 s`. */
export function formatValue(value: number, unit: string): string {
  const formatter = BY_UNIT[unit];
  return formatter ? formatter(value) : `${sig(value)} ${unit}`.trim();
}

/** A signed difference: `+1.20 s`, `-3.00 MiB`. */
export function formatDelta(value: number, unit: string): string {
  const text = formatValue(value, unit);
  return value > 0 ? `+${text}` : text;
}

/** A column the cells view can show: a reading key with its label and unit. */
export interface MetricInfo {
  key: string;
  label: string;
  unit: string;
  /** What the column header's tooltip says. */
  title: string;
}

const METRIC_LIST: MetricInfo[] = [
  { key: 'wall_s', label: 'Time', unit: 's', title: 'wall-clock time of the cell' },
  { key: 'cpu_s', label: 'CPU', unit: 's', title: 'CPU time (user + system) of the kernel' },
  { key: 'gpu_time_s', label: 'GPU time', unit: 's', title: 'wall time with CUDA synchronised at both edges' },
  { key: 'rss_peak_bytes', label: 'RAM', unit: 'B', title: 'peak resident memory of the kernel during the cell' },
  { key: 'vram_peak_bytes', label: 'VRAM', unit: 'B', title: 'peak GPU memory (max over devices)' },
  { key: 'energy_j', label: 'Energy', unit: 'J', title: 'GPU + CPU + DRAM energy' },
  { key: 'gpu_energy_j', label: 'GPU energy', unit: 'J', title: 'GPU energy (sum over devices)' },
  { key: 'co2_g', label: 'CO2', unit: 'g', title: 'grams of CO2-equivalent for the energy' },
  { key: 'llm_tokens', label: 'Tokens', unit: 'tokens', title: 'LLM tokens, input + output' },
  { key: 'cost_usd', label: '$', unit: 'USD', title: 'compute + LLM cost in dollars' },
  { key: 'llm_cost_usd', label: 'LLM $', unit: 'USD', title: 'LLM cost in dollars' }
];

export const METRICS: ReadonlyMap<string, MetricInfo> = new Map(METRIC_LIST.map(m => [m.key, m]));

export const DEFAULT_COLUMNS = [
  'wall_s',
  'cpu_s',
  'rss_peak_bytes',
  'vram_peak_bytes',
  'energy_j',
  'co2_g',
  'llm_tokens',
  'cost_usd'
];

/** The metric of a reading key nbprofile may add later: label from the key, unit from its suffix. */
export function metricInfo(key: string): MetricInfo {
  const known = METRICS.get(key);
  if (known) {
    return known;
  }
  const suffixes: [string, string][] = [
    ['_s', 's'],
    ['_bytes', 'B'],
    ['_j', 'J'],
    ['_g', 'g'],
    ['_usd', 'USD'],
    ['_tokens', 'tokens']
  ];
  const found = suffixes.find(([suffix]) => key.endsWith(suffix));
  return { key, label: key, unit: found ? found[1] : '', title: key };
}

/** Budget keys (`%%budget time<=1s`) and the reading each limits; see `budget_grammar.METRICS`. */
export const BUDGET_KEYS: Record<string, { reading: string; unit: string }> = {
  time: { reading: 'wall_s', unit: 's' },
  cpu: { reading: 'cpu_s', unit: 's' },
  gpu_time: { reading: 'gpu_time_s', unit: 's' },
  ram: { reading: 'rss_peak_bytes', unit: 'B' },
  vram: { reading: 'vram_peak_bytes', unit: 'B' },
  energy: { reading: 'energy_j', unit: 'J' },
  gpu_energy: { reading: 'gpu_energy_j', unit: 'J' },
  co2: { reading: 'co2_g', unit: 'g' },
  tokens: { reading: 'llm_tokens', unit: 'tokens' },
  input_tokens: { reading: 'llm_input_tokens', unit: 'tokens' },
  output_tokens: { reading: 'llm_output_tokens', unit: 'tokens' },
  cost: { reading: 'cost_usd', unit: 'USD' },
  llm_cost: { reading: 'llm_cost_usd', unit: 'USD' }
};

/** What a table cell shows for one reading: text, tooltip, and a class for its method. */
export interface ShownReading {
  text: string;
  title: string;
  method: Reading['method'] | 'missing';
}

export function showReading(reading: Reading | undefined, unit: string): ShownReading {
  if (reading === undefined) {
    return {
      text: UNAVAILABLE,
      title: 'not recorded: no meter for this quantity was active in this run',
      method: 'missing'
    };
  }
  if (reading.value === null || reading.method === 'unavailable') {
    return {
      text: UNAVAILABLE,
      title: `unavailable: ${reading.note ?? 'no reason given'}`,
      method: 'unavailable'
    };
  }
  const value = formatValue(reading.value, reading.unit || unit);
  const how = reading.source ? ` (${reading.source})` : '';
  const note = reading.note ? `: ${reading.note}` : '';
  if (reading.method === 'measured') {
    return { text: value, title: `measured${how}${note}`, method: 'measured' };
  }
  return { text: `~${value}`, title: `${reading.method}${how}${note}`, method: reading.method };
}

/**
 * A one-line label for a cell: its first line of code, skipping cell magics
 * (`%%budget ...`: the chips show the budget), else its first non-empty line.
 */
export function firstLine(source: string): string {
  let fallback = '';
  for (const line of source.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed) {
      continue;
    }
    if (!trimmed.startsWith('%%')) {
      return trimmed;
    }
    fallback = fallback || trimmed;
  }
  return fallback || '(empty cell)';
}

export function formatStart(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  const today = new Date();
  const sameDay = date.toDateString() === today.toDateString();
  const time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return sameDay ? time : `${date.toLocaleDateString()} ${time}`;
}
