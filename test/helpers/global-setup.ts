/** Make Redis, the MongoDB-wire server and NATS available once for the whole test run. */
import { loadConfig } from '../../core/config.js';
import { servicesUp } from '../../core/services/services.js';

export default async function setup(): Promise<void> {
  const s = await servicesUp(loadConfig());
  process.stderr.write(`test services: mongo ${s.mongo_url} (${s.mongo.source}), redis ${s.redis_url} (${s.redis.source}), nats ${s.nats_url} (${s.nats.source})\n`);
}
