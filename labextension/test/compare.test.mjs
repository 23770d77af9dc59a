// The compare view's regression mark names each metric that regressed and by how much (also at the
// sidebar's width, where a row shows one metric), its tooltip the server's words; a row where nothing
// regressed has no mark, whatever its numbers did.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { regressionTag } from '../lib/views/compare.js';

const CPU = { metric: 'cpu_s', label: 'CPU', a: 0.41, b: 0.54, pct: 0.317, text: 'CPU +31.7% (410 ms → 540 ms)' };
const RAM = { metric: 'rss_peak_bytes', label: 'peak RAM', a: 1e8, b: 2e8, pct: 1, text: 'peak RAM +100% (95.4 MiB → 191 MiB)' };

function cell(regressions) {
  return {
    key: 'c1', cell_id: 'c1', source: 'import numpy', a: { wall_s: 1.27 }, b: { wall_s: 1.07 },
    method_a: {}, method_b: {}, delta: { wall_s: { abs: -0.2, pct: -0.154 } },
    regression: regressions.length > 0, regressions
  };
}

test('a row faster on the wall but slower on CPU is tagged with CPU and its change', () => {
  const tag = regressionTag(cell([CPU]));
  assert.equal(tag.text, 'regressed: CPU +31.7%');
  assert.equal(tag.title, 'CPU +31.7% (410 ms → 540 ms)');
});

test('every regressed metric is named, one per tooltip line', () => {
  const tag = regressionTag(cell([CPU, RAM]));
  assert.equal(tag.text, 'regressed: CPU +31.7%, peak RAM +100%');
  assert.deepEqual(tag.title.split('\n'), [CPU.text, RAM.text]);
});

test('a row where nothing regressed has no tag', () => {
  assert.equal(regressionTag(cell([])), null);
});
