/**
 * Leader lock in Redis so that only one monitor acts on a run: `SET key token NX PX ttl`
 * to acquire; renew and release run as Lua scripts that act only while the key still
 * holds this instance's token, so a monitor whose lock expired cannot extend or delete
 * the lock a successor now holds.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0`;

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0`;

export class LeaderLock {
  /** Unique per instance: host, pid and a random id (readable in `redis-cli get`). */
  readonly token: string;

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly ttlMs: number,
  ) {
    if (!Number.isInteger(ttlMs) || ttlMs <= 0) throw new RangeError(`LeaderLock ttlMs must be a positive integer, got ${ttlMs}`);
    this.token = `${hostname()}:${process.pid}:${randomUUID()}`;
  }

  /** True when this instance now holds the lock (false when another holder has it). */
  async tryAcquire(): Promise<boolean> {
    const res = await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX');
    return res === 'OK';
  }

  /** Extends the expiry to ttlMs from now; false when the lock is no longer ours. */
  async renew(): Promise<boolean> {
    const res = await this.redis.eval(RENEW, 1, this.key, this.token, String(this.ttlMs));
    return res === 1;
  }

  /**
   * Deletes the lock if it is still ours. Safe to call twice, and a no-op once the
   * Redis client has been quit (the lock then simply expires).
   */
  async release(): Promise<void> {
    if (this.closed()) return;
    try {
      await this.redis.eval(RELEASE, 1, this.key, this.token);
    } catch (err) {
      // Quit raced the release: the client is gone and the key expires on its own.
      if (this.closed() || (err instanceof Error && err.message === 'Connection is closed.')) return;
      throw err;
    }
  }

  private closed(): boolean {
    return this.redis.status === 'end' || this.redis.status === 'close';
  }
}
