import { describe, expect, it } from 'vitest';
import { category, summarize } from '../../bench/profile.js';

describe('cpu profile summary (bench/profile.ts)', () => {
  it('puts each frame in its package, our folder, Node or a V8 pseudo-frame', () => {
    expect(category('file:///w/node_modules/mongodb/lib/cursor.js', 'next')).toBe('mongodb');
    expect(category('file:///w/node_modules/@bull-board/api/x.js', 'f')).toBe('@bull-board/api');
    expect(category('file:///w/dist/workers/shard-processor.js', 'processShard')).toBe('lnm:workers');
    expect(category('node:internal/streams/readable', 'read')).toBe('node:streams');
    expect(category('node:net', 'write')).toBe('node:net');
    expect(category('', '(garbage collector)')).toBe('(garbage collector)');
    expect(category('', 'writev')).toBe('(native)');
  });

  it('sums self time per category and function over several profiles, largest first', () => {
    const frame = (id: number, functionName: string, url: string) => ({ id, callFrame: { functionName, url, lineNumber: 9 } });
    const a = {
      nodes: [frame(1, '(idle)', ''), frame(2, 'serialize', 'file:///w/node_modules/bson/lib/bson.js'), frame(3, 'processShard', 'file:///w/dist/workers/s.js')],
      samples: [1, 2, 2, 3, 1],
      timeDeltas: [4000, 1000, 2000, 1000, 2000],
    };
    const b = { nodes: [frame(7, 'serialize', 'file:///w/node_modules/bson/lib/bson.js')], samples: [7], timeDeltas: [2000] };
    const s = summarize([a, b], 2);
    expect(s.totalMs).toBe(12);
    expect(s.byCategory).toEqual([
      { name: '(idle)', ms: 6, pct: 50 },
      { name: 'bson', ms: 5, pct: 41.7 },
    ]);
    expect(s.byFunction[1]).toEqual({ name: 'serialize bson.js:10 [bson]', ms: 5, pct: 41.7 });
  });
});
