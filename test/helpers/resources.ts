/**
 * Everything a test file opens (connections, worker processes, monitors, configurations
 * with their databases, event streams and homes), torn down in one afterAll, and the last test of each
 * file proving nothing is left open. Use `useResources()` once per file and call
 * `res.leakCheck()` at the end of it.
 */
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrateDatabase } from '../../api/index.js';
import type { Config } from '../../core/config.js';
import { Connections } from '../../core/connections.js';
import { cleanup, pipelineConfig, pollUntil, removeHome, spawnWorker } from './env.js';
import { dropTransport } from './events.js';

interface Closeable {
  close(): Promise<unknown>;
}

export class Resources {
  readonly conns: Array<{ conns: Connections; closed: boolean }> = [];
  readonly children: Array<{ child: ChildProcess; stderr: string[] }> = [];
  readonly configs: Array<{ cfg: Config; home: string }> = [];
  private readonly closeables: Closeable[] = [];

  /** A configuration with its own database (migrated before the file's tests), queue prefix and home, dropped at teardown. */
  config(name: string, extra: Record<string, string> = {}): Config {
    const c = pipelineConfig(name, extra);
    this.configs.push(c);
    beforeAll(() => migrateDatabase({ config: c.cfg }).then(() => undefined));
    return c.cfg;
  }

  /**
   * A configuration the file made itself (its own transport or credentials, or one that must
   * start unmigrated), dropped with its home at teardown; not migrated here.
   */
  adopt(c: { cfg: Config; home: string }): Config {
    this.configs.push(c);
    return c.cfg;
  }

  /** Something to close at teardown (a monitor, a worker handle, connections held by the whole file). */
  track<T extends Closeable>(c: T): T {
    this.closeables.push(c);
    return c;
  }

  async open(cfg: Config): Promise<Connections> {
    const conns = await Connections.open(cfg);
    this.conns.push({ conns, closed: false });
    return conns;
  }

  async close(conns: Connections): Promise<void> {
    const entry = this.conns.find((e) => e.conns === conns);
    if (!entry) throw new Error('not a tracked connection');
    await conns.close();
    entry.closed = true;
  }

  /** A `lnm-backfill worker` child; its stderr is drained (and kept for diagnostics). */
  worker(cfg: Config, env: Record<string, string> = {}): ChildProcess {
    const child = spawnWorker(cfg, env);
    const stderr: string[] = [];
    child.stderr?.on('data', (d: Buffer) => {
      stderr.push(d.toString());
      if (stderr.length > 200) stderr.shift();
    });
    this.children.push({ child, stderr });
    return child;
  }

  workerLog(child: ChildProcess): string {
    return this.children.find((e) => e.child === child)?.stderr.join('') ?? '';
  }

  /** Send `signal` and wait until the child has exited. */
  async stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (exited(child)) return;
    const gone = once(child, 'exit');
    child.kill(signal);
    await gone;
  }

  /** Best-effort teardown for afterAll (after a failed test): kill, close, drop, never throw. */
  async teardown(): Promise<void> {
    for (const c of this.closeables) await c.close().catch(() => undefined);
    for (const { child } of this.children) {
      if (exited(child)) continue;
      const gone = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    for (const e of this.conns) {
      if (e.closed) continue;
      await e.conns.close().catch(() => undefined);
      e.closed = true;
    }
    for (const { cfg, home } of this.configs) {
      await cleanup(cfg).catch(() => undefined);
      await dropTransport(cfg).catch(() => undefined);
      removeHome(home);
    }
  }

  /** The file's last test: no child process, connection, worker or monitor lock left. */
  leakCheck(): void {
    it('leaves no process, worker, monitor or connection open', async () => {
      for (const c of this.closeables) await c.close();
      expect(this.openChildren()).toEqual([]);
      expect(this.openConnections()).toBe(0);
      for (const { cfg } of this.configs) {
        expect(await noLiveWorkers(cfg)).toBe(true);
        expect(await leaderLockHeld(cfg), cfg.queuePrefix).toBe(false);
      }
    });
  }

  openChildren(): number[] {
    return this.children.filter((e) => !exited(e.child)).map((e) => e.child.pid ?? -1);
  }

  openConnections(): number {
    return this.conns.filter((e) => !e.closed).length;
  }
}

export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Worker processes BullMQ sees on a prefix (each serves the rollback queue; 0 = none left running). */
export async function liveWorkerCount(cfg: Config): Promise<number> {
  const conns = await Connections.open(cfg);
  try {
    return await conns.queue('rollback').getWorkersCount();
  } finally {
    await conns.close();
  }
}

/** Resolves once BullMQ sees no worker connection on the prefix (rejects after `timeoutMs`). */
export async function noLiveWorkers(cfg: Config, timeoutMs = 10_000): Promise<true> {
  return pollUntil(async () => (await liveWorkerCount(cfg)) === 0, `no live worker on ${cfg.queuePrefix}`, timeoutMs, 200);
}

/** A Resources whose teardown runs after the file's tests. */
export function useResources(): Resources {
  const res = new Resources();
  afterAll(() => res.teardown());
  return res;
}

/** Whether some monitor holds the deployment's leader lock (a closed monitor released it). */
export async function leaderLockHeld(cfg: Config): Promise<boolean> {
  const conns = await Connections.open(cfg);
  try {
    return (await conns.redis().exists(`${cfg.queuePrefix}:monitor:leader`)) === 1;
  } finally {
    await conns.close();
  }
}
