// What a run is: a kernel session in which a cell may run several times. One row per cell (its latest
// execution, in the order of the latest executions), every execution on demand, and the two totals:
// "latest execution of each cell" (as compare sums it, nbprofile's own cells left out) and "all executions".
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { allTotalLabel, cellKey, groupByCell, isOwnMagic, latestTotal } from '../lib/views/executions.js';

let id = 0;
function record(cellId, source, wall, extra = {}) {
  id += 1;
  return {
    id, run_id: 'r', seq: id, notebook: null, cell_id: cellId, execution_count: id, code_hash: `h-${source}`,
    source, started_at: '', status: 'ok', error_type: null, overhead_s: 0, name: null, budget: null,
    verdict: null, verdict_status: null, notes: [],
    readings: wall === null ? {} : { wall_s: { value: wall, unit: 's', method: 'measured', source: 'clock', note: null } },
    ...extra
  };
}

test('Run All twice in one kernel: one group per cell, its executions in order, the latest last', () => {
  const first = [record('a', 'x = 1', 1), record('b', 'y = 2', 2), record(null, 'z()', 3)];
  const again = [record('a', 'x = 1', 4), record('b', 'y = 2', 5), record(null, 'z()', 6)];
  const groups = groupByCell([...first, ...again]);
  assert.deepEqual(groups.map(g => g.key), ['a', 'b', 'code:h-z()']);
  assert.deepEqual(groups.map(g => g.executions.length), [2, 2, 2]);
  assert.deepEqual(groups.map(g => g.latest.id), again.map(r => r.id));
});

test('a cell run again later moves to its latest place, so the row labels read in order', () => {
  const runs = [record('a', 'a', 1), record('b', 'b', 1), record('c', 'c', 1), record('a', 'a', 1)];
  assert.deepEqual(groupByCell(runs).map(g => g.key), ['b', 'c', 'a']);
});

test('a cell without an id is matched by its code, as compare matches it', () => {
  assert.equal(cellKey({ cell_id: null, code_hash: 'abc' }), 'code:abc');
  assert.equal(cellKey({ cell_id: 'c1', code_hash: 'abc' }), 'c1');
});

test("the latest total sums each cell's latest execution and leaves nbprofile's own cells out", () => {
  const records = [
    record('l', '%load_ext nbprofile', 0.5),
    record('a', 'x = 1', 1),
    record('a', 'x = 1', 4),
    record('b', '%nbprofile report', 0.25),
    record('c', 'y = 2', 2)
  ];
  const total = latestTotal(groupByCell(records), 'wall_s');
  assert.deepEqual(total, { value: 6, estimated: false, cells: 2, leftOut: 2 });
});

test('a latest total is null, never 0, when no cell has a value; an estimate in it marks it', () => {
  assert.equal(latestTotal(groupByCell([record('a', 'x', null)]), 'wall_s').value, null);
  const died = record('d', 'big()', 12.3, {
    status: 'died',
    readings: { wall_s: { value: 12.3, unit: 's', method: 'estimated', source: 'journal', note: null } }
  });
  const total = latestTotal(groupByCell([record('a', 'x', 1), died]), 'wall_s');
  assert.equal(total.value, 13.3);
  assert.equal(total.estimated, true);
});

test('a peak takes the largest latest value, not the sum', () => {
  const peak = (cellId, v) => record(cellId, cellId, null, {
    readings: { rss_peak_bytes: { value: v, unit: 'B', method: 'measured', source: 'rss', note: null } }
  });
  assert.equal(latestTotal(groupByCell([peak('a', 5), peak('b', 9), peak('a', 1)]), 'rss_peak_bytes', true).value, 9);
});

test("nbprofile's own magics, as report/compare.py tells them, and not a name that only starts alike", () => {
  for (const own of ['%nbprofile', '%nbprofile history', '  %load_ext nbprofile\n', '%reload_ext nbprofile']) {
    assert.equal(isOwnMagic(own), true, own);
  }
  for (const other of ['%nbprofile_x', '%load_ext nbprofile2', 'x = 1', '%%budget time<=1s\n%nbprofile']) {
    assert.equal(isOwnMagic(other), false, other);
  }
});

test('the all-executions total says how many it adds up', () => {
  assert.equal(allTotalLabel(21), 'all 21 executions');
  assert.equal(allTotalLabel(1), 'the 1 execution');
});
