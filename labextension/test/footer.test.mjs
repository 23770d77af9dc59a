// The footer messages the kernel sends on nbprofile's channel (nbprofile/ipython/display.py
// footer_message): what the page accepts, and what it ignores.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseFooter } from '../lib/footer/channel.js';

const summary = { text: '⏱ 1.2 s', verdict: null, status: 'ok', run_id: 'r1', execution_count: 3 };
const message = (footer) => ({ footer: { cell_id: 'c1', run_id: 'r1', seq: 4, execution_count: 3,
  bundle: { 'text/plain': '⏱ 1.2 s', 'text/html': '<div class="nbprofile-footer">⏱ 1.2 s</div>' },
  summary, ...footer } });

test('a footer message is read whole', () => {
  const footer = parseFooter(message({}));
  assert.equal(footer.cell_id, 'c1');
  assert.equal(footer.seq, 4);
  assert.equal(footer.bundle['text/html'], '<div class="nbprofile-footer">⏱ 1.2 s</div>');
  assert.deepEqual(footer.summary, summary);
});

test('anything else is ignored, never drawn', () => {
  assert.equal(parseFooter({ hello: 1 }), null);
  assert.equal(parseFooter(null), null);
  assert.equal(parseFooter(message({ cell_id: 7 })), null);
  assert.equal(parseFooter(message({ bundle: { 'text/html': '<b>x</b>' } })), null); // no text/plain
  assert.deepEqual(parseFooter(message({ bundle: { 'text/plain': 'x', 'image/png': 5 } })).bundle, { 'text/plain': 'x' });
});

test('a footer output the kernel marked is recognised; other outputs are left alone', async () => {
  const { footerOfOutput } = await import('../lib/footer/channel.js');
  const marker = { footer: 1, run_id: 'r1', seq: 4, status: 'ok', verdict: 'fail', execution_count: 3 };
  const output = {
    output_type: 'display_data', metadata: { nbprofile: marker },
    data: { 'text/plain': '⏱ 1.2 s', 'text/html': '<div class="nbprofile-footer">⏱ 1.2 s</div>' }
  };
  const footer = footerOfOutput('c1', output);
  assert.equal(footer.cell_id, 'c1');
  assert.equal(footer.seq, 4);
  assert.equal(footer.summary.text, '⏱ 1.2 s');
  assert.equal(footer.summary.verdict, 'fail');
  assert.equal(footerOfOutput('c1', { ...output, metadata: {} }), null); // the user's own HTML output
  assert.equal(footerOfOutput('c1', { ...output, output_type: 'execute_result' }), null);
  assert.equal(footerOfOutput('c1', { output_type: 'stream', name: 'stdout', text: 'x' }), null);
});
