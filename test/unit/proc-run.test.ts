/** `run()` from core/services/proc.ts: never throws, reports a missing command, enforces its timeout. */
import { describe, expect, it } from 'vitest';
import { run } from '../../core/services/proc.js';

describe('run', () => {
  it('captures the output and exit code of a command', async () => {
    const r = await run('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('reports a command that is not installed as spawnError ENOENT', async () => {
    const r = await run('lnm-no-such-command', [], { timeoutMs: 60_000 });
    expect(r.code).toBeNull();
    expect(r.spawnError?.code).toBe('ENOENT');
  });

  it('kills a command that outlives its timeout', async () => {
    const t0 = Date.now();
    const r = await run('sleep', ['30'], { timeoutMs: 200 });
    expect(r.code).toBeNull();
    expect(r.stderr).toContain('killed by SIGTERM');
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
