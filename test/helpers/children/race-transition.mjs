// A racer for test/integration/transition-race.test.ts: on every "go <round>" published on
// the channel, attempt running -> pausing on the run and report won/lost for that round.
import { Redis } from 'ioredis';
import { loadConfig } from '../../../dist/core/config.js';
import { Connections } from '../../../dist/core/connections.js';
import { transitionRun } from '../../../dist/core/store/runs.js';
import { RunStateError } from '../../../dist/core/errors.js';

const [runId, channel] = process.argv.slice(2);
const cfg = loadConfig();
const conns = await Connections.open(cfg);
const results = conns.sharedRedis();
const sub = new Redis(cfg.redisUrl);
await sub.subscribe(channel);
sub.on('message', (_c, msg) => {
  if (msg === 'stop') {
    void sub.quit().then(() => conns.close()).then(() => process.exit(0));
    return;
  }
  const round = msg.split(' ')[1];
  transitionRun(conns.db, runId, 'pausing', { from: ['running'], reason: `race round ${round} by ${process.pid}` }).then(
    () => results.rpush(`${channel}:${round}`, 'won'),
    (err) => results.rpush(`${channel}:${round}`, err instanceof RunStateError ? 'lost' : `error ${err.message}`),
  );
});
await results.rpush(`${channel}:ready`, String(process.pid));
