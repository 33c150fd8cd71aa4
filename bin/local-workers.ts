/** `--local-workers=N`: N worker processes of this same CLI for the duration of a run. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export class LocalWorkers {
  private readonly children: ChildProcess[] = [];

  constructor(private readonly cliPath: string) {}

  start(n: number, env: NodeJS.ProcessEnv = process.env): void {
    for (let i = 0; i < n; i++) {
      this.children.push(spawn(process.execPath, [this.cliPath, 'worker'], { env, stdio: ['ignore', 'ignore', 'inherit'] }));
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
