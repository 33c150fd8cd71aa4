/**
 * The progress view of `start --wait`, `status` on a terminal and the demo: a bar with rate and
 * ETA redrawn in place on a terminal, one plain line per change otherwise; a hint when no
 * worker is taking the run's jobs.
 */
import type { Writable } from 'node:stream';
import type { Progress, RunStatus } from '../api/index.js';

function fmtDuration(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

export function progressLine(s: RunStatus, width = 30): string {
  const { shards: total, shards_done: done, shards_failed: failed } = s;
  const frac = total > 0 ? (done + failed) / total : 0;
  const filled = Math.round(frac * width);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  const rate = s.docs_per_s === null ? '-' : s.docs_per_s.toFixed(0);
  return `[${bar}] ${done}/${total} shards${failed ? ` (${failed} failed)` : ''} ${s.state} ${rate} docs/s ETA ${fmtDuration(s.eta_s)}`;
}

/** The live status panel: bar, rates and ETA, throttle state, alerts, the first error. */
export function statusPanel(s: RunStatus, workers: number): string[] {
  const lines = [
    `run ${s.run_id}: ${s.state}${s.reason ? ` (${s.reason})` : ''}${s.dry_run ? ' [dry run]' : ''}`,
    progressLine(s),
    `documents ${s.docs}/${s.docs_planned}; edges ${s.edges_inserted}, tombstones ${s.tombstones_inserted}; hits ${s.idempotent_hits}; violations ${s.violations}; errors ${s.errors}; workers ${workers}`,
    `throttle: ${s.state === 'throttled' ? `ON (${s.throttle_reasons.join('; ') || 'no reason recorded'})` : 'off'}`,
    `alerts: ${s.alerts.length > 0 ? s.alerts.join(', ') : 'none'}`,
  ];
  if (s.error) lines.push(`error ${s.error.code}: ${s.error.message}`);
  return lines;
}

/**
 * `status` on a terminal: the panel redrawn in place (cursor up, clear below) at
 * every poll; Ctrl-C or a settled run leaves the last panel on screen.
 */
export class LiveStatusView {
  private drawn = 0;

  constructor(private readonly out: Writable) {}

  readonly update = (p: Progress): void => {
    const lines = statusPanel(p.status, p.workers);
    const up = this.drawn > 0 ? `\u001b[${this.drawn}A\r\u001b[J` : '';
    this.out.write(`${up}${lines.join('\n')}\n`);
    this.drawn = lines.length;
  };
}

export class ProgressView {
  private lastLine = '';
  private lastWorkerSeen = Date.now();
  private hinted = false;
  private drawn = false;

  constructor(
    private readonly out: Writable,
    private readonly tty: boolean,
    private readonly noWorkerHintMs = 10_000,
  ) {}

  readonly update = (p: Progress): void => {
    const line = progressLine(p.status);
    if (this.tty) {
      this.out.write(`\r${line}\u001b[K`);
      this.drawn = true;
    } else if (line !== this.lastLine) this.out.write(`${line}\n`);
    this.lastLine = line;
    if (p.status.terminal) return this.end();
    if (p.workers > 0) this.lastWorkerSeen = Date.now();
    else if (!this.hinted && Date.now() - this.lastWorkerSeen > this.noWorkerHintMs) {
      this.hinted = true;
      this.say('no worker is taking jobs: start one with "lnm-backfill worker" (same LNM_DB/LNM_QUEUE_PREFIX/REDIS_URL/MONGO_URL), or pass --local-workers=N');
    }
  };

  /** A message on its own line (the bar is redrawn on the next update). */
  say(message: string): void {
    this.end();
    this.out.write(`${message}\n`);
  }

  /** Finish the bar's line. Safe to call twice. */
  end(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}
