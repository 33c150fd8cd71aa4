/**
 * A deterministic hostile corpus (issue 12): valid raw documents of several tenants (one
 * named like another's prefix, identical upstream ids across tenants, ids with '|' and
 * ':'), mixed with every kind of bad line, each with the outcome the importer must give:
 * accepted, duplicate (idempotency hit, possibly out of order), skipped (blank) or
 * rejected with a stable code and path. The generator decides the outcomes from its own
 * intent, not by running the guard; the edge digest of the accepted documents is
 * computed here too (DESIGN §3/§5), independently of the implementation.
 *
 * Streams to a file with backpressure; the largest lines are a document just under and one
 * just over 16 MiB of BSON, and one line over the importer's 64 MiB line limit.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mulberry32 } from '../../producer/seed.js';

export type Outcome = 'accepted' | 'duplicate' | 'blank' | { code: string; path: string };

export interface HostileCorpus {
  file: string;
  /** One outcome per line, line n at index n - 1. */
  outcomes: Outcome[];
  accepted: number;
  duplicates: number;
  outOfOrder: number;
  /** 1-based line numbers of the out-of-order duplicates, in file order. */
  outOfOrderLines: number[];
  rejected: Record<string, number>;
  /** Accepted documents per tenant. */
  perTenant: Record<string, number>;
  /** Expected edges over the accepted documents (all tenants) and for each tenant. */
  edges: { count: number; digest: string; perTenant: Record<string, { count: number; digest: string }> };
}

const MIB = 1024 * 1024;
export const TENANTS = ['acme', 'acme-eu', 'acm', 'acme:eu', 'beta'] as const;
const VENDORS = ['osv', 'ghsa'] as const;
const SHARED_IDS = ['CVE-2024-0001', 'GHSA|x:y', 'RUSTSEC:2024:0002', 'id|with|pipes'] as const;

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const hashOf = (s: string): string => `sha256:${sha(s)}`;
const day = (d: number): string => new Date(Date.UTC(2024, 0, 1) + d * 86_400_000).toISOString().replace('.000Z', 'Z');

interface Entry {
  /** The line without its newline; the biggest are built only when written. */
  text: Buffer | (() => Buffer);
  /** Set for valid documents: identity and fetch time decide accepted/duplicate. */
  key?: { tenant: string; vendor: string; id: string; hash: string; fetched: string };
  outcome?: Outcome;
}

export function validDoc(tenant: string, vendor: string, id: string, rev: number, content?: Record<string, unknown>, fetched = day(rev * 3)): Record<string, unknown> {
  const body = content ?? { format: 'osv', raw: { id, rev, summary: `revision ${rev} of ${id}` } };
  return {
    tenant,
    source: { vendor, connector: `${vendor}/export` },
    upstream: { upstream_id: id, document_version: fetched, fetched_at: fetched, content_hash: hashOf(`${tenant}/${vendor}/${id}/${rev}`) },
    identifiers: { aliases: [id] },
    content: body,
  };
}

function valid(doc: Record<string, unknown>, lazy = false): Entry {
  const up = doc.upstream as { upstream_id: string; content_hash: string; fetched_at: string };
  const src = doc.source as { vendor: string };
  return {
    text: lazy ? () => Buffer.from(JSON.stringify(doc)) : Buffer.from(JSON.stringify(doc)),
    key: { tenant: doc.tenant as string, vendor: src.vendor, id: up.upstream_id, hash: up.content_hash, fetched: up.fetched_at },
  };
}

function bad(text: string | Buffer | (() => Buffer), code: string, path: string): Entry {
  return { text: typeof text === 'string' ? Buffer.from(text) : text, outcome: { code, path } };
}

function change(doc: Record<string, unknown>, fn: (d: Record<string, any>) => void): string {
  const d = structuredClone(doc) as Record<string, any>;
  fn(d);
  return JSON.stringify(d);
}

function nested(levels: number): Record<string, unknown> {
  let o: Record<string, unknown> = { leaf: true };
  for (let l = levels; l > 3; l--) o = { n: o };
  return o;
}

function validEntries(): Entry[] {
  const out: Entry[] = [];
  for (const tenant of TENANTS) {
    for (const vendor of VENDORS) {
      for (const [k, id] of SHARED_IDS.entries()) {
        const revs = 1 + ((tenant.length + vendor.length + k) % 4);
        for (let r = 0; r < revs; r++) out.push(valid(validDoc(tenant, vendor, id, r)));
      }
      for (let i = 0; i < 20; i++) out.push(valid(validDoc(tenant, vendor, `PLAIN-${i}`, 0)));
    }
  }
  // Two revisions fetched at the same instant: ordered by content hash.
  out.push(valid(validDoc('beta', 'osv', 'SAME-TIME', 1, undefined, day(5))), valid(validDoc('beta', 'osv', 'SAME-TIME', 2, undefined, day(5))));
  const special = (id: string, content: Record<string, unknown>) => out.push(valid(validDoc('acme', 'osv', id, 0, content), true));
  special('KEYS-CONTENT', { format: 'osv', raw: { '>= 1.0, < 2.0': ['a::b'], $ref: 'x', 'a$b': 1, '': 'empty key' } });
  special('UNICODE', { format: 'osv', raw: { title: 'naïve – ✓ 漢字 😀 \u2028', rtl: 'مرحبا' } });
  special('DEEP-100', { format: 'osv', raw: nested(100) });
  special('JUST-UNDER-16MIB', { format: 'osv', raw: { blob: 'u'.repeat(16 * MIB - 4096) } });
  // __proto__ / constructor inside content: JSON text, so the keys are own properties.
  const proto = validDoc('acme', 'osv', 'PROTO', 0);
  out.push({
    text: Buffer.from(JSON.stringify(proto).replace('"content":{', '"content":{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"x":1}},')),
    key: { tenant: 'acme', vendor: 'osv', id: 'PROTO', hash: (proto.upstream as { content_hash: string }).content_hash, fetched: day(0) },
  });
  return out;
}

function badEntries(): Entry[] {
  const base = validDoc('acme', 'osv', 'BAD', 0);
  const deep = `{"tenant":"acme","source":{"vendor":"osv"},"upstream":{"upstream_id":"DEEP-ARRAY","fetched_at":"2024-01-01T00:00:00Z","content_hash":"${hashOf('deep')}"},"content":{"raw":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`;
  const idBytes = Buffer.from(change(base, (d) => (d.upstream.upstream_id = 'BAD-~')));
  idBytes[idBytes.indexOf('~')] = 0xff;
  const overlong = Buffer.from(change(base, (d) => (d.content.raw.t = 'x~~y')));
  overlong.set([0xc0, 0xaf], overlong.indexOf('~~'));
  const tooLong = () => Buffer.concat([Buffer.from(change(base, (d) => (d.content.raw.t = '#')).split('#')[0]!), Buffer.alloc(65 * MIB, 0x78), Buffer.from('"}}}')]);
  return [
    bad('{"tenant": "acme", ', 'ERR_INPUT_JSON', '$'),
    bad('not json at all', 'ERR_INPUT_JSON', '$'),
    bad('[1, 2, 3]', 'ERR_AOC_001', '$'),
    bad('null', 'ERR_AOC_001', '$'),
    bad(change(base, (d) => delete d.tenant), 'ERR_AOC_004', 'tenant'),
    bad(change(base, (d) => (d.tenant = '')), 'ERR_AOC_004', 'tenant'),
    bad(change(base, (d) => (d.tenant = { $ne: null })), 'ERR_AOC_004', 'tenant'),
    bad(change(base, (d) => delete d.source.vendor), 'ERR_AOC_005', 'source.vendor'),
    bad(change(base, (d) => delete d.upstream.upstream_id), 'ERR_AOC_005', 'upstream.upstream_id'),
    bad(change(base, (d) => (d.upstream.content_hash = d.upstream.content_hash.toUpperCase().replace('SHA256', 'sha256'))), 'ERR_AOC_006', 'upstream.content_hash'),
    bad(change(base, (d) => (d.upstream.content_hash = 'sha256:xyz')), 'ERR_AOC_006', 'upstream.content_hash'),
    bad(change(base, (d) => (d.upstream.fetched_at = '2024/01/02 03:04')), 'ERR_AOC_007', 'upstream.fetched_at'),
    bad(change(base, (d) => (d.upstream.fetched_at = '2024-02-30T00:00:00Z')), 'ERR_AOC_007', 'upstream.fetched_at'),
    bad(change(base, (d) => (d.upstream.fetched_at = '2024-01-01T25:00:00Z')), 'ERR_AOC_007', 'upstream.fetched_at'),
    bad(change(base, (d) => (d.severity = 'critical')), 'ERR_AOC_002', 'severity'),
    bad(change(base, (d) => (d.effective_status = 'affected')), 'ERR_AOC_002', 'effective_status'),
    bad(change(base, (d) => (d.merged_from = ['x'])), 'ERR_AOC_003', 'merged_from'),
    bad(change(base, (d) => (d.$set = { tenant: 'beta' })), 'ERR_AOC_003', '$set'),
    bad(JSON.stringify(base).replace('{"tenant"', '{"__proto__":{"tenant":"beta"},"tenant"'), 'ERR_AOC_003', '__proto__'),
    bad(JSON.stringify(base).replace('{"tenant"', '{"constructor":{"name":"x"},"tenant"'), 'ERR_AOC_003', 'constructor'),
    bad(change(base, (d) => (d.identifiers.$where = 'sleep(1)')), 'ERR_AOC_010', 'identifiers["$where"]'),
    bad(change(base, (d) => (d.linkset = { 'a.b': 1 })), 'ERR_AOC_010', 'linkset["a.b"]'),
    bad(change(base, (d) => (d.content.raw['k\u0000'] = 1)), 'ERR_AOC_010', 'content.raw["k\\u0000"]'),
    bad(change(base, (d) => (d.content.raw['a\uFF0Eb'] = 1)), 'ERR_AOC_010', 'content.raw["a\uFF0Eb"]'),
    bad(change(base, (d) => (d.tenant = 'acme|eu')), 'ERR_AOC_011', 'tenant'),
    bad(change(base, (d) => (d.source.vendor = 'osv|x')), 'ERR_AOC_011', 'source.vendor'),
    bad(change(base, (d) => (d.content = { raw: nested(101) })), 'ERR_AOC_012', `content.raw${'.n'.repeat(98)}`),
    bad(deep, 'ERR_AOC_012', `content.raw${'[0]'.repeat(98)}`),
    bad(change(base, (d) => (d.upstream.upstream_id = 'BAD-\uD800')), 'ERR_AOC_013', 'upstream.upstream_id'),
    bad(change(base, (d) => (d.ingested_at = '2999-01-01T00:00:00Z')), 'ERR_AOC_009', 'ingested_at'),
    bad(change(base, (d) => (d._id = 'chosen-id')), 'ERR_AOC_009', '_id'),
    bad(idBytes, 'ERR_INPUT_UTF8', '$'),
    bad(overlong, 'ERR_INPUT_UTF8', '$'),
    bad(() => Buffer.from(change(base, (d) => (d.content.raw.blob = 'h'.repeat(16 * MIB + 1024)))), 'ERR_IMPORT_TOO_LARGE', '$'),
    bad(tooLong, 'ERR_INPUT_LINE_TOO_LONG', '$'),
  ];
}

/** sha256 over sorted `tenant|vendor|id|older|newer\n` lines of the accepted revisions. */
function expectedEdges(docs: Array<NonNullable<Entry['key']>>, tenant?: string): { count: number; digest: string } {
  const groups = new Map<string, Array<{ t: number; h: string }>>();
  for (const d of docs) {
    if (tenant !== undefined && d.tenant !== tenant) continue;
    const k = `${d.tenant}|${d.vendor}|${d.id}`;
    groups.set(k, [...(groups.get(k) ?? []), { t: Date.parse(d.fetched), h: d.hash }]);
  }
  const lines: string[] = [];
  for (const [k, revs] of groups) {
    revs.sort((a, b) => a.t - b.t || (a.h < b.h ? -1 : 1));
    for (let i = 1; i < revs.length; i++) lines.push(`${k}|${revs[i - 1]!.h}|${revs[i]!.h}\n`);
  }
  lines.sort();
  const h = createHash('sha256');
  for (const l of lines) h.update(l);
  return { count: lines.length, digest: h.digest('hex') };
}

export async function writeHostileCorpus(file: string, seed = 12): Promise<HostileCorpus> {
  const rng = mulberry32(seed);
  const entries: Entry[] = [...validEntries(), ...badEntries(), { text: Buffer.from('   '), outcome: 'blank' }, { text: Buffer.alloc(0), outcome: 'blank' }];
  // Idempotency hits: exact repeats, and a repeat fetched earlier than the original (out of order).
  const acme = validDoc('acme', 'osv', 'CVE-2024-0001', 0);
  entries.push(valid(acme), valid({ ...acme, upstream: { ...(acme.upstream as object), fetched_at: day(-30) } }));
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  const result: HostileCorpus = { file, outcomes: [], accepted: 0, duplicates: 0, outOfOrder: 0, outOfOrderLines: [], rejected: {}, perTenant: {}, edges: { count: 0, digest: '', perTenant: {} } };
  const first = new Map<string, NonNullable<Entry['key']>>();
  const out = createWriteStream(file);
  for (const e of entries) {
    let outcome = e.outcome;
    if (e.key) {
      const id = `${e.key.tenant}|${e.key.vendor}|${e.key.id}|${e.key.hash}`;
      const stored = first.get(id);
      if (stored) {
        outcome = 'duplicate';
        result.duplicates++;
        if (Date.parse(e.key.fetched) < Date.parse(stored.fetched)) {
          result.outOfOrder++;
          result.outOfOrderLines.push(result.outcomes.length + 1);
        }
      } else {
        outcome = 'accepted';
        first.set(id, e.key);
        result.accepted++;
        result.perTenant[e.key.tenant] = (result.perTenant[e.key.tenant] ?? 0) + 1;
      }
    } else if (outcome && typeof outcome === 'object') {
      result.rejected[outcome.code] = (result.rejected[outcome.code] ?? 0) + 1;
    }
    result.outcomes.push(outcome!);
    if (!out.write(typeof e.text === 'function' ? e.text() : e.text)) await once(out, 'drain');
    if (!out.write('\n')) await once(out, 'drain');
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  const accepted = [...first.values()];
  result.edges = { ...expectedEdges(accepted), perTenant: Object.fromEntries(TENANTS.map((t) => [t, expectedEdges(accepted, t)])) };
  return result;
}
