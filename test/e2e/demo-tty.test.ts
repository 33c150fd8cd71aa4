/**
 * The demo on a terminal (under a pseudo-terminal, `script`): a person sees the steps,
 * the progress bar and the summary — no JSON log line; the JSON logs are in the log file,
 * whose path is printed once, first.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLI } from '../helpers/env.js';
import { useResources } from '../helpers/resources.js';
import { childEnv } from '../../core/config.js';
import { logFilePath } from '../../core/logger.js';

const res = useResources();
const cfg = res.config('demo_tty');
// The demo works in <LNM_DB>_demo / <prefix>-demo: drop those too.
const demoCfg = { ...cfg, db: `${cfg.db}_demo`, queuePrefix: `${cfg.queuePrefix}-demo` };
res.configs.push({ cfg: demoCfg, home: cfg.homeDir });

describe('demo on a terminal', () => {
  it('shows progress and a readable summary, and writes JSON logs only to the log file (its path printed once)', async () => {
    const child = spawn('script', ['-qec', `"${process.execPath}" "${CLI}" demo --docs=400`, '/dev/null'], { env: { ...childEnv(cfg), LNM_LOG_LEVEL: 'info' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code, out.slice(-4000)).toBe(0);
    expect(out).toContain('demo: importing the bundled rustsec corpus');
    expect(out).toMatch(/\r\[#+\.*\] \d+\/\d+ shards/); // the bar, redrawn in place
    expect(out).toMatch(/demo OK: run run-\S+ succeeded/);
    expect(out).toContain('rustsec: 1807/1807 edges, oracle digest matches');
    expect(out).not.toContain('{"level"');
    const log = logFilePath(cfg);
    expect(out.split(`logs: ${log}`).length - 1, out.slice(0, 2000)).toBe(1); // the path, once
    expect(out.indexOf(`logs: ${log}`)).toBeLessThan(out.indexOf('demo: making Redis and MongoDB available'));
    expect(existsSync(log)).toBe(true);
    expect(readFileSync(log, 'utf8')).toContain('"msg":"shard done"');
  }, 900_000);

  res.leakCheck();
});
