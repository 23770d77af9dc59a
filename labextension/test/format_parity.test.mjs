// The panel's formatters against Python's: format_cases.json is written by
// tests/fixtures/format_cases.py from nbprofile/format.py (do not edit it by hand).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { formatPercent, formatValue } from '../lib/format.js';

const cases = JSON.parse(readFileSync(new URL('./format_cases.json', import.meta.url), 'utf8'));

test('formatValue agrees with format_value', () => {
  assert.ok(cases.value.length > 0);
  for (const { value, unit, text } of cases.value) {
    assert.equal(formatValue(value, unit), text, `formatValue(${value}, ${JSON.stringify(unit)})`);
  }
});

test('formatPercent agrees with format_percent', () => {
  assert.ok(cases.percent.length > 0);
  for (const { fraction, signed, text } of cases.percent) {
    assert.equal(formatPercent(fraction, { signed }), text, `formatPercent(${fraction}, {signed: ${signed}})`);
  }
});
