/**
 * The largest batch size whose shard manifest always fits one BSON document (16 MiB).
 * A manifest (`backfill_manifests`) holds one shard's advisories with their revisions'
 * identity fields; its size grows with the documents of the shard, worst when every
 * advisory has a single revision. Per document, BSON costs at most:
 *
 *   array element and advisory object      9 + 5   (index key up to 6 digits)
 *   tenant, source vendor, upstream id     13 + T, 13 + V, 18 + U
 *   revisions array with one element       16 + 3 + 5
 *   raw_id (ObjectId; a string id: 13 + R) 20
 *   fetched_at (date)                      20
 *   content_hash (sha256:<64 hex>)         90
 *
 * = 212 + T + V + U bytes (205 + T + V + U + R with string ids). MANIFEST_BYTES_PER_DOC
 * allows T + V + U + R up to 800 bytes together (measured: ~300 bytes per document on the
 * seeded corpus, ids of 10-30 characters); 16 KiB are kept for the manifest's own fields.
 */
import { LnmError } from './errors.js';

export const BSON_MAX_BYTES = 16 * 1024 * 1024;
export const MANIFEST_BYTES_PER_DOC = 1024;
export const MANIFEST_OVERHEAD_BYTES = 16 * 1024;
export const MAX_BATCH_SIZE = Math.floor((BSON_MAX_BYTES - MANIFEST_OVERHEAD_BYTES) / MANIFEST_BYTES_PER_DOC);

/** Throws ERR_BATCH_TOO_LARGE (with the bound) for a batch whose manifest could exceed 16 MiB. */
export function assertBatchSize(batchSize: number, path = '--batch-size'): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new LnmError('ERR_BATCH_TOO_LARGE', `${path}: must be a positive integer, got ${batchSize}`, { path, unrecoverable: true });
  }
  if (batchSize > MAX_BATCH_SIZE) {
    throw new LnmError(
      'ERR_BATCH_TOO_LARGE',
      `${path}: ${batchSize} documents per shard exceeds the bound of ${MAX_BATCH_SIZE}: a shard manifest must fit the 16 MiB BSON limit at up to ${MANIFEST_BYTES_PER_DOC} bytes per document`,
      { path, unrecoverable: true, details: { batch_size: batchSize, max_batch_size: MAX_BATCH_SIZE } },
    );
  }
}
