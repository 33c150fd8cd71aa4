/**
 * The README's commands, exactly as written, from a fresh clone: `npm ci`, then every
 * line of the "Quick tour" block in order (against this test's own database and queue
 * prefix), each must exit 0. The README's command list must match the command table, and
 * every other command line it shows (```sh blocks, `$ ` transcript lines) is spelled
 * `./lnm-backfill …`, the form that works in a fresh clone (checked, not run).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { useResources } from '../helpers/resources.js';
import { COMMANDS } from '../../bin/cli/table.js';
import { usageLine } from '../../bin/cli/command.js';
import { childEnv } from '../../core/config.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const res = useResources();
const cfg = res.config('readme');
const dir = mkdtempSync(path.join(tmpdir(), 'lnm-readme-'));
const clone = path.join(dir, 'clone');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The lines of the first ```sh block after `heading`. */
function block(heading: string): string[] {
  const at = README.indexOf(heading);
  expect(at, heading).toBeGreaterThan(-1);
  const m = /```sh\n([\s\S]*?)```/.exec(README.slice(at));
  return (m?.[1] ?? '').split('\n').filter((l) => l.trim() !== '');
}

async function sh(command: string, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; out: string }> {
  const child = spawn('bash', ['-c', command], { cwd, env });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out };
}

describe('README', () => {
  it('lists every command of the command table with its usage', () => {
    for (const c of COMMANDS) expect(README, c.name).toContain(usageLine(c));
  });

  it('spells every command line that calls the CLI as ./lnm-backfill', () => {
    // `lnm-backfill` as a command word (not ./lnm-backfill, lnm-backfill.log, lnm-backfill-monitor).
    const bare = /(^|[\s;&|(])lnm-backfill(?![\w.-])/;
    const calls = (cmd: string): boolean => /(^|[\s;&|(/])lnm-backfill(?![\w.-])/.test(cmd);
    const sh = [...README.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => (m[1] ?? '').split('\n'));
    // A transcript line: `$ ` then optional VAR=value assignments, then the command.
    const typed = README.split('\n').filter((l) => l.startsWith('$ ')).map((l) => l.slice(2).replace(/^(\w+=\S*\s+)*/, ''));
    const commands = [...sh, ...typed].map((l) => l.replace(/\s#.*$/, '').trim()).filter(calls);
    expect(commands.length).toBeGreaterThanOrEqual(30); // the quick tour, restore, the runbook transcript
    const wrong = commands.filter((c) => !c.startsWith('./lnm-backfill ') || bare.test(c));
    expect(wrong).toEqual([]);
  });

  it('a fresh clone with the working tree\'s changes installs with npm ci', async () => {
    expect((await sh(`git clone -q "${ROOT}" "${clone}"`, dir)).code).toBe(0);
    // What is about to be committed: tracked changes and untracked files of the working tree.
    const diff = await sh(`git -C "${ROOT}" diff HEAD --binary > "${dir}/wt.patch" && git -C "${clone}" apply --allow-empty "${dir}/wt.patch"`, dir);
    expect(diff.code, diff.out).toBe(0);
    const untracked = await sh(`git -C "${ROOT}" ls-files --others --exclude-standard`, ROOT);
    // Untracked files only (never a symlink such as a worktree's shared node_modules).
    for (const f of untracked.out.split('\n').filter(Boolean)) {
      if (!lstatSync(path.join(ROOT, f)).isSymbolicLink()) cpSync(path.join(ROOT, f), path.join(clone, f));
    }
    const ci = await sh('npm ci --no-audit --no-fund', clone);
    expect(ci.code, ci.out.slice(-3000)).toBe(0);
  }, 600_000);

  it('runs the quick tour as written, each line exiting 0', async () => {
    const lines = block('## Quick tour');
    expect(lines.length).toBeGreaterThanOrEqual(5);
    const { LNM_DB, LNM_QUEUE_PREFIX, LNM_NATS_STREAM, LNM_EVENT_SUBJECT_PREFIX, LNM_EVENT_REDIS_PREFIX } = childEnv(cfg);
    const env = { ...process.env, LNM_DB, LNM_QUEUE_PREFIX, LNM_NATS_STREAM, LNM_EVENT_SUBJECT_PREFIX, LNM_EVENT_REDIS_PREFIX, LNM_LOG_LEVEL: 'warn' };
    const outputs: string[] = [];
    for (const line of lines) {
      const r = await sh(line, clone, env);
      expect(r.code, `${line}\n${r.out.slice(-3000)}`).toBe(0);
      outputs.push(r.out);
    }
    const all = outputs.join('\n');
    expect(all).toContain('rolled back');
    expect(all).toMatch(/validation of run-\S+: ok/);
  }, 900_000);

  res.leakCheck();
});
