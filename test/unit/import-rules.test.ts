/**
 * The dependency rule (README, "Layout"): `core/` imports only `core/`; `producer/`,
 * `workers/` and `monitor/` import only `core/` (and themselves); `api/` composes the
 * roles; `bin/` (the CLI) calls only `api/` and `core/`. Read from the sources, so the
 * rule holds by itself.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ROLES = ['producer', 'workers', 'monitor'] as const;
const TOP = ['core', ...ROLES, 'bin', 'api'] as const;

function sources(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  let names: string[];
  try {
    names = readdirSync(abs);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const rel = path.join(dir, n);
    if (statSync(path.join(ROOT, rel)).isDirectory()) return sources(rel);
    return n.endsWith('.ts') ? [rel] : [];
  });
}

/** Relative import specifiers of a source file (static, re-exports and dynamic). */
function importsOf(text: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.[^'"]+)['"]/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1]!);
  return out;
}

/** The top-level folder a repo-relative path belongs to. */
function topOf(rel: string): string {
  return rel.split(path.sep)[0]!;
}

function allowed(from: string, to: string): boolean {
  if (from === to) return true;
  if (from === 'core') return false;
  if ((ROLES as readonly string[]).includes(from)) return to === 'core';
  if (from === 'bin') return to === 'api' || to === 'core';
  return true; // api/ composes everything
}

describe('import rules', () => {
  it('finds the imports of a file in every syntax used', () => {
    const text = `import a from './a.js';\nimport { b } from "../core/b.js";\nexport { c } from './c.js';\nconst d = await import('../monitor/d.js');\nimport './side.js';`;
    expect(importsOf(text)).toEqual(['./a.js', '../core/b.js', './c.js', '../monitor/d.js', './side.js']);
  });

  it('no role folder imports another role, and core imports only core', () => {
    const violations: string[] = [];
    const files = TOP.flatMap((d) => sources(d));
    expect(files.length).toBeGreaterThan(30);
    for (const file of files) {
      const from = topOf(file);
      for (const spec of importsOf(readFileSync(path.join(ROOT, file), 'utf8'))) {
        const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec));
        const to = topOf(target);
        if (!allowed(from, to)) violations.push(`${file} imports ${spec} (${from}/ -> ${to}/)`);
      }
    }
    expect(violations).toEqual([]);
  });
});
