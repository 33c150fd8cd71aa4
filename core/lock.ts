/**
 * An expiring lock in Redis: the monitor's leader lock (one monitor acts per deployment)
 * and a run's rollback lock (one rollback of a run at a time). `SET key token NX PX ttl`
 * to acquire; renew and release run as Lua scripts that act only while the key still
 * holds this instance's token, so a holder whose lock expired cannot extend or delete
 * the lock a successor now holds. `keep()` renews it on its own timer.
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

  /**
   * Until when this instance surely holds the lock: the expiry counted from just before
   * its last successful acquire or renew (so a slow reply errs on the safe side).
   */
  heldUntil = 0;

  /** True when this instance now holds the lock (false when another holder has it). */
  async tryAcquire(): Promise<boolean> {
    const at = Date.now();
    const res = await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX');
    if (res === 'OK') this.heldUntil = at + this.ttlMs;
    return res === 'OK';
  }

  /** Extends the expiry to ttlMs from now; false when the lock is no longer ours. */
  async renew(): Promise<boolean> {
    const at = Date.now();
    const res = await this.redis.eval(RENEW, 1, this.key, this.token, String(this.ttlMs));
    if (res === 1) this.heldUntil = at + this.ttlMs;
    else this.heldUntil = 0;
    return res === 1;
  }

  /** Whether the lock is surely still ours right now (no Redis call). */
  held(): boolean {
    return Date.now() < this.heldUntil;
  }

  /**
   * Deletes the lock if it is still ours. Safe to call twice, and a no-op once the
   * Redis client has been quit (the lock then simply expires).
   */
  async release(): Promise<void> {
    this.heldUntil = 0;
    if (this.closed()) return;
    try {
      await this.redis.eval(RELEASE, 1, this.key, this.token);
    } catch (err) {
      // Quit raced the release: the client is gone and the key expires on its own.
      if (this.closed() || (err instanceof Error && err.message === 'Connection is closed.')) return;
      throw err;
    }
  }

  /**
   * Renew every ttl/3 on a timer of its own until `stop()`; `onLost` is called once if a
   * renewal fails (the lock expired or was taken), so the holder can abort its work.
   */
  keep(onLost: () => void): { stop(): void } {
    let lost = false;
    const timer = setInterval(() => {
      void this.renew().then(
        (ok) => {
          if (!ok && !lost) {
            lost = true;
            clearInterval(timer);
            onLost();
          }
        },
        () => undefined, // a transient Redis error: the next renewal decides
      );
    }, Math.max(10, Math.floor(this.ttlMs / 3)));
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }

  private closed(): boolean {
    return this.redis.status === 'end' || this.redis.status === 'close';
  }
}
