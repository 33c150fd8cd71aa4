/**
 * Synthetic corpus generator, in the exact line format of the rustsec fixture
 * (data/rustsec/README.md): `tenant`, `source`, `upstream`, `identifiers`,
 * `content: { format, raw }`. Deterministic for a seed (own PRNG, no clock); streams
 * one advisory at a time, so memory is constant. `content_hash` is `sha256:` + hex of
 * the generated upstream bytes, i.e. `JSON.stringify(content.raw)` in UTF-8.
 *
 * Shape: five vendors with their own id schemes and raw formats, most advisories with
 * one revision and a geometric tail up to MAX_REVISIONS, ~1-3 KB per document.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export interface SeedOptions {
  docs: number;
  seed: number;
  tenants: number;
}

export type Rng = () => number;

/** mulberry32: a small, fast 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const MAX_REVISIONS = 15;
export const VENDORS = ['rustsec', 'ghsa', 'osv', 'nvd', 'redhat'] as const;
type Vendor = (typeof VENDORS)[number];

const CONNECTOR: Record<Vendor, string> = {
  rustsec: 'rustsec/advisory-db',
  ghsa: 'github/advisory-database',
  osv: 'osv.dev/gcs-export',
  nvd: 'nvd/cve-api-2.0',
  redhat: 'redhat/csaf-vex',
};
const FORMAT: Record<Vendor, string> = { rustsec: 'rustsec', ghsa: 'osv', osv: 'osv', nvd: 'nvd-cve-2.0', redhat: 'csaf-2.0' };
const ECOSYSTEMS = ['crates.io', 'npm', 'PyPI', 'Go', 'Maven', 'RubyGems', 'NuGet'] as const;
const GHSA_ALPHABET = '23456789cfghjmpqrvwx';
const WORDS = (
  'attacker remote crafted input buffer overflow heap stack memory safety use after free double ' +
  'race condition deserialization untrusted data parser panic denial of service allocation unbounded ' +
  'recursion injection command path traversal archive symlink certificate validation bypass timing ' +
  'side channel cryptographic nonce reuse integer truncation signed unsigned cast unsound lifetime ' +
  'thread send sync header request smuggling redirect cookie session token leak sensitive log ' +
  'regular expression backtracking exponential decompression bomb sandbox escape privilege'
).split(' ');
const NAME_PARTS = ['http', 'tokio', 'serde', 'yaml', 'xml', 'json', 'tar', 'zip', 'crypto', 'ssl', 'image', 'sql', 'auth', 'cache', 'proto', 'rpc', 'async', 'log', 'url', 'mime'];
const REF_HOSTS = ['https://github.com/{p}/security/advisories', 'https://nvd.nist.gov/vuln/detail', 'https://github.com/{p}/issues', 'https://github.com/{p}/pull', 'https://bugzilla.redhat.com/show_bug.cgi?id=', 'https://seclists.org/oss-sec'];

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
const iso = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const pad = (n: number, w: number): string => String(n).padStart(w, '0');

function sentence(rng: Rng, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(pick(rng, WORDS));
  const s = out.join(' ');
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}.`;
}

function paragraph(rng: Rng, sentences: number): string {
  const out: string[] = [];
  for (let i = 0; i < sentences; i++) out.push(sentence(rng, int(rng, 8, 18)));
  return out.join(' ');
}

/** Revisions per advisory: 1 with p≈0.62, then a geometric tail (ratio 0.6) capped at MAX_REVISIONS. */
export function revisionCount(rng: Rng): number {
  if (rng() < 0.62) return 1;
  let k = 2;
  while (k < MAX_REVISIONS && rng() < 0.6) k++;
  return k;
}

/** A bijective scramble of n into a GHSA-looking id (the odd multiplier, not a multiple of 5, is coprime with 20^12). */
function ghsaId(n: number): string {
  let x = (BigInt(n) * 1_000_000_000_000_037n + 2_718_281_828_459n) % 20n ** 12n;
  let s = '';
  for (let i = 0; i < 12; i++) {
    s += GHSA_ALPHABET[Number(x % 20n)];
    x /= 20n;
  }
  return `GHSA-${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8)}`;
}

function upstreamId(vendor: Vendor, n: number, year: number, ecosystem: string): string {
  switch (vendor) {
    case 'rustsec': return `RUSTSEC-${year}-${pad(n, 4)}`;
    case 'ghsa': return ghsaId(n);
    case 'osv': return `${ecosystem === 'PyPI' ? 'PYSEC' : ecosystem === 'Go' ? 'GO' : 'OSV'}-${year}-${pad(n, 4)}`;
    case 'nvd': return `CVE-${year}-${pad(n + 10000, 5)}`;
    case 'redhat': return `RHSA-${year}:${pad(n, 4)}`;
  }
}

interface AdvisoryState {
  vendor: Vendor;
  id: string;
  pkg: { ecosystem: string; name: string };
  published: string;
  summary: string;
  details: string[];
  aliases: string[];
  introduced: string;
  fixed: string[];
  references: string[];
}

function newAdvisory(rng: Rng, n: number, publishedMs: number): AdvisoryState {
  const vendor = pick(rng, VENDORS);
  const year = new Date(publishedMs).getUTCFullYear();
  const ecosystem = vendor === 'rustsec' ? 'crates.io' : pick(rng, ECOSYSTEMS);
  const name = `${pick(rng, NAME_PARTS)}${rng() < 0.5 ? '-' : '_'}${pick(rng, NAME_PARTS)}`;
  const id = upstreamId(vendor, n, year, ecosystem);
  const aliases = new Set<string>();
  if (vendor !== 'nvd' && rng() < 0.7) aliases.add(`CVE-${year}-${int(rng, 1000, 49999)}`);
  if (vendor !== 'ghsa' && rng() < 0.5) aliases.add(ghsaId(n + 1_000_003));
  if (vendor === 'nvd' || vendor === 'ghsa') aliases.add(id);
  const major = int(rng, 0, 4);
  const references: string[] = [];
  for (let i = int(rng, 2, 5); i > 0; i--) references.push(reference(rng, name));
  return {
    vendor, id, pkg: { ecosystem, name }, published: iso(publishedMs),
    summary: sentence(rng, int(rng, 6, 12)).slice(0, -1),
    details: [paragraph(rng, int(rng, 3, 7)), paragraph(rng, int(rng, 2, 5))],
    aliases: [...aliases].sort(),
    introduced: `${major}.${int(rng, 0, 9)}.0`,
    fixed: [`${major}.${int(rng, 10, 20)}.${int(rng, 0, 5)}`],
    references,
  };
}

function reference(rng: Rng, name: string): string {
  return `${pick(rng, REF_HOSTS).replace('{p}', `example-org/${name}`)}/${int(rng, 100, 99999)}`;
}

/** Evolve an advisory between revisions: details, references, aliases or fixed ranges change. */
function evolve(rng: Rng, a: AdvisoryState, year: number): void {
  const r = rng();
  if (r < 0.3) a.references.push(reference(rng, a.pkg.name));
  else if (r < 0.45 && !a.aliases.some((x) => x.startsWith('CVE-'))) a.aliases = [...a.aliases, `CVE-${year}-${int(rng, 1000, 49999)}`].sort();
  else if (r < 0.6) a.fixed.push(`${int(rng, 0, 6)}.${int(rng, 0, 30)}.${int(rng, 0, 9)}`);
  if (a.details.length < 4) a.details.push(paragraph(rng, int(rng, 1, 2)));
  else a.details[int(rng, 1, a.details.length - 1)] = paragraph(rng, int(rng, 1, 3));
  if (a.references.length > 8) a.references.splice(int(rng, 0, a.references.length - 1), 1);
}

function rawFor(a: AdvisoryState, modified: string): Record<string, unknown> {
  const details = a.details.join('\n\n');
  const refs = a.references;
  const ranges = [{ type: 'SEMVER', events: [{ introduced: a.introduced }, ...a.fixed.map((fixed) => ({ fixed }))] }];
  switch (a.vendor) {
    case 'rustsec':
      return {
        advisory: {
          advisory: { id: a.id, package: a.pkg.name, date: a.published.slice(0, 10), url: refs[0], aliases: a.aliases },
          versions: { patched: a.fixed.map((f) => `>= ${f}`), unaffected: [`< ${a.introduced}`] },
        },
        body: `# ${a.summary}\n\n${details}\n`,
      };
    case 'ghsa':
    case 'osv':
      return {
        schema_version: '1.6.0', id: a.id, modified, published: a.published, aliases: a.aliases,
        summary: a.summary, details,
        affected: [{ package: { ecosystem: a.pkg.ecosystem, name: a.pkg.name }, ranges }],
        references: refs.map((url, i) => ({ type: i === 0 ? 'ADVISORY' : 'WEB', url })),
      };
    case 'nvd':
      return {
        cve: {
          id: a.id, sourceIdentifier: 'cve@mitre.org', published: a.published, lastModified: modified,
          vulnStatus: 'Analyzed', descriptions: [{ lang: 'en', value: `${a.summary}. ${details}` }],
          configurations: [{ nodes: [{ operator: 'OR', cpeMatch: a.fixed.map((f) => ({ vulnerable: true, criteria: `cpe:2.3:a:${a.pkg.name}:${a.pkg.name}:*:*:*:*:*:*:*:*`, versionStartIncluding: a.introduced, versionEndExcluding: f })) }] }],
          references: refs.map((url) => ({ url, source: 'cve@mitre.org' })),
        },
      };
    case 'redhat':
      return {
        document: {
          category: 'csaf_security_advisory', csaf_version: '2.0', title: a.summary,
          tracking: { id: a.id, initial_release_date: a.published, current_release_date: modified, status: 'final' },
          notes: [{ category: 'summary', text: details }],
          references: refs.map((url) => ({ category: 'external', url })),
        },
        vulnerabilities: a.aliases.filter((x) => x.startsWith('CVE-')).map((cve) => ({ cve, product_status: { fixed: a.fixed.map((f) => `${a.pkg.name}-${f}`) } })),
      };
  }
}

const MIN_MS = Date.UTC(2017, 0, 1);
const SPAN_MS = Date.UTC(2025, 11, 31) - MIN_MS;

/** Exactly `docs` raw documents; an advisory's revisions are consecutive, in fetched_at order. */
export function* generateCorpus(opts: SeedOptions): Generator<Record<string, unknown>> {
  const { docs, seed, tenants } = opts;
  if (!Number.isInteger(docs) || docs < 0) throw new RangeError(`docs must be a non-negative integer, got ${docs}`);
  if (!Number.isInteger(tenants) || tenants < 1) throw new RangeError(`tenants must be a positive integer, got ${tenants}`);
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const rng = mulberry32(seed);
  let remaining = docs;
  for (let n = 1; remaining > 0; n++) {
    const tenant = tenants === 1 ? 'default' : `tenant-${int(rng, 1, tenants)}`;
    const k = Math.min(revisionCount(rng), remaining);
    let t = MIN_MS + Math.floor(rng() * SPAN_MS);
    const adv = newAdvisory(rng, n, t);
    const seen = new Set<string>();
    for (let r = 0; r < k; r++) {
      if (r > 0) {
        // 2% same-second re-fetch (a tie broken by content_hash), else ~1 minute to ~6 months later.
        if (rng() >= 0.02) t += int(rng, 60, Math.floor(2 ** int(rng, 16, 34) / 1000)) * 1000;
        evolve(rng, adv, new Date(t).getUTCFullYear());
      }
      const fetchedAt = iso(t);
      let raw = rawFor(adv, fetchedAt);
      let bytes = JSON.stringify(raw);
      let hash = createHash('sha256').update(bytes).digest('hex');
      while (seen.has(hash)) {
        evolve(rng, adv, new Date(t).getUTCFullYear());
        raw = rawFor(adv, fetchedAt);
        bytes = JSON.stringify(raw);
        hash = createHash('sha256').update(bytes).digest('hex');
      }
      seen.add(hash);
      yield {
        tenant,
        source: { vendor: adv.vendor, connector: CONNECTOR[adv.vendor] },
        upstream: { upstream_id: adv.id, document_version: fetchedAt, fetched_at: fetchedAt, content_hash: `sha256:${hash}` },
        identifiers: { aliases: [...adv.aliases] },
        content: { format: FORMAT[adv.vendor], raw },
      };
    }
    remaining -= k;
  }
}

/** Lines of JSONL in chunks of a few hundred documents (fewer, larger stream writes). */
function* jsonlChunks(opts: SeedOptions, counter: { n: number }): Generator<string> {
  let buf: string[] = [];
  for (const doc of generateCorpus(opts)) {
    buf.push(`${JSON.stringify(doc)}\n`);
    counter.n++;
    if (buf.length >= 256) {
      yield buf.join('');
      buf = [];
    }
  }
  if (buf.length > 0) yield buf.join('');
}

/** Write the corpus as JSONL (gzip when `path` ends with .gz), streaming; resolves to the document count. */
export async function writeCorpusFile(path: string, opts: SeedOptions): Promise<number> {
  const counter = { n: 0 };
  const source = Readable.from(jsonlChunks(opts, counter));
  const sink = createWriteStream(path);
  if (path.endsWith('.gz')) await pipeline(source, createGzip(), sink);
  else await pipeline(source, sink);
  return counter.n;
}
