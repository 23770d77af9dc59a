// How many metric columns fit: at the sidebar's opening width (about 250 px) a row shows one metric,
// a wider sidebar shows more, and never more than there are.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CH_PX, EM_PX, columnPx, columnsThatFit } from '../lib/components/fit.js';

const FIXED = 4 * EM_PX + 16; // label, mark, padding
const CODE = 12 * CH_PX;
const columns = [70, 70, 80, 70, 90];

test('the sidebar as it opens shows the chosen metric alone, even when the code gets less than its minimum', () => {
  assert.equal(columnsThatFit(234, columns, FIXED, CODE, 4), 1);
  assert.equal(columnsThatFit(120, columns, FIXED, CODE, 4), 1);
});

test('a wider sidebar shows as many columns as fit beside the code', () => {
  const three = FIXED + CODE + 70 + 70 + 80 + 3 * 4;
  assert.equal(columnsThatFit(three, columns, FIXED, CODE, 4), 3);
  assert.equal(columnsThatFit(three - 1, columns, FIXED, CODE, 4), 2);
  assert.equal(columnsThatFit(5000, columns, FIXED, CODE, 4), columns.length);
  assert.equal(columnsThatFit(5000, [], FIXED, CODE, 4), 0);
});

test("a column's width is its longest text's or its minimum, whichever is wider", () => {
  assert.equal(columnPx(2, 4), 4 * EM_PX);
  assert.equal(columnPx(10, 4), 11 * CH_PX);
  assert.equal(columnPx(500, 4), 41 * CH_PX); // a column is never wider than 40 characters
});
