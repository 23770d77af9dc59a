/**
 * A budget limit's chip: the mark, the key, the value against the limit, and
 * its tooltip. The numbers are Python's own strings (`value_text`,
 * `threshold_text`, `text`: what the footer under the cell says); records from
 * an older server, which lack them, are formatted here.
 */
import type { Catalog } from './catalog.js';
import { UNAVAILABLE, formatValue } from './format.js';
import type { LimitVerdict } from './types.js';

export interface ShownLimit {
  /** `✓ time 12.0 ms ≤ 1 s`. */
  text: string;
  /** `time<=1s pass: time 12.0 ms <= 1 s`. */
  title: string;
}

const MARKS = { pass: '✓', fail: '✗', unmeasurable: '?' } as const;

/** The comparison a chip shows: how the limit held, or how it was broken (as the footer words it). */
function comparison(item: LimitVerdict): string {
  const strict = item.limit.op === '<';
  if (item.status !== 'fail') {
    return strict ? '<' : '≤';
  }
  const over = item.value !== null && item.threshold !== null && item.value > item.threshold;
  return over ? '>' : '≥';
}

export function showLimit(item: LimitVerdict, catalog: Catalog): ShownLimit {
  const { limit } = item;
  const unit = catalog.budgetMetric(limit.key)?.unit ?? '';
  const fallbackValue = item.value === null ? UNAVAILABLE : formatValue(item.value, unit);
  const fallbackThreshold = item.threshold === null ? limit.text : formatValue(item.threshold, unit);
  // `undefined`: an older server; `null`: there is no value / threshold.
  const value = item.value_text === undefined ? fallbackValue : item.value_text ?? UNAVAILABLE;
  const threshold = item.threshold_text === undefined ? fallbackThreshold : item.threshold_text ?? limit.text;
  const status = item.status === 'unmeasurable' ? 'not measurable' : item.status;
  const detail = item.text ?? item.reason;
  return {
    text: `${MARKS[item.status]} ${limit.key} ${value} ${comparison(item)} ${threshold}`,
    title: `${limit.text} ${status}${detail ? `: ${detail}` : ''}`
  };
}
