/**
 * A script that enqueues a backfill for one tenant and prints its progress until it
 * settles, over lnm-backfill's public API. Configuration comes from the environment
 * (MONGO_URL, REDIS_URL, LNM_DB, LNM_QUEUE_PREFIX) like the CLI; workers run elsewhere
 * (`lnm-backfill worker`), this process also runs the monitor while it waits.
 *
 *   node dist/examples/enqueue-backfill.js <tenant>
 */
import { startBackfill, waitForRun } from 'lnm-backfill';

const tenant = process.argv[2];
if (!tenant) {
  process.stderr.write('usage: enqueue-backfill <tenant>\n');
  process.exit(2);
}

const run = await startBackfill({ tenant, stopOnError: true, commandLine: ['enqueue-backfill', tenant] });
process.stdout.write(`enqueued ${run.run_id} for tenant ${tenant}: ${run.shards} shard(s), ${run.docs_planned} document(s)\n`);

let last = '';
const final = await waitForRun(run.run_id, {
  onProgress: ({ status }) => {
    const line = `${status.state} ${status.shards_done}/${status.shards} shards, ${status.edges_inserted} edges`;
    if (line !== last) process.stdout.write(`${line}\n`);
    last = line;
  },
});
process.stdout.write(`${JSON.stringify(final)}\n`);
process.exitCode = final.state === 'succeeded' ? 0 : 1;
