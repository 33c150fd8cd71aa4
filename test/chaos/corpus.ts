/** The corpus every chaos scenario runs over (the same seed in each scenario's database). */
export const CORPUS_DOCS = 20_000;
export const CORPUS_SEED = 12;
/** Documents per shard: about 100 shards, so faults land mid-run with many shards to go. */
export const BATCH = 200;
