// The status-bar readout: the running cell's elapsed time and the kernel's memory, and what
// its tooltip says when the memory cannot be read.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describe } from '../lib/status/describe.js';

const GiB = 1024 ** 3;
const usage = (rss, limit = 16 * GiB, reason = null) => ({
  rss_bytes: rss, limit_bytes: limit, limit_source: 'cgroup v2 memory.max', reason
});

test('a running cell shows its elapsed time and the kernel memory', () => {
  const { text, title } = describe({ since: 1000 }, usage(1.5 * GiB), 1000 + 12_300);
  assert.equal(text, 'nbprofile cell 12.3 s · RAM 1.50 GiB');
  assert.match(title, /started 12\.3 s ago/);
  assert.match(title, /1\.50 GiB of memory now \(its process's RSS\) of 16\.0 GiB \(cgroup v2 memory\.max\)/);
});

test('an idle kernel shows its memory only', () => {
  assert.equal(describe(null, usage(300 * 1024 ** 2), 0).text, 'nbprofile RAM 300 MiB');
});

test('memory that cannot be read is left out of the text and explained in the tooltip', () => {
  const { text, title } = describe({ since: 0 }, usage(null, null, 'this kernel does not run here'), 61_000);
  assert.equal(text, 'nbprofile cell 1 min 01 s');
  assert.match(title, /unavailable: this kernel does not run here/);
});

test('nothing known: no text (the item hides)', () => {
  assert.equal(describe(null, null, 0).text, '');
});
