/** The status-bar readout's words, from what the item knows (pure: test/status.test.mjs). */
import { formatBytes, formatDuration } from '../format.js';
import type { KernelUsage } from '../types.js';

/** The readout's text and its tooltip (pure: tested in test/status.test.mjs). */
export function describe(
  running: { since: number } | null,
  usage: KernelUsage | null,
  now: number
): { text: string; title: string } {
  const parts: string[] = [];
  const lines: string[] = [];
  if (running !== null) {
    const elapsed = formatDuration(Math.max(0, (now - running.since) / 1000));
    parts.push(`cell ${elapsed}`);
    lines.push(`The running cell started ${elapsed} ago.`);
  }
  if (usage !== null && usage.rss_bytes !== null) {
    parts.push(`RAM ${formatBytes(usage.rss_bytes)}`);
    const of =
      usage.limit_bytes !== null ? ` of ${formatBytes(usage.limit_bytes)} (${usage.limit_source ?? 'limit'})` : '';
    lines.push(`The kernel holds ${formatBytes(usage.rss_bytes)} of memory now (its process's RSS)${of}.`);
  } else if (usage !== null && usage.reason !== null) {
    lines.push(`The kernel's memory is unavailable: ${usage.reason}.`);
  }
  return { text: parts.length > 0 ? `nbprofile ${parts.join(' · ')}` : '', title: ['nbprofile', ...lines].join('\n') };
}
