/** The live status panel of `status` on a terminal: what it shows, and that it redraws in place. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { RunStatus } from '../../api/index.js';
import { LiveStatusView, statusPanel } from '../../bin/progress.js';

const base: RunStatus = {
  run_id: 'run-20260101T000000Z-abcdef', state: 'running', reason: 'planned', dry_run: false, tenant: null,
  shards: 10, shards_done: 4, shards_failed: 0, docs_planned: 1000, docs: 400, edges_inserted: 120, tombstones_inserted: 120,
  idempotent_hits: 0, violations: 0, violations_by_reason: { content_differs: 0, newer_raw_id_collision: 0, older_raw_id_collision: 0, unique_index_collision: 0 }, errors: 0, docs_per_s: 50, eta_s: 12, terminal: false, throttle_reasons: [], alerts: [],
  started_at: new Date(0), finished_at: null,
};

describe('status panel', () => {
  it('shows the bar, docs/s, ETA, throttle state and alerts', () => {
    const text = statusPanel(base, 2).join('\n');
    expect(text).toContain('[############..................] 4/10 shards running 50 docs/s ETA 0:12');
    expect(text).toContain('documents 400/1000');
    expect(text).toContain('workers 2');
    expect(text).toContain('throttle: off');
    expect(text).toContain('alerts: none');
    const t = statusPanel({ ...base, state: 'throttled', throttle_reasons: ['lag 12.0s > 5s'], alerts: ['ALERT_LAG'], error: { code: 'ERR_X', message: 'boom', at: new Date(0) } }, 0).join('\n');
    expect(t).toContain('throttle: ON (lag 12.0s > 5s)');
    expect(t).toContain('alerts: ALERT_LAG');
    expect(t).toContain('error ERR_X: boom');
  });

  it('redraws in place: cursor up over the previous panel, clear below', () => {
    let out = '';
    const sink = new Writable({ write(chunk: Buffer, _e, cb) { out += chunk.toString(); cb(); } });
    const view = new LiveStatusView(sink);
    view.update({ status: base, workers: 1 });
    expect(out).not.toContain('\u001b[');
    const first = out.length;
    view.update({ status: { ...base, shards_done: 5 }, workers: 1 });
    expect(out.slice(first).startsWith(`\u001b[${statusPanel(base, 1).length}A\r\u001b[J`)).toBe(true);
    expect(out.slice(first)).toContain('5/10 shards');
  });
});
