// The metric chooser offers the catalog's metrics (a per-device family by the members the run has),
// then any other key the user chose; the run picker's text fits the sidebar, its tooltip says the rest.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Catalog } from '../lib/catalog.js';
import { offeredColumns } from '../lib/components/column-chooser.js';
import { runChoice, runTitle } from '../lib/components/selects.js';

const metric = (key, label) => ({
  key, unit: 's', label, description: label, source: 'test', budget: null, aggregate: 'sum',
  regression_floor: null, column: key === 'wall_s'
});
const catalog = new Catalog(
  { metrics: [metric('wall_s', 'time'), metric('gpu{i}_energy_j', 'GPU energy'), metric('cpu_s', 'CPU')], regression_fraction: 0.1 },
  { formats: [] }
);

test('the catalog in its order, a family as the devices seen, then the keys only the user knows', () => {
  const offered = offeredColumns(catalog, ['wall_s', 'my_key'], ['gpu1_energy_j', 'wall_s', 'gpu0_energy_j']);
  assert.deepEqual(offered, ['wall_s', 'gpu0_energy_j', 'gpu1_energy_j', 'cpu_s', 'my_key']);
  assert.deepEqual(offered.map(key => catalog.info(key).label), ['time', 'GPU energy [0]', 'GPU energy [1]', 'CPU', 'my_key']);
});

test('a run in the picker: its start and cells; its executions and whether it is the newest in the tooltip', () => {
  const run = { run_id: 'r1', started_at: 'not a date', cells: 5, executions: 10, wall_s: 1, budget_failures: 0,
    kernel_id: null, host: 'h', nbprofile: 't' };
  assert.equal(runChoice(run), 'not a date · 5 cells');
  assert.equal(runTitle(run, true), 'the newest run: 5 cells, 10 executions (run r1)');
  assert.equal(runTitle({ ...run, executions: undefined }, false), '5 cells, 5 executions (run r1)');
});
