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

describe('keys that are special to JavaScript', () => {
  it('keeps __proto__ and constructor keys through escape and unescape, and pollutes nothing', () => {
    const raw = JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}},"a.b":{"__proto__":[1,{"__proto__":null}]}}') as Record<string, unknown>;
    const escaped = escapeKeys(raw);
    expect(Object.keys(escaped)).toEqual(['__proto__', 'constructor', 'a\uFF0Eb']);
    expect(Object.getPrototypeOf(escaped)).toBe(Object.prototype);
    expect(JSON.stringify(unescapeKeys(escaped))).toBe(JSON.stringify(raw));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
