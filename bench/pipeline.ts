/**
 * Pipeline cases: the real CLI, `start --wait --local-workers=N` (producer, in-process
 * monitor and validation in one process, N worker processes), as a real run, a dry run
 * or a re-run over a corpus whose edges are all there already. Times come from the run's
 * state history, shard times from the run's BullMQ jobs (processedOn → finishedOn).
 */
import type { Redis } from 'ioredis';
import type { RunStatus } from '../api/runs.js';
import { getRun, type RunDoc } from '../core/store/runs.js';
import type { CaseEnv } from './corpus.js';
import { compareWritten, writtenEdges, type Expected } from './oracle.js';
import { infoField, kbToMb, mb, runCli, type Sampler } from './proc.js';
import { percentile, rate, round, type CaseKind, type CaseResult } from './stats.js';
import { loadavg } from 'node:os';

export interface PipelineOptions {
  kind: Extract<CaseKind, 'pipeline' | 'dry_run' | 'rerun'>;
  docs: number;
  workers: number;
  batchSize: number;
  expected: Expected;
  serverPid: number | null;
  redis: Redis;
}

const at = (run: RunDoc, to: string): number | null => {
  const h = [...run.history].reverse().find((x) => x.to === to);
  return h ? h.at.getTime() : null;
};
const secs = (a: number | null, b: number | null): number | null => (a !== null && b !== null ? round((b - a) / 1000, 1) : null);

/** planning, shards, validation (seconds) from the state history. */
export function phases(run: RunDoc): { planning_s: number | null; shards_s: number | null; validation_s: number | null } {
  const created = run.created_at.getTime();
  const running = at(run, 'running');
  const validating = at(run, 'validating');
  const end = at(run, 'succeeded') ?? at(run, 'failed');
  return { planning_s: secs(created, running), shards_s: secs(running, validating), validation_s: secs(validating, end) };
}

/** Highest sampled RSS (MB) of the producer process within [from, to) epoch ms. */
function peakBetween(sampler: Sampler, from: number | null, to: number | null): number | null {
  const p = sampler.byRole('producer')[0];
  if (!p || from === null || to === null) return null;
  const kb = p.samples.filter(([t]) => t + sampler.t0 >= from && t + sampler.t0 < to).map(([, rss]) => rss);
  return kb.length ? kbToMb(Math.max(...kb)) : null;
}

async function shardTimes(c: CaseEnv, runId: string): Promise<number[]> {
  const jobs = await c.conns.queue('shards', runId).getJobs(['completed'], 0, -1);
  return jobs.filter((j) => j.processedOn && j.finishedOn).map((j) => j.finishedOn! - j.processedOn!);
}

function checkRun(o: PipelineOptions, s: RunStatus, run: RunDoc): { ok: boolean; check: Record<string, unknown> } {
  const want = o.expected.edges;
  const check: Record<string, unknown> = { state: s.state, report_ok: run.report?.ok ?? null, edges_inserted: s.edges_inserted, tombstones_inserted: s.tombstones_inserted, idempotent_hits: s.idempotent_hits, violations: s.violations, errors: s.errors };
  const settled = s.state === 'succeeded' && s.violations === 0 && s.errors === 0 && s.docs === o.docs;
  if (o.kind === 'rerun') return { ok: settled && s.edges_inserted === 0 && s.tombstones_inserted === 0 && s.idempotent_hits === 2 * want, check };
  // A dry run reports what a real run would write.
  return { ok: settled && s.edges_inserted === want && s.tombstones_inserted === want, check };
}

export async function pipelineCase(c: CaseEnv, o: PipelineOptions): Promise<CaseResult> {
  const load0 = loadavg()[0]!;
  const args = ['start', `--batch-size=${o.batchSize}`, '--wait', `--local-workers=${o.workers}`, '--json'];
  if (o.kind === 'dry_run') args.push('--dry-run');
  else args.push('--force', `--reason=benchmark ${o.kind}`, '--by=bench');
  const r = await runCli(c.env, args, c.logFile, { server: o.serverPid }, o.redis);
  const base: CaseResult = { kind: o.kind, docs: o.docs, workers: o.workers, ok: false, check: {}, wall_s: round(r.ms / 1000, 1), docs_per_s: rate(o.docs, r.ms / 1000) };
  let status: RunStatus;
  try {
    status = JSON.parse(r.out) as RunStatus;
  } catch {
    return { ...base, error: `start exited ${r.code} without a JSON result (see ${c.logFile})` };
  }
  const run = await getRun(c.conns.db, status.run_id);
  const verdict = checkRun(o, status, run);
  let ok = verdict.ok;
  const check = { ...verdict.check };
  if (o.kind !== 'dry_run' || ok) {
    // The database itself: a real run and a re-run leave exactly the oracle's edges, a dry run none.
    const written = await writtenEdges(c.conns.db);
    if (o.kind === 'dry_run') {
      ok = written.edges === 0 && written.tombstones === 0;
      Object.assign(check, { written_edges: written.edges, written_tombstones: written.tombstones });
    } else {
      const cmp = compareWritten(o.expected, written);
      ok = ok && cmp.ok;
      Object.assign(check, cmp.check);
    }
  }
  const ph = phases(run);
  const created = run.created_at.getTime();
  const end = at(run, 'succeeded') ?? at(run, 'failed');
  const durations = await shardTimes(c, status.run_id);
  const producer = r.sampler.byRole('producer')[0];
  const redisInfo = await o.redis.info('memory');
  return {
    ...base,
    ok,
    check,
    // Wall time outside the run's own history: node start-up, the gate, the last poll.
    phases: { ...ph, outside_run_s: end === null ? null : round(r.ms / 1000 - (end - created) / 1000, 1) },
    shard_ms: { n: durations.length, p50: percentile(durations, 50), p95: percentile(durations, 95), max: percentile(durations, 100) },
    rss: {
      producer_monitor_mb: producer ? kbToMb(producer.hwmKb) : 0,
      producer_phase_mb: {
        planning: peakBetween(r.sampler, created, at(run, 'running')),
        shards: peakBetween(r.sampler, at(run, 'running'), at(run, 'validating')),
        validation: peakBetween(r.sampler, at(run, 'validating'), Infinity),
      },
      workers_mb: r.sampler.byRole('worker').map((w) => kbToMb(w.hwmKb)),
      server_mb: r.sampler.byRole('server')[0] ? kbToMb(r.sampler.byRole('server')[0]!.maxRssKb) : null,
      redis_used_mb: r.sampler.redisUsedMb(),
      redis_peak_mb: mb(infoField(redisInfo, 'used_memory_peak') ?? 0),
    },
    load: [round(load0, 2), round(loadavg()[0]!, 2)],
    extra: {
      run_id: status.run_id,
      shards: status.shards,
      exit_code: r.code,
      planner: run.planner ?? null,
      planning_docs_per_s: ph.planning_s ? rate(o.docs, ph.planning_s) : null,
      shards_docs_per_s: ph.shards_s ? rate(o.docs, ph.shards_s) : null,
    },
    ...(ok ? {} : { error: `check failed (see check; log ${c.logFile})` }),
  };
}
