// A cell whose kernel died (status `died`, from the kernel's journal): the panel's summary says the
// same sentence as nbprofile/report/died.py (the cases of tests/report/test_died.py), and its row in
// the cells table carries a red "✝ died" badge with the summary as its tooltip and n/a, never 0,
// for the readings the journal could not know.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

import { Catalog } from '../lib/catalog.js';
import { diedIn, diedSummary } from '../lib/died.js';
import { CellRow } from '../lib/views/cell-row.js';

const GiB = 1024 ** 3;
const UUID = '3f2a5c1e-9b7d-4e21-a0c3-5d6e7f809a1b';
const OOM = 'out of memory';
const NOTE = 'the kernel died while this cell ran: out of memory; last seen 12.3 s after the cell started, at 22.8 GiB';

function died({ execution_count = 12, seq = 3, cell_id = UUID, cause = OOM, rss = 22.8 * GiB } = {}) {
  const readings = {
    wall_s: { value: 12.3, unit: 's', method: 'estimated', source: 'journal', note: 'until the kernel was last seen' }
  };
  if (rss !== null) {
    readings.rss_peak_bytes = {
      value: rss,
      unit: 'B',
      method: 'sampled',
      source: 'journal heartbeat',
      note: 'the last RSS high-water mark the kernel wrote'
    };
  }
  return {
    id: 7, run_id: 'r1', seq, notebook: '/nb/a.ipynb', cell_id, execution_count, code_hash: 'h',
    source: 'big = load_everything()', started_at: '2024-01-01T00:00:00Z', status: 'died', error_type: cause,
    readings, overhead_s: 0, name: null, budget: null, verdict: null, verdict_status: null, notes: [NOTE]
  };
}

test('diedSummary says what died.py says', () => {
  const cases = [
    [died(), `kernel died in cell #12 (id 3f2a…) at 22.8 GiB: ${OOM}`],
    [died({ rss: null }), `kernel died in cell #12 (id 3f2a…): ${OOM}`],
    [died({ cause: null }), 'kernel died in cell #12 (id 3f2a…) at 22.8 GiB: cause unknown'],
    [died({ cause: 'signal SIGKILL', rss: 512 * 1024 ** 2 }), 'kernel died in cell #12 (id 3f2a…) at 512 MiB: signal SIGKILL'],
    [died({ cause: 'exit code 3', rss: null, cell_id: null }), 'kernel died in cell #12: exit code 3'],
    [died({ execution_count: null }), `kernel died in record #3 (id 3f2a…) at 22.8 GiB: ${OOM}`],
    [died({ execution_count: null, cell_id: null, cause: null, rss: null }), 'kernel died in record #3: cause unknown'],
    [died({ cell_id: 'c0' }), `kernel died in cell #12 (id c0) at 22.8 GiB: ${OOM}`],
    [died({ cell_id: 'abcde' }), `kernel died in cell #12 (id abcde) at 22.8 GiB: ${OOM}`],
    [died({ cell_id: 'abcdef' }), `kernel died in cell #12 (id abcd…) at 22.8 GiB: ${OOM}`],
    [died({ execution_count: 0 }), `kernel died in cell #0 (id 3f2a…) at 22.8 GiB: ${OOM}`]
  ];
  for (const [record, summary] of cases) {
    assert.equal(diedSummary(record), summary);
  }
  const unavailable = died();
  unavailable.readings.rss_peak_bytes = { value: null, unit: 'B', method: 'unavailable', source: '', note: 'none' };
  assert.equal(diedSummary(unavailable), `kernel died in cell #12 (id 3f2a…): ${OOM}`);
});

test('a compared cell knows which run died in it, from a newer server or from the statuses', () => {
  assert.equal(diedIn({ died: 'B' }), 'B');
  assert.equal(diedIn({ died: null, status_a: 'ok', status_b: 'died' }), null); // the server's word wins
  assert.equal(diedIn({ status_a: 'died', status_b: 'died' }), 'both');
  assert.equal(diedIn({ status_a: 'died', status_b: null }), 'A');
  assert.equal(diedIn({}), null);
});

const metric = (key, unit, label) => ({
  key, unit, label, description: label, source: 'test', budget: null, aggregate: 'sum',
  regression_floor: null, column: true
});
const catalog = new Catalog(
  {
    metrics: [metric('wall_s', 's', 'time'), metric('cpu_s', 's', 'CPU'), metric('rss_peak_bytes', 'B', 'peak RAM')],
    regression_fraction: 0.1
  },
  { formats: [] }
);

/** The row's HTML as React renders it, and its cells' texts. */
function renderRow(record) {
  const html = renderToStaticMarkup(
    React.createElement(CellRow, {
      record,
      columns: ['wall_s', 'cpu_s', 'rss_peak_bytes'],
      catalog,
      selected: false,
      open: () => undefined
    })
  );
  const numbers = [...html.matchAll(/<span class="nbp-num nbp-method-([a-z]+)" title="([^"]*)">([^<]*)<\/span>/g)];
  return { html, numbers: numbers.map(([, method, title, text]) => ({ method, title, text })) };
}

test('a died row: a red badge with the summary as its tooltip, n/a for what was never measured', () => {
  const { html, numbers } = renderRow(died());
  assert.match(html, /class="nbp-row nbp-clickable nbp-row-fail nbp-row-died"/);
  assert.match(html, /data-status="died"/);
  const badge = html.match(/<span class="nbp-badge nbp-badge-fail nbp-died" title="([^"]*)"[^>]*>([^<]*)<\/span>/);
  assert.ok(badge, html);
  assert.equal(badge[2], '✝ died');
  assert.ok(badge[1].startsWith(`kernel died in cell #12 (id 3f2a…) at 22.8 GiB: ${OOM}`), badge[1]);
  assert.ok(badge[1].includes('last seen 12.3 s after the cell started'), badge[1]);
  assert.deepEqual(
    numbers.map(n => [n.text, n.method]),
    [['~12.3 s', 'estimated'], ['n/a', 'unavailable'], ['~22.8 GiB', 'sampled']]
  );
  assert.equal(numbers[1].title, 'not measured: the kernel died before this cell finished');
  assert.match(numbers[0].title, /^estimated \(journal\): until the kernel was last seen$/);
});

test('a finished row has no died badge', () => {
  const ok = { ...died(), status: 'ok', error_type: null, notes: [] };
  const { html, numbers } = renderRow(ok);
  assert.doesNotMatch(html, /nbp-died|nbp-row-died/);
  assert.equal(numbers[1].text, 'n/a'); // still n/a, with the ordinary reason
  assert.match(numbers[1].title, /^not recorded/);
});
