/**
 * The temp folders of external sorts. A process killed mid-sort cannot remove its folder:
 * each is named `lnm-sort-<host>-<pid>-…`, and the first sort of a later process in a parent
 * folder removes the folders this host's no-longer-running processes left there.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';

/** Folder-name prefix of this host's sorts (the pid follows); the host name's dashes and dots become `_`, so it cannot run into the pid. */
export const SORT_PREFIX = `lnm-sort-${hostname().replace(/[^A-Za-z0-9]/g, '_')}-`;

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

const swept = new Set<string>();

/**
 * Remove, once per parent folder and process, the sort folders left by processes of this
 * host that were killed mid-sort. Other hosts' folders (a shared LNM_SORT_DIR) are not ours to judge.
 */
async function sweepStaleSortDirs(parent: string): Promise<void> {
  if (swept.has(parent)) return;
  swept.add(parent);
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (!name.startsWith(SORT_PREFIX)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(SORT_PREFIX.length))?.[1]);
    if (!Number.isInteger(pid) || pid <= 0 || processExists(pid)) continue;
    await rm(path.join(parent, name), { recursive: true, force: true });
  }
}

/** A new sort folder under `parent`, after sweeping the stale ones (once per parent and process). */
export async function makeSortDir(parent: string): Promise<string> {
  await sweepStaleSortDirs(parent);
  return mkdtemp(path.join(parent, `${SORT_PREFIX}${process.pid}-`));
}
