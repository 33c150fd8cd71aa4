/**
 * Process helpers for `services up/down`: detached spawns with pid files, poll-until with
 * a deadline, a cross-process lock file, and small TCP/port utilities. POSIX only.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface HomePaths {
  run: string;
  logs: string;
  data: string;
  bin: string;
  build: string;
}

/** Layout of the local services folder; creates the folders. */
export async function homePaths(homeDir: string): Promise<HomePaths> {
  const p: HomePaths = {
    run: path.join(homeDir, 'run'),
    logs: path.join(homeDir, 'logs'),
    data: path.join(homeDir, 'data'),
    bin: path.join(homeDir, 'bin'),
    build: path.join(homeDir, 'build'),
  };
  await Promise.all(Object.values(p).map((d) => fsp.mkdir(d, { recursive: true })));
  return p;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export type WaitResult = { ok: true } | { ok: false; reason: string };

/**
 * Polls `check` until it returns true, the deadline passes, or `abort` returns a reason
 * (e.g. the process we wait for has exited).
 */
export async function waitUntil(
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; abort?: () => string | undefined },
): Promise<WaitResult> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await check()) return { ok: true };
    const aborted = opts.abort?.();
    if (aborted !== undefined) return { ok: false, reason: aborted };
    if (Date.now() >= deadline) return { ok: false, reason: `not ready after ${opts.timeoutMs} ms` };
    await delay(opts.intervalMs ?? 200);
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the command could not be started (ENOENT = not installed). */
  spawnError?: NodeJS.ErrnoException;
}

const MAX_CAPTURE = 256 * 1024;

/** Runs a command to completion, capturing (the tail of) stdout and stderr. Never throws. */
export function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    // Our own timer, not spawn's `timeout` option: that one stays armed after a failed
    // spawn (ENOENT) and keeps the process alive until it expires.
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => (stdout = (stdout + b.toString()).slice(-MAX_CAPTURE)));
    child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-MAX_CAPTURE)));
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr, spawnError: err });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) stderr += `\n(killed by ${signal})`;
      resolve({ code, stdout, stderr });
    });
  });
}

export function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export async function tailFile(file: string, lines = 20): Promise<string> {
  try {
    return tail(await fsp.readFile(file, 'utf8'), lines);
  } catch {
    return '(no log)';
  }
}

export interface Detached {
  pid: number;
  /** Undefined while running; a description once the process has exited. */
  exited(): string | undefined;
}

/**
 * Starts a long-running server that outlives this process; stdout+stderr append to logFile.
 * The command line is written to the log: secrets go in `opts.env`, never in `args`.
 */
export async function spawnDetached(cmd: string, args: string[], opts: { logFile: string; cwd: string; env?: NodeJS.ProcessEnv }): Promise<Detached> {
  const fd = fs.openSync(opts.logFile, 'a');
  try {
    fs.writeSync(fd, `\n--- ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', fd, fd] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    let exit: string | undefined;
    child.on('exit', (code, signal) => (exit = `exited with ${signal ?? `code ${code}`}`));
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${cmd}: no pid after spawn`);
    return { pid, exited: () => exit };
  } finally {
    fs.closeSync(fd);
  }
}

export interface PidInfo {
  pid: number;
  /** Command name, checked against /proc/<pid>/cmdline before signalling. */
  name: string;
  startedAt: string;
  backend?: 'postgresql' | 'sqlite';
}

const pidFile = (runDir: string, service: string): string => path.join(runDir, `${service}.pid`);

export async function readPidFile(runDir: string, service: string): Promise<PidInfo | undefined> {
  try {
    const v = JSON.parse(await fsp.readFile(pidFile(runDir, service), 'utf8')) as Partial<PidInfo>;
    if (typeof v.pid !== 'number' || typeof v.name !== 'string') return undefined;
    return v as PidInfo;
  } catch {
    return undefined;
  }
}

export async function writePidFile(runDir: string, service: string, info: PidInfo): Promise<void> {
  await fsp.writeFile(pidFile(runDir, service), JSON.stringify(info) + '\n');
}

export async function removePidFile(runDir: string, service: string): Promise<void> {
  await fsp.rm(pidFile(runDir, service), { force: true });
}

/** True when pid exists, is not a zombie and (where /proc exists) runs a command containing `name`. */
export function isAlive(pid: number, name?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return false;
    if (name !== undefined) return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(name);
  } catch {
    // no /proc (macOS): trust kill(0)
  }
  return true;
}

/** SIGTERM, wait up to graceMs for exit, then SIGKILL. */
export async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  const gone = async (): Promise<boolean> => !isAlive(pid);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if ((await waitUntil(gone, { timeoutMs: graceMs, intervalMs: 100 })).ok) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitUntil(gone, { timeoutMs: 5000, intervalMs: 100 });
}

export type Release = () => Promise<void>;

/**
 * Cross-process lock: an exclusively created file. A lock is stale after staleMs without a
 * refresh (the holder touches it every 30 s) or when its holder on this host is dead.
 * Resolves to undefined, without the lock, when `ready()` becomes true while waiting.
 */
export async function acquireLock(
  file: string,
  opts: { timeoutMs: number; staleMs?: number; ready?: () => Promise<boolean>; onWait?: (holder: string) => void },
): Promise<Release | undefined> {
  const staleMs = opts.staleMs ?? 5 * 60_000;
  const deadline = Date.now() + opts.timeoutMs;
  let told = false;
  for (;;) {
    try {
      const fh = await fsp.open(file, 'wx');
      await fh.writeFile(JSON.stringify({ pid: process.pid, host: os.hostname(), at: new Date().toISOString() }));
      await fh.close();
      const now = (): Date => new Date();
      const timer = setInterval(() => void fsp.utimes(file, now(), now()).catch(() => undefined), 30_000);
      timer.unref();
      return async () => {
        clearInterval(timer);
        await fsp.rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await fsp.readFile(file, 'utf8').catch(() => '');
    if (await isStale(file, holder, staleMs)) {
      // A tiny race remains if two waiters judge the same lock stale at once; both re-check after.
      await fsp.rm(file, { force: true });
      continue;
    }
    if (!told) opts.onWait?.(holder);
    told = true;
    if (opts.ready && (await opts.ready())) return undefined;
    if (Date.now() >= deadline) throw new Error(`lock ${file} still held after ${opts.timeoutMs} ms by ${holder}`);
    await delay(250);
  }
}

async function isStale(file: string, holder: string, staleMs: number): Promise<boolean> {
  try {
    const st = await fsp.stat(file);
    if (Date.now() - st.mtimeMs > staleMs) return true;
  } catch {
    return false; // vanished: just retry
  }
  try {
    const h = JSON.parse(holder) as { pid?: unknown; host?: unknown };
    return h.host === os.hostname() && typeof h.pid === 'number' && !isAlive(h.pid);
  } catch {
    return false; // being written right now
  }
}

/** True when something accepts TCP connections on host:port within timeoutMs. */
export function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
