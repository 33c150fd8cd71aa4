/**
 * An insert whose connection drops mid-request (real server, a loopback proxy that cuts
 * the connection carrying it): the driver throws a MongoBulkWriteError that holds no write
 * error at all. The shard writer and insertNew once took "no write error that is not a
 * duplicate" for "everything else inserted": a shard whose edge insert was cut by a
 * FerretDB restart was marked done with edges counted that were never stored (chaos 4
 * found 95 missing edges). They must throw instead, so the shard is retried.
 */
import { describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { useResources } from '../helpers/resources.js';
import { StallProxy } from '../chaos/stall-proxy.js';
import { insertNew } from '../../core/store/insert-new.js';
import { IdempotentWriter, type TenantDoc } from '../../workers/idempotent-write.js';

const res = useResources();
const cfg = res.config('insert_cut');

/**
 * Run `fn` with a client whose connections go through a proxy that drops the one carrying
 * the first request naming `coll`; returns whether it was cut. Client and proxy are closed after.
 */
async function throughCut(coll: string, fn: (client: MongoClient) => Promise<void>): Promise<boolean> {
  const url = new URL(cfg.mongoUrl);
  const proxy = await StallProxy.start(Number(url.port || 27017));
  let cut = false;
  proxy.cutOn(coll, () => (cut = true));
  const client = new MongoClient(`mongodb://127.0.0.1:${proxy.port}/`, { directConnection: true, serverSelectionTimeoutMS: 10_000 });
  try {
    await client.connect();
    await fn(client);
  } finally {
    await client.close();
    await proxy.close();
  }
  return cut;
}

const docs = (n: number, tag: string): TenantDoc[] => Array.from({ length: n }, (_, i) => ({ _id: `${tag}-${i}`, tenant: 't', n: i }));

describe('an insert cut off mid-request', () => {
  it('the shard writer throws (the shard is retried) instead of counting unstored documents as inserted', async () => {
    const name = 'cut_writer';
    let outcome: unknown;
    const cut = await throughCut(name, async (client) => {
      const writer = new IdempotentWriter<TenantDoc>(client.db(cfg.db).collection<TenantDoc>(name), 'run-cut', () => true);
      outcome = await writer.write(docs(50, 'w'), { run_id: 'run-cut', created_at: new Date() }).then(
        (t) => ({ inserted: t.inserted }),
        (err: Error) => ({ threw: err.name }),
      );
    });
    expect(cut).toBe(true);
    const conns = await res.open(cfg);
    const stored = await conns.db.collection(name).countDocuments({});
    // Whatever it reports must be true: an "inserted" count is a count of stored documents.
    expect({ outcome, stored }).toEqual({ outcome: { threw: 'MongoBulkWriteError' }, stored: 0 });
    await res.close(conns);
  });

  it('insertNew throws instead of reporting unstored documents as inserted', async () => {
    const name = 'cut_insert_new';
    let outcome: unknown;
    const cut = await throughCut(name, async (client) => {
      outcome = await insertNew(client.db(cfg.db).collection<TenantDoc>(name), docs(20, 'n')).then(
        (r) => ({ inserted: r.inserted }),
        (err: Error) => ({ threw: err.name }),
      );
    });
    expect(cut).toBe(true);
    const conns = await res.open(cfg);
    expect({ outcome, stored: await conns.db.collection(name).countDocuments({}) }).toEqual({ outcome: { threw: 'MongoBulkWriteError' }, stored: 0 });
    await res.close(conns);
  });

  res.leakCheck();
});
