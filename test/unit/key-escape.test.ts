import { describe, expect, it } from 'vitest';
import { escapeKeys, unescapeKeys } from '../../core/store/key-escape.js';

describe('raw content key escaping', () => {
  const raw = {
    advisory: { id: 'RUSTSEC-2018-0013' },
    affected_paths: { '>= 0.4.0, <= 0.10.0': ['a::b'], '= 0.10.0': ['c'] },
    $ref: 'x',
    list: [{ 'a.b': 1 }, 'plain.value', null],
    when: new Date('2020-01-01T00:00:00Z'),
  };

  it('leaves no "." in any key and no key starting with "$"', () => {
    const keys: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object' && !(v instanceof Date)) {
        for (const [k, x] of Object.entries(v)) {
          keys.push(k);
          walk(x);
        }
      }
    };
    walk(escapeKeys(raw));
    expect(keys.length).toBe(9);
    expect(keys.filter((k) => k.includes('.') || k.startsWith('$'))).toEqual([]);
  });

  it('is reversible and leaves values (strings with dots, dates) alone', () => {
    const escaped = escapeKeys(raw);
    expect(escaped.list[1]).toBe('plain.value');
    expect(escaped.when).toEqual(raw.when);
    expect(unescapeKeys(escaped)).toEqual(raw);
  });
});
