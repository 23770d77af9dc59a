// The catalog as the server sends it (GET /nbprofile/api/metrics, /formats), and the verdict chips.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Catalog } from '../lib/catalog.js';
import { showLimit } from '../lib/verdict.js';

const metric = (key, unit, label, extra = {}) => ({
  key,
  unit,
  label,
  description: `the ${label}`,
  source: 'test',
  budget: null,
  aggregate: 'sum',
  regression_floor: null,
  column: false,
  ...extra
});

// A few entries shaped like nbprofile/metrics.py's, in an order of their own.
const catalog = new Catalog(
  {
    metrics: [
      metric('wall_s', 's', 'time', { budget: 'time', column: true, regression_floor: 0.01 }),
      metric('rss_peak_bytes', 'B', 'peak RAM', { budget: 'ram', aggregate: 'max', column: true }),
      metric('gpu{i}_energy_j', 'J', 'GPU energy', { description: 'energy of GPU i' }),
      metric('gpu_time_s', 's', 'GPU time', { budget: 'gpu_time' }),
      metric('co2_g', 'g', 'CO2e', { budget: 'co2', column: true })
    ],
    regression_fraction: 0.1
  },
  {
    formats: [
      { name: 'html', label: 'HTML', suffix: '.html', media_type: 'text/html; charset=utf-8', compares: true },
      { name: 'csv', label: 'CSV', suffix: '.csv', media_type: 'text/csv; charset=utf-8', compares: false }
    ]
  }
);

test('the default columns are the catalog’s, in its order', () => {
  assert.deepEqual([...catalog.columns()], ['wall_s', 'rss_peak_bytes', 'co2_g']);
  assert.equal(catalog.columns(), catalog.columns()); // one array: memoised rows see no change
});

test('families match any device; a key the catalog does not know is its own label', () => {
  assert.equal(catalog.metric('gpu0_energy_j')?.key, 'gpu{i}_energy_j');
  assert.equal(catalog.metric('gpu12_energy_j')?.key, 'gpu{i}_energy_j');
  assert.equal(catalog.metric('gpux_energy_j'), null);
  assert.equal(catalog.metric('xgpu0_energy_j'), null);
  const gpu = catalog.info('gpu3_energy_j');
  assert.deepEqual([gpu.label, gpu.unit, gpu.title], ['GPU energy [3]', 'J', 'energy of GPU 3']);
  const unknown = catalog.info('widgets_n', 'widgets');
  assert.deepEqual([unknown.label, unknown.unit, unknown.title, unknown.spec], ['widgets_n', 'widgets', 'widgets_n', null]);
  assert.equal(catalog.info('wall_s').title, 'the time');
});

test('budget keys, peaks and formats', () => {
  assert.equal(catalog.budgetMetric('time')?.key, 'wall_s');
  assert.equal(catalog.budgetMetric('ram')?.unit, 'B');
  assert.equal(catalog.budgetMetric('nope'), null);
  assert.equal(catalog.isPeak('rss_peak_bytes'), true);
  assert.equal(catalog.isPeak('wall_s'), false);
  assert.equal(catalog.info('rss_peak_bytes').peak, true);
  assert.deepEqual(catalog.formats.map(f => f.name), ['html', 'csv']);
  assert.equal(catalog.regressionFraction, 0.1);
});

const limit = (key, text, op = '<=') => ({ key, op, kind: 'absolute', value: 1, percent: null, text });

test('a chip shows Python’s strings: what the footer says', () => {
  const item = {
    limit: limit('time', 'time<=1s'),
    status: 'fail',
    value: 1.00496,
    threshold: 1,
    reason: null,
    text: 'time 1.00496 s > 1 s',
    value_text: '1.00496 s',
    threshold_text: '1 s'
  };
  assert.deepEqual(showLimit(item, catalog), {
    text: '✗ time 1.00496 s > 1 s',
    title: 'time<=1s fail: time 1.00496 s > 1 s'
  });
  const none = {
    limit: limit('vram', 'vram<=1GiB'),
    status: 'unmeasurable',
    value: null,
    threshold: 1073741824,
    reason: 'no GPU',
    text: 'vram not measurable here (no GPU)',
    value_text: null,
    threshold_text: '1 GiB'
  };
  assert.deepEqual(showLimit(none, catalog), {
    text: '? vram n/a ≤ 1 GiB',
    title: 'vram<=1GiB not measurable: vram not measurable here (no GPU)'
  });
});

test('a record from an older server: the chip formats the numbers itself', () => {
  const pass = { limit: limit('ram', 'ram<=4GiB'), status: 'pass', value: 20971520, threshold: 4294967296, reason: null };
  assert.deepEqual(showLimit(pass, catalog), { text: '✓ ram 20.0 MiB ≤ 4.00 GiB', title: 'ram<=4GiB pass' });
  const strict = { limit: limit('time', 'time<1s', '<'), status: 'fail', value: 1, threshold: 1, reason: null };
  assert.equal(showLimit(strict, catalog).text, '✗ time 1.00 s ≥ 1.00 s');
  const relative = { limit: limit('time', 'time<=+10%'), status: 'unmeasurable', value: 0.3, threshold: null, reason: 'no earlier run' };
  assert.deepEqual(showLimit(relative, catalog), {
    text: '? time 300 ms ≤ time<=+10%',
    title: 'time<=+10% not measurable: no earlier run'
  });
});
