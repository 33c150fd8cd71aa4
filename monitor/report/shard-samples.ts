/**
 * Samples for the report's count checks, from the run's shard documents (pure): the
 * idempotency violations each shard recorded (`violation_sample`, `{ _id, reason }`),
 * the error summaries of the shards that counted an error, and the shards not done
 * (pending or failed). Fed shard by shard in shard-number order, each list keeps its first
 * SAMPLE_MAX entries, so the samples are the same for the same shard documents whatever
 * order the workers wrote them in. A sample names a shard by its number, never by its
 * `_id` (that carries the run id, which the hashed report must not), an error by its code
 * and path (run id blanked), never its message, which may name hosts, ports or times.
 */
import { SAMPLE_MAX } from './check.js';

/** What the sampler reads of one shard document. */
export interface ShardOutcomeDoc {
  shard: number;
  state: 'pending' | 'done' | 'failed';
  counts?: { errors?: number };
  violation_sample?: unknown[];
  error?: { code: string; message: string; path?: string };
}

export interface ShardSampleLists {
  violations: string[];
  errors: string[];
  shards: string[];
}

const MESSAGE_MAX = 200;

function violationLine(shard: number, v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return null;
  const { _id, reason } = v as { _id?: unknown; reason?: unknown };
  return `shard ${shard}: ${String(reason)} ${String(_id)}`;
}

export class ShardSampler {
  readonly lists: ShardSampleLists = { violations: [], errors: [], shards: [] };
  private readonly runId: string;

  constructor(runId: string) {
    this.runId = runId;
  }

  /** Every list holds SAMPLE_MAX entries: the rest of the shards cannot add any. */
  get full(): boolean {
    return Object.values(this.lists).every((l) => l.length >= SAMPLE_MAX);
  }

  add(s: ShardOutcomeDoc): void {
    const { violations, errors, shards } = this.lists;
    const mine = (s.violation_sample ?? []).map((v) => violationLine(s.shard, v)).filter((l): l is string => l !== null);
    for (const line of mine.sort()) if (violations.length < SAMPLE_MAX) violations.push(line);
    if ((s.counts?.errors ?? 0) > 0 && errors.length < SAMPLE_MAX) errors.push(`shard ${s.shard}: ${this.errorText(s.error)}`);
    if (s.state !== 'done' && shards.length < SAMPLE_MAX) {
      shards.push(`${s.state}: shard ${s.shard}${s.error ? ` (${s.error.code})` : ''}`);
    }
  }

  /** Code and path only: a message may carry hosts, ports or times (the run log keeps it). */
  private errorText(e: ShardOutcomeDoc['error']): string {
    if (!e) return 'no error recorded';
    const text = `${e.code}${e.path ? ` at ${e.path.split(this.runId).join('<run>')}` : ''}`;
    return text.length > MESSAGE_MAX ? `${text.slice(0, MESSAGE_MAX - 1)}…` : text;
  }
}
