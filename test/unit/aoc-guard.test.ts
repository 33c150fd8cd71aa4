import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { type AocResult, checkRawDocument } from '../../core/aoc-guard.js';

const HASH = `sha256:${'0123456789abcdef'.repeat(4)}`;

/** A fresh, valid raw document (mutate freely). */
function valid(): Record<string, any> {
  return {
    tenant: 'default',
    source: { vendor: 'rustsec', connector: 'rustsec/advisory-db' },
    upstream: {
      upstream_id: 'RUSTSEC-2024-0001',
      document_version: '2024-01-02T03:04:05Z',
      fetched_at: '2024-01-02T03:04:05Z',
      received_at: '2024-01-02T03:04:06.123Z',
      content_hash: HASH,
    },
    identifiers: { aliases: ['CVE-2024-0001'] },
    content: { format: 'rustsec', raw: { advisory: { id: 'RUSTSEC-2024-0001' }, body: '# t\n' } },
  };
}

function rejection(input: unknown): { code: string; path: string } {
  const r: AocResult = checkRawDocument(input);
  if (r.ok) throw new Error('expected a rejection, got ok');
  expect(r.rejection.message).toBeTruthy();
  return { code: r.rejection.code, path: r.rejection.path };
}

function withChange(change: (d: Record<string, any>) => void): Record<string, any> {
  const d = valid();
  change(d);
  return d;
}

describe('valid documents', () => {
  it('passes and normalises fetched_at to Date', () => {
    const input = valid();
    const r = checkRawDocument(input);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.doc.upstream.fetched_at).toBeInstanceOf(Date);
    expect(r.doc.upstream.fetched_at.getTime()).toBe(Date.UTC(2024, 0, 2, 3, 4, 5));
    expect(r.doc.tenant).toBe('default');
    expect(r.doc.upstream.content_hash).toBe(HASH);
    expect(r.doc.content).toEqual(input.content);
    // the input is not mutated
    expect(input.upstream.fetched_at).toBe('2024-01-02T03:04:05Z');
  });

  it('accepts a Date fetched_at and the minimal set of fields', () => {
    const when = new Date(Date.UTC(2020, 5, 1));
    const r = checkRawDocument({
      tenant: 't', source: { vendor: 'v' }, upstream: { upstream_id: 'u', fetched_at: when, content_hash: HASH }, content: {},
    });
    expect(r.ok && r.doc.upstream.fetched_at.getTime()).toBe(when.getTime());
  });

  it('allows derived-looking fields nested inside content (only the top level is restricted)', () => {
    expect(checkRawDocument(withChange((d) => { d.content.raw.cvss = 'CVSS:3.1/AV:N'; d.content.raw.severity = 'high'; })).ok).toBe(true);
  });

  it('passes the first line of the rustsec corpus fixture', () => {
    const gz = readFileSync(new URL('../../data/rustsec/advisory_raw.jsonl.gz', import.meta.url));
    const first = gunzipSync(gz).toString('utf8').split('\n', 1)[0] ?? '';
    const doc = JSON.parse(first) as { upstream: { fetched_at: string } };
    const r = checkRawDocument(doc);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.doc.upstream.fetched_at.toISOString().replace('.000Z', 'Z')).toBe(doc.upstream.fetched_at);
  });
});

describe('ERR_AOC_001 not an object', () => {
  it.each([['null', null], ['array', [valid()]], ['string', '{"tenant":"x"}'], ['number', 42], ['undefined', undefined], ['Date', new Date()]])(
    '%s',
    (_name, input) => expect(rejection(input)).toEqual({ code: 'ERR_AOC_001', path: '$' }),
  );
});

describe('ERR_AOC_002 forbidden derived field at top level', () => {
  it.each([
    'severity', 'cvss', 'cvss_vector', 'effective_status', 'effective_range', 'effective_anything',
    'consensus_provider', 'risk_score', 'reachability', 'asset_criticality',
  ])('%s', (field) => {
    expect(rejection(withChange((d) => { d[field] = 'x'; }))).toEqual({ code: 'ERR_AOC_002', path: field });
  });

  it('is reported even when the value is null', () => {
    expect(rejection(withChange((d) => { d.cvss = null; }))).toEqual({ code: 'ERR_AOC_002', path: 'cvss' });
  });
});

describe('ERR_AOC_003 unknown top-level field', () => {
  it.each(['extra', 'Tenant', 'merged_from', 'source_vendor'])('%s', (field) => {
    expect(rejection(withChange((d) => { d[field] = 1; }))).toEqual({ code: 'ERR_AOC_003', path: field });
  });
});

describe('ERR_AOC_004 missing or empty tenant', () => {
  it.each([['missing', undefined], ['empty', ''], ['blank', '   '], ['not a string', 7], ['null', null]])('%s', (_n, value) => {
    const d = withChange((x) => { if (value === undefined) delete x.tenant; else x.tenant = value; });
    expect(rejection(d)).toEqual({ code: 'ERR_AOC_004', path: 'tenant' });
  });
});

describe('ERR_AOC_005 missing provenance', () => {
  it.each([
    ['source.vendor', (d: Record<string, any>) => { delete d.source.vendor; }],
    ['source.vendor', (d: Record<string, any>) => { d.source.vendor = ''; }],
    ['upstream.upstream_id', (d: Record<string, any>) => { delete d.upstream.upstream_id; }],
    ['upstream.upstream_id', (d: Record<string, any>) => { d.upstream.upstream_id = ' '; }],
    ['upstream.fetched_at', (d: Record<string, any>) => { delete d.upstream.fetched_at; }],
    ['upstream.fetched_at', (d: Record<string, any>) => { d.upstream.fetched_at = null; }],
    ['upstream.content_hash', (d: Record<string, any>) => { delete d.upstream.content_hash; }],
    ['upstream.content_hash', (d: Record<string, any>) => { d.upstream.content_hash = ''; }],
    ['source', (d: Record<string, any>) => { delete d.source; }],
    ['upstream', (d: Record<string, any>) => { d.upstream = 'RUSTSEC-2024-0001'; }],
  ])('%s (%#)', (path, change) => {
    expect(rejection(withChange(change))).toEqual({ code: 'ERR_AOC_005', path });
  });
});

describe('ERR_AOC_006 malformed content hash', () => {
  it.each([
    ['uppercase hex', `sha256:${'0123456789ABCDEF'.repeat(4)}`],
    ['63 hex digits', `sha256:${'a'.repeat(63)}`],
    ['65 hex digits', `sha256:${'a'.repeat(65)}`],
    ['missing sha256: prefix', 'a'.repeat(64)],
    ['other algorithm', `sha512:${'a'.repeat(64)}`],
    ['non-hex digit', `sha256:${'g'.repeat(64)}`],
    ['not a string', 12345],
  ])('%s', (_n, value) => {
    expect(rejection(withChange((d) => { d.upstream.content_hash = value; }))).toEqual({ code: 'ERR_AOC_006', path: 'upstream.content_hash' });
  });
});

describe('ERR_AOC_007 malformed timestamp', () => {
  it.each([
    ['upstream.fetched_at', 'yesterday'],
    ['upstream.fetched_at', '2024-01-02'],
    ['upstream.fetched_at', '2024-01-02 03:04:05Z'],
    ['upstream.fetched_at', '2024-01-02T03:04:05'],
    ['upstream.fetched_at', '2024-13-02T03:04:05Z'],
    ['upstream.fetched_at', 1704164645000],
    ['upstream.fetched_at', new Date(Number.NaN)],
    ['upstream.received_at', 'bad'],
  ])('%s = %s', (path, value) => {
    const d = withChange((x) => {
      x.upstream[path.slice('upstream.'.length)] = value;
    });
    expect(rejection(d)).toEqual({ code: 'ERR_AOC_007', path });
  });

  // Date would silently roll these over (2024-02-30 -> 2024-03-01).
  it.each(['2024-02-30T00:00:00Z', '2023-02-29T00:00:00Z', '2024-01-01T24:00:00Z', '2024-13-01T00:00:00Z'])(
    'rejects the impossible calendar date %s',
    (ts) => {
      expect(rejection(withChange((d) => { d.upstream.fetched_at = ts; }))).toEqual({ code: 'ERR_AOC_007', path: 'upstream.fetched_at' });
    },
  );

  it('accepts a leap day', () => {
    expect(checkRawDocument(withChange((d) => { d.upstream.fetched_at = '2024-02-29T23:59:59Z'; })).ok).toBe(true);
  });
});

describe('ERR_AOC_008 wrong type', () => {
  it.each([
    ['content', 'raw text'],
    ['content', ['a']],
    ['content', null],
    ['content', undefined],
    ['identifiers', 'CVE-2024-0001'],
    ['linkset', []],
  ])('%s = %j', (path, value) => {
    const d = withChange((x) => { if (value === undefined) delete x[path]; else x[path] = value; });
    expect(rejection(d)).toEqual({ code: 'ERR_AOC_008', path });
  });
});

describe('ERR_AOC_009 server-assigned field in the input', () => {
  it.each([
    ['ingested_at', '2999-01-01T00:00:00Z'],
    ['ingested_at', 'bad'],
    ['_id', 'my-own-id'],
  ])('%s = %s', (field, value) => {
    expect(rejection(withChange((d) => { d[field] = value; }))).toEqual({ code: 'ERR_AOC_009', path: field });
  });
});

describe("ERR_AOC_010 a key the store cannot hold unchanged", () => {
  it.each([
    ['identifiers["cve.id"]', (d: Record<string, any>) => { d.identifiers['cve.id'] = 'x'; }],
    ['linkset["$where"]', (d: Record<string, any>) => { d.linkset = { $where: 'x' }; }],
    ['source["$set"]', (d: Record<string, any>) => { d.source.$set = {}; }],
    ['upstream.signature["key.id"]', (d: Record<string, any>) => { d.upstream.signature = { present: true, 'key.id': 'k' }; }],
    ['identifiers.aliases[1]["a.b"]', (d: Record<string, any>) => { d.identifiers.aliases.push({ 'a.b': 1 }); }],
    ['supersedes["$oid"]', (d: Record<string, any>) => { d.supersedes = { $oid: 'x' }; }],
    ['content.raw["a\\u0000b"]', (d: Record<string, any>) => { d.content.raw['a\u0000b'] = 1; }],
    ['content.raw["a\uff0eb"]', (d: Record<string, any>) => { d.content.raw['a\uFF0Eb'] = 1; }],
    ['content.raw["\uff04ref"]', (d: Record<string, any>) => { d.content.raw['\uFF04ref'] = 1; }],
  ])('%s', (path, change) => {
    expect(rejection(withChange(change))).toEqual({ code: 'ERR_AOC_010', path });
  });

  it("allows '.' and '$' keys inside content (they are escaped on storage) and '$' inside a key elsewhere", () => {
    expect(checkRawDocument(withChange((d) => { d.content.raw['>= 1.0, < 2.0'] = ['x']; d.content.raw.$ref = 'y'; d.identifiers.a$b = 1; })).ok).toBe(true);
  });

  it('keeps __proto__ and constructor keys as own properties', () => {
    const input = JSON.parse(
      `{"tenant":"t","source":{"vendor":"v"},"upstream":{"upstream_id":"u","fetched_at":"2024-01-01T00:00:00Z","content_hash":"${HASH}"},` +
        '"content":{"__proto__":{"a":1},"constructor":{"prototype":1}},"identifiers":{"__proto__":[1]}}',
    ) as unknown;
    const r = checkRawDocument(input);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(Object.keys(r.doc.content)).toEqual(['__proto__', 'constructor']);
    expect(JSON.stringify(r.doc.identifiers)).toBe('{"__proto__":[1]}');
  });
});

describe("ERR_AOC_011 '|' in tenant or vendor", () => {
  it.each([
    ['tenant', (d: Record<string, any>) => { d.tenant = 'a|b'; }],
    ['source.vendor', (d: Record<string, any>) => { d.source.vendor = 'b|c'; }],
  ])('%s', (path, change) => {
    expect(rejection(withChange(change))).toEqual({ code: 'ERR_AOC_011', path });
  });

  it("allows '|' and ':' in upstream_id and ':' in tenant and vendor", () => {
    expect(checkRawDocument(withChange((d) => { d.upstream.upstream_id = 'GHSA|x:y'; d.tenant = 'acme:eu'; d.source.vendor = 'osv:gcs'; })).ok).toBe(true);
  });
});

describe('ERR_AOC_012 nesting deeper than 100 levels', () => {
  /** content.raw nested so that the deepest object sits at level `level` (the document is level 1). */
  function nestedTo(level: number): Record<string, any> {
    let o: Record<string, unknown> = { leaf: 1 };
    for (let l = level; l > 3; l--) o = { n: o };
    return withChange((d) => { d.content = { raw: o }; });
  }

  it('accepts exactly 100 levels and rejects 101 with the path of the first too-deep object', () => {
    expect(checkRawDocument(nestedTo(100)).ok).toBe(true);
    const r = rejection(nestedTo(101));
    expect(r.code).toBe('ERR_AOC_012');
    expect(r.path).toBe(`content.raw${'.n'.repeat(98)}`);
  });

  it('rejects a 100 000-level document without exhausting the stack', () => {
    const text = `{"tenant":"t","source":{"vendor":"v"},"upstream":{"upstream_id":"u","fetched_at":"2024-01-01T00:00:00Z","content_hash":"${HASH}"},"content":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const d = JSON.parse(text) as Record<string, unknown>;
    d.content = { raw: d.content };
    expect(rejection(d).code).toBe('ERR_AOC_012');
  });
});

describe('ERR_AOC_013 lone UTF-16 surrogates', () => {
  it.each([
    ['upstream.upstream_id', (d: Record<string, any>) => { d.upstream.upstream_id = 'X-\uD800'; }],
    ['content.raw.title', (d: Record<string, any>) => { d.content.raw.title = 'a\uDC00b'; }],
    ['identifiers.aliases[0]', (d: Record<string, any>) => { d.identifiers.aliases[0] = '\uD83D'; }],
    ['tenant', (d: Record<string, any>) => { d.tenant = 't\uD800'; }],
  ])('%s', (path, change) => {
    expect(rejection(withChange(change))).toEqual({ code: 'ERR_AOC_013', path });
  });

  it('rejects a lone surrogate in a key', () => {
    expect(rejection(withChange((d) => { d.content.raw['k\uD800'] = 1; }))).toMatchObject({ code: 'ERR_AOC_013' });
  });

  it('accepts paired surrogates (emoji) and other non-ASCII text', () => {
    expect(checkRawDocument(withChange((d) => { d.content.raw.title = 'naïve 😀 漢字'; d.upstream.upstream_id = 'Ü-😀'; })).ok).toBe(true);
  });
});
