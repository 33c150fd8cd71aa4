/**
 * Small corpora cut from the rustsec fixture for tests that must stay under a minute, and
 * the supersedes chain of one advisory computed straight from the file's lines (by the
 * DESIGN §3 rule, written here again on purpose: not the code under test).
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { RUSTSEC } from './env.js';

export interface CorpusLine {
  tenant: string;
  source: { vendor: string };
  upstream: { upstream_id: string; fetched_at: string; content_hash: string };
  identifiers?: { aliases?: string[] };
  [k: string]: unknown;
}

export function rustsecLines(): CorpusLine[] {
  return gunzipSync(readFileSync(RUSTSEC))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as CorpusLine);
}

/** Revisions per upstream id (as imported: the first line of a repeated hash is kept). */
export function revisionsById(lines: readonly CorpusLine[]): Map<string, CorpusLine[]> {
  const by = new Map<string, CorpusLine[]>();
  for (const l of lines) {
    const list = by.get(l.upstream.upstream_id) ?? [];
    if (!list.some((x) => x.upstream.content_hash === l.upstream.content_hash)) list.push(l);
    by.set(l.upstream.upstream_id, list);
  }
  return by;
}

export function writeCorpus(file: string, lines: readonly CorpusLine[]): string {
  writeFileSync(file, gzipSync(lines.map((l) => JSON.stringify(l)).join('\n') + '\n'));
  return file;
}

/** The raw `_id` import gives a line: sha256 over its idempotency key (tenant|vendor|upstream_id|hash). */
export function expectedRawId(l: Pick<CorpusLine, 'tenant' | 'source' | 'upstream'>): string {
  return createHash('sha256').update(`${l.tenant}|${l.source.vendor}|${l.upstream.upstream_id}|${l.upstream.content_hash}`).digest('hex');
}

export interface ExpectedLink {
  newer: { raw_id: string; content_hash: string };
  older: { raw_id: string; content_hash: string };
}

/** Newest pair first: revisions ordered by (fetched_at, content_hash), each superseding the one before. */
export function expectedChain(revisions: readonly CorpusLine[]): ExpectedLink[] {
  const sorted = [...revisions].sort((a, b) => {
    const t = Date.parse(a.upstream.fetched_at) - Date.parse(b.upstream.fetched_at);
    return t !== 0 ? t : a.upstream.content_hash < b.upstream.content_hash ? -1 : 1;
  });
  const end = (l: CorpusLine) => ({ raw_id: expectedRawId(l), content_hash: l.upstream.content_hash });
  const links: ExpectedLink[] = [];
  for (let i = sorted.length - 1; i >= 1; i--) links.push({ newer: end(sorted[i]!), older: end(sorted[i - 1]!) });
  return links;
}
