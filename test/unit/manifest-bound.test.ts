import { describe, expect, it } from 'vitest';
import { BSON, ObjectId } from 'mongodb';
import { LnmError } from '../../core/errors.js';
import { assertBatchSize, BSON_MAX_BYTES, MANIFEST_BYTES_PER_DOC, MAX_BATCH_SIZE } from '../../core/manifest-bound.js';
import type { AdvisoryGroup } from '../../core/supersedes.js';

function refusal(n: number): LnmError {
  try {
    assertBatchSize(n);
  } catch (err) {
    return err as LnmError;
  }
  throw new Error(`${n} was accepted`);
}

describe('the batch size bound (shard manifest within 16 MiB)', () => {
  it('accepts up to the bound and refuses above it with ERR_BATCH_TOO_LARGE naming the bound', () => {
    expect(() => assertBatchSize(MAX_BATCH_SIZE)).not.toThrow();
    const err = refusal(MAX_BATCH_SIZE + 1);
    expect(err.code).toBe('ERR_BATCH_TOO_LARGE');
    expect(err.message).toContain(`bound of ${MAX_BATCH_SIZE}`);
    expect(err.details).toEqual({ batch_size: MAX_BATCH_SIZE + 1, max_batch_size: MAX_BATCH_SIZE });
    expect(refusal(0).code).toBe('ERR_BATCH_TOO_LARGE');
  });

  it('a worst-case manifest at the bound fits: single-revision advisories with 800 bytes of ids per document', () => {
    const groups: AdvisoryGroup[] = [];
    for (let i = 0; i < MAX_BATCH_SIZE; i++) {
      const n = String(i).padStart(6, '0');
      groups.push({
        tenant: `t${n}`.padEnd(100, 't'),
        vendor: `v${n}`.padEnd(100, 'v'),
        upstream_id: `u${n}`.padEnd(400, 'u'),
        revisions: [{ raw_id: `r${n}`.padEnd(200, 'r'), fetched_at: new Date(), content_hash: `sha256:${'f'.repeat(64)}` }],
      });
    }
    const manifest = { _id: `run-${'x'.repeat(60)}-s99999`, run_id: `run-${'x'.repeat(60)}`, advisories: groups, created_at: new Date() };
    const size = BSON.calculateObjectSize(manifest);
    expect(size).toBeLessThanOrEqual(BSON_MAX_BYTES);
    expect(size / MAX_BATCH_SIZE).toBeLessThanOrEqual(MANIFEST_BYTES_PER_DOC);
    const oid = { ...groups[0]!, revisions: [{ ...groups[0]!.revisions[0]!, raw_id: new ObjectId() }] };
    expect(BSON.calculateObjectSize({ a: [oid] })).toBeLessThan(BSON.calculateObjectSize({ a: [groups[0]] }));
  });
});
