// The model fetches the metric catalog and the report formats once, with its
// first poll, shows its loading state until they arrive, and retries a failure.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { APIError } from '../lib/api.js';
import { PanelModel } from '../lib/model.js';

const METRICS = {
  metrics: [
    { key: 'wall_s', unit: 's', label: 'time', description: 'wall-clock time of the cell', source: 'clock',
      budget: 'time', aggregate: 'sum', regression_floor: 0.01, column: true },
    { key: 'cpu_s', unit: 's', label: 'CPU', description: 'CPU time', source: 'rusage',
      budget: 'cpu', aggregate: 'sum', regression_floor: 0.01, column: true }
  ],
  regression_fraction: 0.1
};
const FORMATS = { formats: [{ name: 'html', label: 'HTML', suffix: '.html', media_type: 'text/html', compares: true }] };
const RUN = { run_id: 'r1', started_at: '2024-01-01T00:00:00Z', cells: 0, wall_s: null, budget_failures: 0,
  kernel_id: null, host: 'h', nbprofile: 'x' };

/** A server whose answers the test decides; counts the calls to each route. */
function fakeAPI() {
  const calls = { metrics: 0, formats: 0, runs: 0 };
  const api = {
    calls,
    metricsAnswer: () => Promise.resolve(METRICS),
    metrics() {
      calls.metrics++;
      return api.metricsAnswer();
    },
    formats() {
      calls.formats++;
      return Promise.resolve(FORMATS);
    },
    runs(notebook) {
      calls.runs++;
      return Promise.resolve({ notebook, runs: [RUN] });
    },
    run: () => Promise.resolve({ run: { ...RUN, info: {} }, cells: [] }),
    compare: () => Promise.reject(new Error('not used')),
    status: () => Promise.resolve({ version: 'x', store: 's', records: 0 })
  };
  return api;
}

const notebook = () => ({ path: 'a.ipynb', kernelId: null, ranCells: false, ranLoadExt: false });

/** A model on the fake server; polling fast, so that the timer a disposed poll leaves ends soon. */
function modelOf(api) {
  const model = new PanelModel(notebook, api);
  model.setSettings({ pollInterval: 0.5, columns: [] });
  return model;
}

async function until(condition, what) {
  for (let i = 0; i < 200; i++) {
    if (condition()) {
      return;
    }
    await new Promise(resolve => setTimeout(resolve, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('loading until the catalog arrives; then fetched no more', async () => {
  const api = fakeAPI();
  let answer;
  api.metricsAnswer = () => new Promise(resolve => (answer = resolve));
  const model = modelOf(api);
  try {
    model.notebookChanged();
    model.setVisible(true);
    await until(() => api.calls.metrics === 1 && api.calls.runs >= 1, 'the first poll');
    assert.equal(model.state.kind, 'loading');
    assert.equal(model.catalog, null);
    assert.deepEqual([...model.columns], []);
    answer(METRICS);
    await until(() => model.state.kind === 'ready', 'the runs');
    assert.equal(model.state.catalog, model.catalog);
    assert.deepEqual([...model.columns], ['wall_s', 'cpu_s']);
    assert.deepEqual(model.catalog.formats.map(f => f.name), ['html']);
    await model.refresh();
    await until(() => api.calls.runs >= 2, 'a second poll');
    assert.equal(api.calls.metrics, 1);
    assert.equal(api.calls.formats, 1);
    model.setSettings({ pollInterval: 0.5, columns: ['cpu_s'] });
    assert.deepEqual([...model.columns], ['cpu_s']);
  } finally {
    model.dispose();
  }
});

test('a failed catalog is an error the panel shows, and is fetched again', async () => {
  const api = fakeAPI();
  api.metricsAnswer = () => Promise.reject(new APIError(404, 'Not Found'));
  const model = modelOf(api);
  try {
    model.notebookChanged();
    model.setVisible(true);
    await until(() => model.state.kind === 'error', 'the error');
    assert.match(model.state.message, /no metric catalog.*restart JupyterLab/);
    api.metricsAnswer = () => Promise.resolve(METRICS);
    await model.refresh();
    await until(() => model.state.kind === 'ready', 'the runs');
    assert.equal(api.calls.metrics, 2);
  } finally {
    model.dispose();
  }
});
