/** The error catalog: every code the sources use is catalogued; exit status follows the class. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AOC_CODES } from '../../core/aoc-guard.js';
import {
  ConfigError,
  ERROR_CODES,
  errorSummary,
  exitCodeFor,
  InputError,
  isErrorCode,
  NotFoundError,
  PayloadError,
  UsageError,
} from '../../core/errors.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((n) => {
    const rel = path.join(dir, n);
    if (statSync(path.join(ROOT, rel)).isDirectory()) return sources(rel);
    return n.endsWith('.ts') ? [rel] : [];
  });
}

describe('error catalog', () => {
  it('has a one-line meaning for every code', () => {
    for (const [code, meaning] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^ERR_[A-Z0-9_]+$/);
      expect(meaning.length, code).toBeGreaterThan(10);
      expect(meaning, code).not.toContain('\n');
    }
  });

  it('covers every AOC rejection code', () => {
    for (const code of Object.values(AOC_CODES)) expect(isErrorCode(code), code).toBe(true);
  });

  it('covers every ERR_ literal written in the sources', () => {
    const unknown: string[] = [];
    for (const dir of ['core', 'producer', 'workers', 'monitor', 'bin', 'api']) {
      let files: string[] = [];
      try {
        files = sources(dir);
      } catch {
        continue; // a folder that does not exist yet
      }
      for (const f of files) {
        for (const m of readFileSync(path.join(ROOT, f), 'utf8').matchAll(/['"`](ERR_[A-Z0-9_]+)['"`]/g)) {
          if (!isErrorCode(m[1])) unknown.push(`${f}: ${m[1]}`);
        }
      }
    }
    expect(unknown).toEqual([]);
  });

  it('is listed in the README', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const missing = Object.keys(ERROR_CODES).filter((c) => !readme.includes(`\`${c}\``));
    expect(missing).toEqual([]);
  });
});

describe('exit status by class', () => {
  it('is 2 for usage and configuration errors, 1 for the rest', () => {
    expect(exitCodeFor(new UsageError('unknown option --docs', 'usage: x'))).toBe(2);
    expect(exitCodeFor(new ConfigError('LNM_DB', 'bad'))).toBe(2);
    expect(exitCodeFor(new NotFoundError('run', 'x'))).toBe(1);
    expect(exitCodeFor(new InputError('f', 'missing'))).toBe(1);
    expect(exitCodeFor(new Error('boom'))).toBe(1);
  });

  it('summarises driver errors without losing their code', () => {
    expect(errorSummary(new PayloadError('job.data', 'bad'))).toEqual({ code: 'ERR_PAYLOAD', message: 'job.data: bad', path: 'job.data' });
    expect(errorSummary(Object.assign(new Error('dup'), { code: 11000 })).code).toBe('ERR_DRIVER_11000');
    expect(errorSummary('x').code).toBe('ERR_INTERNAL');
  });
});
