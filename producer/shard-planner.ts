/**
 * Shard planning (DESIGN §4), pure. Input: identity rows in (tenant, vendor,
 * upstream_id, fetched_at) order, one at a time. Output: shards of whole advisories,
 * at most `batchSize` documents each; an advisory larger than the batch gets a shard
 * of its own. Memory is bounded by one shard plus one advisory.
 */
import type { AdvisoryGroup, IdentityRow } from '../core/supersedes.js';
import { PayloadError } from '../core/errors.js';

export interface PlannedShard {
  index: number;
  docs: number;
  advisories: AdvisoryGroup[];
}

function sameAdvisory(g: AdvisoryGroup, r: IdentityRow): boolean {
  return g.tenant === r.tenant && g.vendor === r.vendor && g.upstream_id === r.upstream_id;
}

function advisoryKey(r: { tenant: string; vendor: string; upstream_id: string }): string {
  return `${r.tenant}\u0000${r.vendor}\u0000${r.upstream_id}`;
}

export class ShardCutter {
  private readonly batchSize: number;
  private current: AdvisoryGroup[] = [];
  private currentDocs = 0;
  private open: AdvisoryGroup | undefined;
  private lastKey: string | undefined;
  private nextIndex = 0;

  constructor(batchSize: number) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new PayloadError('batch-size', `must be a positive integer, got ${batchSize}`);
    this.batchSize = batchSize;
  }

  /** Feed one row; returns the shards completed by it (zero or more). */
  push(row: IdentityRow): PlannedShard[] {
    if (this.open && sameAdvisory(this.open, row)) {
      this.open.revisions.push({ raw_id: row.raw_id, fetched_at: row.fetched_at, content_hash: row.content_hash });
      return [];
    }
    const key = advisoryKey(row);
    // MongoDB orders strings by their UTF-8 bytes; compare the same way.
    if (this.lastKey !== undefined && Buffer.compare(Buffer.from(key), Buffer.from(this.lastKey)) < 0) {
      throw new PayloadError('advisory_raw', `identity rows out of order: ${JSON.stringify(key)} after ${JSON.stringify(this.lastKey)}`);
    }
    this.lastKey = key;
    const done = this.closeOpen();
    this.open = {
      tenant: row.tenant,
      vendor: row.vendor,
      upstream_id: row.upstream_id,
      revisions: [{ raw_id: row.raw_id, fetched_at: row.fetched_at, content_hash: row.content_hash }],
    };
    return done;
  }

  /** Close the stream; returns the last shard(s). */
  finish(): PlannedShard[] {
    const done = this.closeOpen();
    if (this.current.length > 0) done.push(this.emit());
    return done;
  }

  private closeOpen(): PlannedShard[] {
    const g = this.open;
    this.open = undefined;
    if (!g) return [];
    const out: PlannedShard[] = [];
    if (this.current.length > 0 && this.currentDocs + g.revisions.length > this.batchSize) out.push(this.emit());
    this.current.push(g);
    this.currentDocs += g.revisions.length;
    if (this.currentDocs >= this.batchSize) out.push(this.emit());
    return out;
  }

  private emit(): PlannedShard {
    const shard: PlannedShard = { index: this.nextIndex++, docs: this.currentDocs, advisories: this.current };
    this.current = [];
    this.currentDocs = 0;
    return shard;
  }
}
