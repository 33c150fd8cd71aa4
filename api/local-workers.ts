/**
 * Worker processes of this package's own CLI for the duration of a wait (`--local-workers=N`).
 * Each child also exits when this process dies: it is started with an IPC channel, and a
 * worker whose channel disconnects shuts down (workers/worker entry).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** The built CLI entry (dist/bin/lnm-backfill.js). */
export const CLI_PATH = fileURLToPath(new URL('../bin/lnm-backfill.js', import.meta.url));

export class LocalWorkers {
  private readonly children: ChildProcess[] = [];

  constructor(private readonly cliPath: string = CLI_PATH) {}

  start(n: number, env: NodeJS.ProcessEnv, stderr: number | 'inherit' = 'inherit'): void {
    for (let i = 0; i < n; i++) {
      this.children.push(spawn(process.execPath, [this.cliPath, 'worker'], { env, stdio: ['ignore', 'ignore', stderr, 'ipc'] }));
    }
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid ?? -1);
  }

  /** SIGTERM every child (each finishes its current shard) and wait for them. Safe twice. */
  async stop(): Promise<void> {
    const alive = this.children.filter((c) => c.exitCode === null && c.signalCode === null);
    const exited = alive.map((c) => once(c, 'exit'));
    for (const c of alive) c.kill('SIGTERM');
    await Promise.all(exited);
    this.children.length = 0;
  }
}
