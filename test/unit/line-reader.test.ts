import { describe, expect, it } from 'vitest';
import { LineSplitter, type InputLine } from '../../producer/line-reader.js';

function split(chunks: string[] | Buffer[], max = 1024): InputLine[] {
  const s = new LineSplitter(max);
  const out: InputLine[] = [];
  for (const c of chunks) out.push(...s.push(Buffer.isBuffer(c) ? c : Buffer.from(c)));
  out.push(...s.end());
  return out;
}

const text = (l: InputLine): string => ('bytes' in l ? l.bytes.toString('latin1') : `<${l.tooLong} bytes>`);

describe('LineSplitter', () => {
  it('splits at newlines across chunk boundaries and numbers lines from 1, blank ones included', () => {
    const lines = split(['a', 'b\nc', 'd\n\ne\n']);
    expect(lines.map((l) => [l.n, text(l)])).toEqual([[1, 'ab'], [2, 'cd'], [3, ''], [4, 'e']]);
  });

  it('yields a last line without a trailing newline', () => {
    expect(split(['x\ny']).map(text)).toEqual(['x', 'y']);
  });

  it('keeps raw bytes: a multi-byte character or an invalid byte split across chunks is intact', () => {
    const euro = Buffer.from('€\n');
    const lines = split([euro.subarray(0, 1), euro.subarray(1), Buffer.from([0xff, 0x0a])]);
    expect('bytes' in lines[0]! && lines[0].bytes.toString('utf8')).toBe('€');
    expect('bytes' in lines[1]! && [...lines[1].bytes]).toEqual([0xff]);
  });

  it('skips a line over the limit without holding it, and reads on', () => {
    const lines = split(['ok\n', 'x'.repeat(6), 'y'.repeat(6), 'z\nafter\n'], 10);
    expect(lines.map((l) => [l.n, text(l)])).toEqual([[1, 'ok'], [2, '<13 bytes>'], [3, 'after']]);
    const exact = split(['0123456789\n'], 10);
    expect(exact.map(text)).toEqual(['0123456789']);
  });

  it('reports the partial line a cut-off input loses', () => {
    const s = new LineSplitter(100);
    [...s.push(Buffer.from('one\ntwo\nthr'))];
    expect(s.partial()).toEqual({ line: 3, bytes: 3 });
    [...s.push(Buffer.from('ee\n'))];
    expect(s.partial()).toBeUndefined();
  });
});
