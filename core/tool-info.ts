/**
 * What built the evidence: the tool's name and version from its package.json, and the git
 * commit of its checkout when it runs from one (null otherwise, e.g. an installed package
 * or a container image without `.git`).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export interface ToolInfo {
  name: string;
  version: string;
  git_commit: string | null;
}

/** The package root: this file is core/tool-info.ts in the sources and dist/core/tool-info.js when built. */
async function packageRoot(): Promise<string> {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, 'package.json');
    const found = await readFile(candidate, 'utf8').then((t) => (JSON.parse(t) as { name?: string }).name === 'lnm-backfill', () => false);
    if (found) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('lnm-backfill package.json not found above core/tool-info');
}

function gitCommit(cwd: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', ['rev-parse', 'HEAD'], { cwd, timeout: 5000 }, (err, stdout) => {
      const sha = String(stdout ?? '').trim();
      resolve(!err && /^[0-9a-f]{40}$/.test(sha) ? sha : null);
    });
  });
}

export async function toolInfo(): Promise<ToolInfo> {
  const root = await packageRoot();
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string };
  return { name: pkg.name, version: pkg.version, git_commit: await gitCommit(root) };
}
