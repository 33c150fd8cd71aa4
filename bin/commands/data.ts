/** services, import, seed: getting services and a corpus in place. */
import { importCorpus, seedCorpus, servicesDown, servicesStatus, servicesUp } from '../../api/index.js';
import type { Command } from '../cli/command.js';

export const services: Command = {
  name: 'services',
  migrated: false,
  summary: 'make Redis, a MongoDB-wire server and NATS JetStream available (reuse, else start on 127.0.0.1); down stops only what up started',
  positionals: [{ name: 'action', description: 'up, down or status', choices: ['up', 'down', 'status'] }],
  options: {},
  async run(ctx) {
    const o = { config: ctx.cfg, log: ctx.log };
    const action = ctx.args[0];
    if (action === 'down') return { exitCode: 0, result: await servicesDown(o) };
    const s = action === 'up' ? await servicesUp(o) : await servicesStatus(o);
    const text = [
      `mongo ${s.mongo_url} (${s.mongo.source}${s.mongo.up ? '' : ', DOWN'})`,
      `redis ${s.redis_url} (${s.redis.source}${s.redis.up ? '' : ', DOWN'})`,
      `nats ${s.nats_url} (${s.nats.source}${s.nats.up ? '' : ', DOWN'})`,
    ].join('\n');
    return { exitCode: 0, result: action === 'up' ? { mongo_url: s.mongo_url, redis_url: s.redis_url, nats_url: s.nats_url } : s, text };
  },
};

export const importCmd: Command = {
  name: 'import',
  summary: 'stream a JSONL(.gz) corpus through the AOC guard into advisory_raw (+ one observation each)',
  positionals: [{ name: 'file', description: 'JSONL file, gzip-compressed when it ends with .gz' }],
  options: { rejects: { type: 'string', value: 'F', description: 'write rejected lines (code, path, line) to F' } },
  async run(ctx) {
    const rejects = ctx.options.rejects as string | undefined;
    const r = await importCorpus(ctx.args[0]!, { config: ctx.cfg, log: ctx.log, ...(rejects ? { rejectsFile: rejects } : {}) });
    const rejected = Object.entries(r.rejected).map(([c, n]) => `${c} ${n}`).join(', ') || 'none';
    const ooo = r.out_of_order_sample[0];
    const late = ooo
      ? `\n${r.out_of_order_duplicates} out-of-order duplicate(s): line(s) older than the stored copy of the same content, ` +
        `so the stored history keeps the first arrival, not the upstream time order (first: line ${ooo.line}, ` +
        `${ooo.tenant}/${ooo.vendor}/${ooo.upstream_id} fetched ${ooo.fetched_at}, stored ${ooo.stored_fetched_at}; --json lists up to ${r.out_of_order_sample.length})`
      : '';
    return {
      exitCode: 0,
      result: {
        accepted: r.accepted,
        duplicates: r.duplicates,
        out_of_order_duplicates: r.out_of_order_duplicates,
        out_of_order_sample: r.out_of_order_sample,
        rejected: r.rejected,
      },
      text: `accepted ${r.accepted}, idempotency hits ${r.duplicates}, rejected: ${rejected}${r.rejects_file ? ` (see ${r.rejects_file})` : ''}${late}`,
    };
  },
};

export const seed: Command = {
  name: 'seed',
  migrated: (options) => options.out === undefined,
  summary: 'a deterministic synthetic corpus, imported into the database or written to a file',
  positionals: [],
  options: {
    docs: { type: 'integer', value: 'N', min: 0, description: 'documents to generate (default 10000)' },
    seed: { type: 'integer', value: 'S', min: 0, description: 'generator seed (default 1)' },
    tenants: { type: 'integer', value: 'T', description: 'tenants (default 1)' },
    out: { type: 'string', value: 'F.jsonl[.gz]', description: 'write the corpus to this file instead of importing it' },
  },
  async run(ctx) {
    const o = ctx.options;
    const out = o.out as string | undefined;
    const r = await seedCorpus({
      config: ctx.cfg,
      log: ctx.log,
      docs: (o.docs as number | undefined) ?? 10_000,
      seed: (o.seed as number | undefined) ?? 1,
      tenants: (o.tenants as number | undefined) ?? 1,
      ...(out ? { out } : {}),
    });
    const text = r.import ? `seeded ${r.docs} documents: accepted ${r.import.accepted}, duplicates ${r.import.duplicates}` : `wrote ${r.docs} documents to ${r.file}`;
    return { exitCode: 0, result: r, text };
  },
};
