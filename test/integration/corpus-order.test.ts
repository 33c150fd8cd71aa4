/**
 * The identity scan in planning order is the same sequence whether the server sorts or
 * the external sort does (LNM_PLAN_SORT), on ids where whole-line order and field order
 * differ (one id a prefix of another, '|' inside an id, non-ASCII, surrogate pairs), so
 * the corpus bundle hash has one value; `auto` picks the external sort on FerretDB.
 */
import { describe, expect, it } from 'vitest';
import { useResources } from '../helpers/resources.js';
import { COLL } from '../../core/store/collections.js';
import { corpusSha256 } from '../../core/store/corpus-hash.js';
import { identityRows, isFerretDb, resolveScan, type ScanOptions } from '../../core/store/corpus-scan.js';
import type { IdentityRow } from '../../core/supersedes.js';

const res = useResources();
const cfg = res.config('corpus_order');

const IDS = ['CVE-2021-1234', 'CVE-2021-12345', 'CVE-2021-123', 'a|b', 'a', 'é', '\uffff', '😀', 'Z'];

async function rows(scan: ScanOptions): Promise<IdentityRow[]> {
  const conns = await res.open(cfg);
  try {
    const out: IdentityRow[] = [];
    for await (const r of identityRows(conns.db, { snapshot_bound: new Date(), tenant: null }, scan)) out.push(r);
    return out;
  } finally {
    await res.close(conns);
  }
}

describe('identity scan order', () => {
  it('server and external sorts give the same rows in the same order, and one corpus hash', async () => {
    const conns = await res.open(cfg);
    try {
      const docs = [];
      let n = 0;
      for (const vendor of ['nvd', 'n', 'nvd|x']) {
        for (const id of IDS) {
          for (let rev = 0; rev < 3; rev++) {
            n++;
            docs.push({
              _id: `raw-${String(n).padStart(3, '0')}`,
              tenant: n % 2 ? 't1' : 't10',
              source: { vendor },
              upstream: { upstream_id: id, fetched_at: new Date(Date.UTC(2024, 0, 1, 0, 0, (n * 7) % 5)), content_hash: `sha256:${((n * 31) % 97).toString(16).padStart(64, '0')}` },
              ingested_at: new Date(Date.UTC(2024, 0, 2)),
            });
          }
        }
      }
      await conns.db.collection<{ _id: string }>(COLL.raw).insertMany(docs.reverse());
      const server = await rows({ sort: 'server', sortRunRows: 100, sortDir: '' });
      const external = await rows({ sort: 'external', sortRunRows: 7, sortDir: '' });
      expect(server).toHaveLength(docs.length);
      expect(external.map((r) => r.raw_id)).toEqual(server.map((r) => r.raw_id));
      const scope = { snapshot_bound: new Date(), tenant: null };
      const viaServer = await corpusSha256(conns.db, scope, { sort: 'server', sortRunRows: 100, sortDir: '' });
      const viaExternal = await corpusSha256(conns.db, scope, { sort: 'external', sortRunRows: 5, sortDir: '' });
      expect(viaExternal).toEqual(viaServer);
      expect(viaServer.docs).toBe(docs.length);
      const auto = await resolveScan(conns.db, { ...cfg.scan, sort: 'auto' });
      expect(auto.sort).toBe((await isFerretDb(conns.db)) ? 'external' : 'server');
    } finally {
      await res.close(conns);
    }
  });

  res.leakCheck();
});
