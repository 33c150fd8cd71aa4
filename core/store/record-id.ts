/** Who wrote a record, and the ids of insert-only records stamped with their time. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** host:pid of this process, as records name their writer. */
export const PROCESS_ID = `${hostname()}:${process.pid}`;

/** `<prefix>-<UTC time, digits only>-<6 hex>`: sortable by time, unique across processes. */
export function stampedId(prefix: string, at: Date): string {
  return `${prefix}-${at.toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
}
