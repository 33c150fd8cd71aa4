/**
 * Heartbeats of long-running components (today: the outbox publisher), one document per
 * process, written only by that process (a replace by `_id`, so no write races). Each
 * beat carries the flag state the component acts on, so preflight can tell "the flag
 * is off" from "the publisher has seen it and stopped".
 */
import os from 'node:os';
import type { Db } from 'mongodb';
import { COLL } from './collections.js';

export type PublisherState = 'publishing' | 'stopped' | 'blackhole' | 'exited';

export interface HeartbeatDoc {
  _id: string;
  component: 'publisher';
  host: string;
  pid: number;
  state: PublisherState;
  /** `updated_at` of the flag document this state follows (null = flag absent). */
  flag_updated_at: Date | null;
  interval_ms: number;
  transport: string;
  started_at: Date;
  at: Date;
}

const coll = (db: Db) => db.collection<HeartbeatDoc>(COLL.heartbeats);

export function heartbeatId(component: HeartbeatDoc['component']): string {
  return `${component}:${os.hostname()}:${process.pid}`;
}

export async function writeHeartbeat(db: Db, beat: HeartbeatDoc): Promise<void> {
  await coll(db).replaceOne({ _id: beat._id }, beat, { upsert: true });
}

export async function listHeartbeats(db: Db, component: HeartbeatDoc['component']): Promise<HeartbeatDoc[]> {
  return coll(db).find({ component }).toArray();
}

/** A beat is live when it is younger than three intervals and its process did not exit. */
export function isLive(beat: HeartbeatDoc, now: Date): boolean {
  return beat.state !== 'exited' && now.getTime() - beat.at.getTime() <= 3 * beat.interval_ms;
}
