/**
 * Debian command-line tools the tests and CI need: promtool (package prometheus),
 * docker-compose (package docker-compose, v1.29: validates a compose file without an
 * engine) and chromium (package chromium, for the browser tests). `ensureTools` finds
 * them on PATH; when one is missing and we are root (or `sudo -n` works) it installs the
 * packages with apt-get, once, under a lock file so parallel callers do not run apt twice.
 *
 * Installing `prometheus` runs its postinst, which asks invoke-rc.d (and, under systemd,
 * deb-systemd-invoke) to start a server on :9090. Both consult /usr/sbin/policy-rc.d: when
 * that file is absent we put one that denies every start (exit 101) for the duration of
 * the install, and RUNLEVEL=1 makes invoke-rc.d see a runlevel with only stop links.
 * Measured on Debian 12 (no systemd): no prometheus process is left and :9090 stays closed.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { ServiceError } from '../errors.js';
import { acquireLock, run, tail, type RunResult } from './proc.js';

/** Tool (command on PATH) → the Debian package that ships it. */
export const TOOL_PACKAGES = {
  promtool: 'prometheus',
  'docker-compose': 'docker-compose',
  chromium: 'chromium',
} as const;

export type ToolName = keyof typeof TOOL_PACKAGES;

const POLICY_RC = '/usr/sbin/policy-rc.d';
const LOCK_FILE = path.join(os.tmpdir(), 'lnm-backfill-apt.lock');
const APT_UPDATE_TIMEOUT_MS = 5 * 60_000;
/** chromium and its libraries are ~120 MB to fetch and unpack. */
const APT_INSTALL_TIMEOUT_MS = 15 * 60_000;
/** Another caller may be running one update and one install. */
const LOCK_WAIT_MS = APT_UPDATE_TIMEOUT_MS + 2 * APT_INSTALL_TIMEOUT_MS;
/** apt-get waits this long for dpkg's own lock (another apt on the machine) instead of failing. */
const DPKG_LOCK_WAIT_S = 600;
/** apt-get output that a stale or missing package list explains. */
const NEEDS_UPDATE = /Unable to locate package|has no installation candidate|is not available|404\s+Not Found|apt-get update/i;

/** Absolute path of `name` on PATH, or undefined. */
async function locate(name: string): Promise<string | undefined> {
  const r = await run('sh', ['-c', 'command -v "$1"', 'sh', name], { timeoutMs: 10_000 });
  const found = r.stdout.trim();
  return r.code === 0 && found.startsWith('/') ? found : undefined;
}

async function locateAll<T extends ToolName>(names: readonly T[]): Promise<{ found: Partial<Record<T, string>>; missing: T[] }> {
  const found: Partial<Record<T, string>> = {};
  const missing: T[] = [];
  for (const name of names) {
    const p = await locate(name);
    if (p) found[name] = p;
    else missing.push(name);
  }
  return { found, missing };
}

/** The command prefix that runs as root: none when we are root, `sudo -n` when it works without a password. */
async function rootPrefix(): Promise<string[] | undefined> {
  if (process.getuid?.() === 0) return [];
  const sudo = await run('sudo', ['-n', 'true'], { timeoutMs: 10_000 });
  return sudo.code === 0 ? ['sudo', '-n'] : undefined;
}

function fixFor(packages: string[]): string {
  return `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

function packagesOf(names: readonly ToolName[]): string[] {
  return [...new Set(names.map((n) => TOOL_PACKAGES[n]))];
}

async function asRoot(prefix: string[], args: string[], timeoutMs: number): Promise<RunResult> {
  const [cmd, ...rest] = [...prefix, ...args];
  return run(cmd!, rest, { timeoutMs });
}

/**
 * Runs `fn` with a policy-rc.d that forbids starting services. An existing policy-rc.d
 * (Docker images ship one that denies everything) is left as it is.
 */
async function withServicesDenied<T>(prefix: string[], fn: () => Promise<T>): Promise<T> {
  const exists = await fsp.access(POLICY_RC).then(() => true, () => false);
  if (exists) return fn();
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'lnm-policy-'));
  const script = path.join(tmp, 'policy-rc.d');
  await fsp.writeFile(script, '#!/bin/sh\n# lnm-backfill ensureTools: no service starts during the install\nexit 101\n');
  try {
    const put = await asRoot(prefix, ['install', '-m', '0755', script, POLICY_RC], 30_000);
    if (put.code !== 0) throw new ServiceError('tools', `cannot write ${POLICY_RC}: ${tail(put.stderr, 5)}`);
    try {
      return await fn();
    } finally {
      await asRoot(prefix, ['rm', '-f', POLICY_RC], 30_000);
    }
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

function aptInstall(prefix: string[], packages: string[]): Promise<RunResult> {
  const env = ['env', 'DEBIAN_FRONTEND=noninteractive', 'RUNLEVEL=1'];
  const args = ['apt-get', 'install', '-y', '--no-install-recommends', '-o', `DPkg::Lock::Timeout=${DPKG_LOCK_WAIT_S}`, ...packages];
  return asRoot(prefix, [...env, ...args], APT_INSTALL_TIMEOUT_MS);
}

async function install(prefix: string[], packages: string[], log?: Logger): Promise<void> {
  const t0 = Date.now();
  log?.info({ packages }, 'installing missing tools with apt-get');
  let res = await aptInstall(prefix, packages);
  if (res.code !== 0 && NEEDS_UPDATE.test(res.stdout + res.stderr)) {
    log?.info('package lists are missing or stale: apt-get update');
    const upd = await asRoot(prefix, ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'update', '-o', `DPkg::Lock::Timeout=${DPKG_LOCK_WAIT_S}`], APT_UPDATE_TIMEOUT_MS);
    if (upd.code !== 0) {
      throw new ServiceError('tools', `apt-get update failed (exit ${upd.code}):\n${tail(upd.stderr, 10)}\nFix: check the package sources, then ${fixFor(packages)}`);
    }
    res = await aptInstall(prefix, packages);
  }
  if (res.code !== 0) {
    const out = tail(`${res.stdout}\n${res.stderr}`, 15);
    throw new ServiceError(
      'tools',
      `apt-get install ${packages.join(' ')} failed (exit ${res.code ?? 'timeout'}):\n${out}\n` +
        `Fix: run "dpkg --configure -a" if dpkg was interrupted, then ${fixFor(packages)}`,
    );
  }
  log?.info({ packages, ms: Date.now() - t0 }, 'tools installed');
}

/**
 * Makes the named tools available and returns their absolute paths. Idempotent; cheap
 * when everything is installed (one `command -v` per tool). Throws ServiceError (with the
 * apt-get command to run) when a tool is missing and we cannot install as root.
 */
export async function ensureTools<T extends ToolName>(names: readonly T[], log?: Logger): Promise<Record<T, string>> {
  const first = await locateAll(names);
  if (first.missing.length === 0) return first.found as Record<T, string>;
  const packages = packagesOf(first.missing);
  const prefix = await rootPrefix();
  if (!prefix) {
    throw new ServiceError('tools', `missing ${first.missing.join(', ')} and not root (no passwordless sudo). Fix: as root, ${fixFor(packages)}`);
  }
  const release = await acquireLock(LOCK_FILE, {
    timeoutMs: LOCK_WAIT_MS,
    ready: async () => (await locateAll(names)).missing.length === 0,
    onWait: (holder) => log?.info({ holder }, 'waiting for another process installing tools'),
  }).catch((err: unknown) => {
    throw new ServiceError('tools', `${(err as Error).message}. Fix: if no apt-get runs, delete ${LOCK_FILE}.`, err);
  });
  try {
    if (release) {
      const again = await locateAll(names);
      if (again.missing.length > 0) await withServicesDenied(prefix, () => install(prefix, packagesOf(again.missing), log));
    }
  } finally {
    await release?.();
  }
  const last = await locateAll(names);
  if (last.missing.length > 0) {
    throw new ServiceError('tools', `${last.missing.join(', ')} still not on PATH after installing. Fix: ${fixFor(packagesOf(last.missing))}`);
  }
  return last.found as Record<T, string>;
}
