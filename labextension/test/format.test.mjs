// Table tests of the panel's pure formatters and display helpers (node's own test runner, no dependencies):
//   jlpm test        (builds lib/ first)
// format_parity.test.mjs checks formatValue and formatPercent against the cases Python wrote.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  COUNT,
  fixed,
  formatBytes,
  formatCO2,
  formatDelta,
  formatDuration,
  formatEnergy,
  formatPercent,
  formatUSD,
  formatValue
} from '../lib/format.js';
import { firstLine, readingText, showCompared, showReading } from '../lib/show.js';

const table = (fn, rows) => {
  for (const [input, expected] of rows) {
    assert.equal(fn(input), expected, `${fn.name}(${input})`);
  }
};

test('durations', () =>
  table(formatDuration, [
    [0, '0 s'],
    [1.23e-5, '12.3 µs'],
    [4.2e-7, '420 ns'],
    [0.0042, '4.20 ms'],
    [2.314, '2.31 s'],
    [90.5, '1 min 30 s'], // Python's round(): ties to even
    [3725, '1 h 02 min'],
    [Infinity, 'inf']
  ]));

test('bytes, energy, CO2, dollars, percent', () => {
  table(formatBytes, [
    [512, '512 B'],
    [1288490188, '1.20 GiB'],
    [-65536, '-64.0 KiB']
  ]);
  assert.equal(formatBytes(2048, { signed: true }), '+2.00 KiB');
  table(formatEnergy, [
    [0.5, '500 mJ'],
    [5400, '1.50 Wh']
  ]);
  table(formatCO2, [
    [3e-5, '30.0 µg CO2e'],
    [3.2, '3.20 g CO2e'],
    [4500, '4.50 kg CO2e']
  ]);
  table(formatUSD, [
    [0.000412, '$0.000412'],
    [0.05, '$0.05'],
    [12.5, '$12.50'],
    [1234567.891, '$1,234,567.89'],
    [9e-10, '<$0.000001']
  ]);
  assert.equal(formatPercent(0.1234), '12.3%');
  assert.equal(formatPercent(0.1234, { signed: true }), '+12.3%');
  assert.equal(formatPercent(-0.0041, { signed: true }), '-0.41%');
  assert.equal(formatValue(3, 'widgets'), '3.00 widgets');
  assert.equal(formatValue(1.2e-7, ''), '0.00000012'); // never an exponent
  assert.deepEqual([0, 1, 3, 1500].map(n => formatValue(n, 'calls')), ['0 calls', '1 call', '3 calls', '1.50k calls']);
  assert.equal(formatDelta(0.0012, 's'), '+1.20 ms');
  assert.equal(formatDelta(-2048, 'B'), '-2.00 KiB');
});

test("fixed() is Python's f-string: ties to even on the exact binary value, no exponents", () => {
  assert.equal(fixed(42.25, 1), '42.2');
  assert.equal(fixed(42.35, 1), '42.4'); // 42.35 is a little above the tie in binary
  assert.equal(fixed(0.125, 2), '0.12');
  assert.equal(fixed(0.375, 2), '0.38');
  assert.equal(fixed(2.5, 0), '2');
  assert.equal(fixed(-0.0001, 2), '-0.00');
  assert.equal(fixed(1e21, 0), '1000000000000000000000');
  assert.equal(fixed(1.2e-7, 8), '0.00000012');
  assert.equal(fixed(5e-324, 2), '0.00');
});

test('an unavailable reading is n/a with its reason, never 0', () => {
  const shown = showReading({ value: null, unit: 'B', method: 'unavailable', source: '', note: 'no NVIDIA GPU' }, 'B');
  assert.deepEqual(shown, { text: 'n/a', title: 'unavailable: no NVIDIA GPU', method: 'unavailable' });
  assert.equal(showReading(undefined, 's').text, 'n/a');
  assert.equal(showReading(undefined, 's').method, 'missing');
});

test('estimates and samples carry ~ and say how', () => {
  const shown = showReading({ value: 42, unit: 'J', method: 'estimated', source: 'tdp', note: 'CPU TDP x load' }, 'J');
  assert.equal(shown.text, '~42.0 J');
  assert.equal(shown.title, 'estimated (tdp): CPU TDP x load');
  assert.equal(showReading({ value: 1.5, unit: 's', method: 'measured', source: 'perf_counter', note: null }, 's').text, '1.50 s');
});

test('a partial total is a lower bound: a sum, or for a peak its largest cell', () => {
  const total = { method: 'estimated', cells: 2, of: 3 };
  const sum = showCompared(0.0123, 'g', 'none', null, total);
  assert.equal(sum.text, '≥ ~12.3 mg CO2e');
  assert.match(sum.title, /^estimated: includes estimated values; sum over 2 of 3 cells/);
  const peak = showCompared(2048, 'B', 'none', null, { method: 'measured', cells: 2, of: 3 }, true);
  assert.equal(peak.text, '≥ 2.00 KiB');
  assert.match(peak.title, /^largest of 2 of 3 cells/);
  assert.deepEqual(showCompared(null, 's', 'not measured in run A'), {
    text: 'n/a',
    title: 'not measured in run A',
    method: 'unavailable'
  });
});

test('counts of things read whole, in the catalog\'s unit even when a reading was stored without one', () => {
  const tasks = (value, unit) => ({ value, unit, method: 'measured', source: 'client.run', note: null });
  assert.equal(showReading(tasks(2, COUNT), COUNT).text, '2');
  assert.equal(readingText(tasks(1234, COUNT), COUNT), '1,234');
  // recorded before tasks had a unit: the catalog's count, not "2.00"
  assert.equal(showReading(tasks(2, ''), COUNT).text, '2');
  assert.equal(readingText(tasks(12400, ''), COUNT), '12,400');
  assert.equal(formatDelta(3, COUNT), '+3');
  assert.equal(formatDelta(-1500, COUNT), '-1,500');
  assert.equal(showCompared(7, COUNT, 'none').text, '7');
});

test('cell labels skip cell magics', () => {
  assert.equal(firstLine('%%budget time<=1s\n\ntrain(model)\nmore()'), 'train(model)');
  assert.equal(firstLine('%%budget time<=1s'), '%%budget time<=1s');
  assert.equal(firstLine('  \n'), '(empty cell)');
});

test('readingText is showReading’s text', () => {
  const readings = [
    undefined,
    { value: null, unit: 'B', method: 'unavailable', source: '', note: 'no GPU' },
    { value: 42, unit: 'J', method: 'estimated', source: 'tdp', note: null },
    { value: 1.5, unit: 's', method: 'measured', source: 'perf_counter', note: null },
    { value: 3, unit: '', method: 'sampled', source: 'nvml', note: null }
  ];
  for (const reading of readings) {
    assert.equal(readingText(reading, 'W'), showReading(reading, 'W').text);
  }
});
