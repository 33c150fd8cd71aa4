/**
 * Processes of a benchmark case: spawn the real CLI, sample the resident memory of it and
 * its descendants (/proc/<pid>/status VmRSS and VmHWM), of the database server and of
 * Redis, while the case runs. Linux only (/proc).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { CLI_PATH } from '../api/local-workers.js';

const SAMPLE_MS = 250;

function readStatus(pid: number): { rssKb: number; hwmKb: number; ppid: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { rssKb: field('VmRSS'), hwmKb: field('VmHWM'), ppid: field('PPid') };
  } catch {
    return null; // the process is gone
  }
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

function allPids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

/** The pid of the process listening as the database server: its pid file, else by command line and port. */
export function findServerPid(pidFile: string, port: string): number | null {
  try {
    const v = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid?: number };
    if (typeof v.pid === 'number' && /ferretdb|mongod/.test(cmdline(v.pid))) return v.pid;
  } catch {
    // no pid file: this checkout did not start the server
  }
  for (const pid of allPids()) {
    const c = cmdline(pid);
    if (/(^|\/)(ferretdb|mongod)( |$)/.test(c.split(' ')[0] ?? '') && c.includes(`:${port}`)) return pid;
  }
  return null;
}

export interface Tracked {
  pid: number;
  role: string;
  hwmKb: number;
  maxRssKb: number;
  /** [ms since start, VmRSS kB] */
  samples: Array<[number, number]>;
}

/**
 * Samples a root process and its descendants every 250 ms (role from the command line),
 * a fixed list of other pids (the server), and Redis used_memory.
 */
export class Sampler {
  readonly tracked = new Map<number, Tracked>();
  readonly t0 = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private redisMaxBytes = 0;
  private redisBusy = false;

  constructor(
    private readonly root: number | null,
    private readonly fixed: Record<string, number | null>,
    private readonly redis: Redis | null,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    return this;
  }

  private track(pid: number, role: string, s: { rssKb: number; hwmKb: number }): void {
    let t = this.tracked.get(pid);
    if (!t) this.tracked.set(pid, (t = { pid, role, hwmKb: 0, maxRssKb: 0, samples: [] }));
    t.hwmKb = Math.max(t.hwmKb, s.hwmKb);
    t.maxRssKb = Math.max(t.maxRssKb, s.rssKb);
    if (role === 'producer') t.samples.push([Date.now() - this.t0, s.rssKb]);
  }

  private sample(): void {
    if (this.root !== null) {
      const family = new Set([this.root]);
      const statuses = new Map<number, { rssKb: number; hwmKb: number; ppid: number }>();
      for (const pid of allPids()) {
        const s = readStatus(pid);
        if (s) statuses.set(pid, s);
      }
      // Descendants: repeat until no new child is found (the tree is shallow).
      for (let grew = true; grew; ) {
        grew = false;
        for (const [pid, s] of statuses) if (!family.has(pid) && family.has(s.ppid)) (family.add(pid), (grew = true));
      }
      for (const pid of family) {
        const s = statuses.get(pid);
        if (!s) continue;
        const role = pid === this.root ? 'producer' : / worker( |$)/.test(cmdline(pid)) ? 'worker' : 'child';
        this.track(pid, role, s);
      }
    }
    for (const [role, pid] of Object.entries(this.fixed)) {
      const s = pid === null ? null : readStatus(pid);
      if (s && pid !== null) this.track(pid, role, s);
    }
    if (this.redis && !this.redisBusy) {
      this.redisBusy = true;
      void this.redis
        .info('memory')
        .then((text) => (this.redisMaxBytes = Math.max(this.redisMaxBytes, infoField(text, 'used_memory') ?? 0)))
        .catch(() => undefined)
        .finally(() => (this.redisBusy = false));
    }
  }

  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }

  byRole(role: string): Tracked[] {
    return [...this.tracked.values()].filter((t) => t.role === role);
  }

  redisUsedMb(): number | null {
    return this.redis ? mb(this.redisMaxBytes) : null;
  }
}

export function infoField(text: string, name: string): number | null {
  const m = new RegExp(`^${name}:(\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

export const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024);
export const kbToMb = (kb: number): number => Math.round(kb / 1024);

export interface CliRun {
  code: number;
  ms: number;
  /** The last stdout line (the `--json` result). */
  out: string;
  sampler: Sampler;
}

/**
 * Run `node dist/bin/lnm-backfill.js <args>` with this env, sampling its process tree and
 * the given other processes; stderr goes to `logFile`. Does not throw on a non-zero exit.
 */
export async function runCli(env: NodeJS.ProcessEnv, args: string[], logFile: string, fixed: Record<string, number | null> = {}, redis: Redis | null = null): Promise<CliRun> {
  const t = Date.now();
  const log = createWriteStream(logFile, { flags: 'a' });
  log.write(`\n# ${new Date().toISOString()} lnm-backfill ${args.join(' ')}\n`);
  const child = spawn(process.execPath, [CLI_PATH, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const sampler = new Sampler(child.pid ?? null, fixed, redis).start();
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.pipe(log, { end: false });
  const [code] = (await once(child, 'exit')) as [number | null];
  sampler.stop();
  log.end();
  return { code: code ?? -1, ms: Date.now() - t, out: out.trim().split('\n').pop() ?? '', sampler };
}

/** A Sampler over fixed pids only (for cases that run inside the bench process). */
export function sampleFixed(fixed: Record<string, number | null>, redis: Redis | null): Sampler {
  return new Sampler(null, fixed, redis).start();
}
