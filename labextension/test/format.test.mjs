// Table tests of the panel's pure formatters (node's own test runner, no dependencies):
//   jlpm test        (builds lib/ first)
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  firstLine,
  formatBytes,
  formatCO2,
  formatDuration,
  formatEnergy,
  formatPercent,
  formatUSD,
  formatValue,
  metricInfo,
  showReading
} from '../lib/format.js';

const table = (fn, rows) => {
  for (const [input, expected] of rows) {
    assert.equal(fn(input), expected, `${fn.name}(${input})`);
  }
};

test('durations', () =>
  table(formatDuration, [
    [0, '0 s'],
    [1.23e-5, '12.3 µs'],
    [0.0042, '4.20 ms'],
    [2.314, '2.31 s'],
    [3725, '1 h 02 min']
  ]));

test('bytes, energy, CO2, dollars, percent', () => {
  table(formatBytes, [
    [512, '512 B'],
    [1288490188, '1.20 GiB'],
    [-65536, '-64.0 KiB']
  ]);
  table(formatEnergy, [
    [0.5, '500 mJ'],
    [5400, '1.50 Wh']
  ]);
  table(formatCO2, [
    [3e-5, '30.0 µg'],
    [3.2, '3.20 g'],
    [4500, '4.50 kg']
  ]);
  table(formatUSD, [
    [0.000412, '$0.000412'],
    [0.05, '$0.05'],
    [12.5, '$12.50'],
    [9e-10, '$9.0e-10']
  ]);
  table(formatPercent, [
    [0.1234, '+12.3%'],
    [-0.0041, '-0.41%']
  ]);
  assert.equal(formatValue(3, 'widgets'), '3.00 widgets');
  assert.deepEqual([0, 1, 3, 1500].map(n => formatValue(n, 'calls')), ['0 calls', '1 call', '3 calls', '1.50k calls']);
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

test('cell labels skip cell magics', () => {
  assert.equal(firstLine('%%budget time<=1s\n\ntrain(model)\nmore()'), 'train(model)');
  assert.equal(firstLine('%%budget time<=1s'), '%%budget time<=1s');
  assert.equal(firstLine('  \n'), '(empty cell)');
});

test('reading keys nbprofile adds later get a unit from their suffix', () => {
  assert.equal(metricInfo('gpu0_energy_j').unit, 'J');
  assert.equal(metricInfo('rss_peak_bytes').label, 'RAM');
});
