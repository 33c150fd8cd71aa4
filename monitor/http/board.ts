/**
 * Bull Board at /ui: the shards queue of every run that is not settled and of the newest
 * settled runs (their failed jobs stay inspectable), and the shared rollback and
 * validation queues. Read-only unless `write` (retry, clean, pause are then offered; the
 * monitor re-applies a run's dispatch state on its next tick anyway). The queue list is
 * refreshed at most every `refreshMs` when the board is used, so new runs appear.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Router } from 'express';
import type { Connections } from '../../core/connections.js';
import { SHARED_QUEUE_KEYS } from '../../core/contract.js';
import { exposedRunIds } from './metrics.js';

export interface BoardOptions {
  basePath: string;
  /** Enable Bull Board's actions (retry, clean, pause, add). */
  write: boolean;
  refreshMs: number;
}

export class Board {
  private readonly server = new ExpressAdapter();
  private readonly board: ReturnType<typeof createBullBoard>;
  private runIds: string[] = [];
  private refreshedAt = 0;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly conns: Connections,
    private readonly opts: BoardOptions,
  ) {
    this.server.setBasePath(opts.basePath);
    this.board = createBullBoard({
      queues: SHARED_QUEUE_KEYS.map((k) => this.adapter(this.conns.queue(k), `shared by every run`)),
      serverAdapter: this.server,
      options: { uiConfig: { boardTitle: 'lnm-backfill' } },
    });
  }

  private adapter(queue: Queue, description: string): BullMQAdapter {
    return new BullMQAdapter(queue, { readOnlyMode: !this.opts.write, allowRetries: this.opts.write, description });
  }

  /** Express router serving the board under `basePath`. */
  router(): Router {
    return this.server.getRouter() as Router;
  }

  /** Bring the queue list up to date if it is older than `refreshMs` (concurrent callers share one refresh). */
  async refresh(force = false): Promise<void> {
    if (!force && Date.now() - this.refreshedAt < this.opts.refreshMs) return;
    this.refreshing ??= this.load().finally(() => (this.refreshing = undefined));
    await this.refreshing;
  }

  /** Run ids whose shards queue the board shows now. */
  shown(): readonly string[] {
    return this.runIds;
  }

  private async load(): Promise<void> {
    const { live, settled } = await exposedRunIds(this.conns);
    const ids = [...live, ...settled].sort();
    const gone = this.runIds.filter((id) => !ids.includes(id));
    this.board.replaceQueues([
      ...ids.map((id) => this.adapter(this.conns.queue('shards', id), live.includes(id) ? `run ${id}` : `run ${id} (settled)`)),
      ...SHARED_QUEUE_KEYS.map((k) => this.adapter(this.conns.queue(k), 'shared by every run')),
    ]);
    this.runIds = ids;
    this.refreshedAt = Date.now();
    for (const id of gone) await this.conns.forgetQueue(id);
  }
}
