/**
 * What a table cell shows: a reading or a compared number as text, with the
 * tooltip that says how it was obtained and a method for its CSS class; a
 * cell's one-line label; a run's start time. Pure functions of the data.
 */
import { UNAVAILABLE, formatValue } from './format.js';
import type { CellRecord, Method, Reading, TotalMethod } from './types.js';

/** What a table cell shows for one number: text, tooltip, and a class for its method. */
export interface Shown {
  text: string;
  title: string;
  method: Method | 'missing';
}

/** Only the text `showReading` gives: `~42.0 J`, `n/a` (cheaper: no tooltip built). */
export function readingText(reading: Reading | undefined, unit: string): string {
  if (reading === undefined || reading.value === null || reading.method === 'unavailable') {
    return UNAVAILABLE;
  }
  const value = formatValue(reading.value, reading.unit || unit);
  return reading.method === 'measured' ? value : `~${value}`;
}

/** A reading: `~` and how for an estimate or a sample, `n/a` and why for none. */
export function showReading(reading: Reading | undefined, unit: string): Shown {
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
 * A compared value: `~` and a title when it was estimated or sampled; for a
 * run's total (`total` given), `≥` when some cells had no value, so that the
 * figure (their sum, or for a peak their largest) covers only the others.
 */
export function showCompared(
  value: number | null | undefined,
  unit: string,
  missing: string,
  method?: Method | null,
  total?: TotalMethod,
  peak = false
): Shown {
  if (value === null || value === undefined) {
    return { text: UNAVAILABLE, title: missing, method: 'unavailable' };
  }
  const how = total?.method ?? method ?? 'measured';
  const estimate = how === 'estimated' || how === 'sampled';
  const partial = total !== undefined && total.cells < total.of;
  const text = `${partial ? '≥ ' : ''}${estimate ? '~' : ''}${formatValue(value, unit)}`;
  const over = peak ? 'largest of' : 'sum over';
  const titles = [
    estimate ? (total ? `${how}: includes ${how} values` : how) : '',
    partial ? `${over} ${total.cells} of ${total.of} cells; the others could not be measured` : ''
  ];
  return { text, title: titles.filter(t => t).join('; '), method: how };
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

/** A record's row label: its execution count `[3]`, else its place in the run `#3`. */
export function rowLabel(record: CellRecord): string {
  return record.execution_count !== null ? `[${record.execution_count}]` : `#${record.seq}`;
}

/** A run's start: the time today, the date and time before. */
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
