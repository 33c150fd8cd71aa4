/**
 * External merge sort in bounded memory: records are collected into runs of at most
 * `runRecords`, each run is sorted in memory and, once a second run starts, spilled to a
 * temp file (length-prefixed BSON, so dates, ObjectIds and strings come back as they went
 * in); the sorted output is a k-way merge of the runs, streamed. Input of one run never
 * touches the disk. Memory: one run + one read buffer per merged file; more than
 * MAX_FAN_IN files are first merged into bigger files. Equal records keep their input
 * order (stable). The temp folder is removed by `dispose()`, also when the output is left
 * unfinished (`sorted()` disposes when it ends or is abandoned); the folder of a process
 * killed mid-sort is removed by a later process (./sort-dir.ts).
 */
import { open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BSON } from 'mongodb';
import { makeSortDir } from './sort-dir.js';

export interface ExternalSortOptions<T> {
  compare: (a: T, b: T) => number;
  /** Records held in memory at once (one run). */
  runRecords: number;
  /** Parent of the temp folder (default: the OS temp folder). */
  tmpDir?: string;
}

export interface ExternalSortStats {
  records: number;
  /** Runs written to disk (0 when the input fit in one run). */
  spilled_runs: number;
}

const MAX_FAN_IN = 64;
const READ_CHUNK = 64 * 1024;
const WRITE_CHUNK = 1024 * 1024;

/** Reads back the records of one run file, in order. */
class RunReader<T> {
  private buf = Buffer.alloc(READ_CHUNK);
  private start = 0;
  private end = 0;
  private eof = false;

  private constructor(private readonly fh: FileHandle) {}

  static async open<T>(file: string): Promise<RunReader<T>> {
    return new RunReader<T>(await open(file, 'r'));
  }

  async next(): Promise<T | undefined> {
    if (!(await this.fill(4))) return undefined;
    const size = this.buf.readInt32LE(this.start);
    if (!(await this.fill(size))) throw new Error('external sort: truncated run file');
    const doc = BSON.deserialize(this.buf.subarray(this.start, this.start + size));
    this.start += size;
    return doc.v as T;
  }

  /** Makes `n` bytes available from `start`; false at a clean end of file. */
  private async fill(n: number): Promise<boolean> {
    while (this.end - this.start < n) {
      if (this.eof) {
        if (this.end === this.start) return false;
        throw new Error('external sort: truncated run file');
      }
      if (this.start > 0) {
        this.buf.copy(this.buf, 0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      }
      if (this.buf.length - this.end < Math.max(n, READ_CHUNK / 2)) {
        const bigger = Buffer.alloc(Math.max(this.buf.length * 2, n + READ_CHUNK));
        this.buf.copy(bigger, 0, 0, this.end);
        this.buf = bigger;
      }
      const { bytesRead } = await this.fh.read(this.buf, this.end, this.buf.length - this.end, null);
      if (bytesRead === 0) this.eof = true;
      this.end += bytesRead;
    }
    return true;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** Min-heap of the merge heads; ties go to the earlier run (stability). */
class Heads<T> {
  private readonly items: Array<{ value: T; src: number }> = [];

  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  private less(i: number, j: number): boolean {
    const a = this.items[i]!;
    const b = this.items[j]!;
    const c = this.compare(a.value, b.value);
    return c < 0 || (c === 0 && a.src < b.src);
  }

  private swap(i: number, j: number): void {
    const t = this.items[i]!;
    this.items[i] = this.items[j]!;
    this.items[j] = t;
  }

  push(value: T, src: number): void {
    this.items.push({ value, src });
    for (let i = this.items.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): { value: T; src: number } {
    const top = this.items[0]!;
    const last = this.items.pop()!;
    if (this.items.length > 0) {
      this.items[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.items.length && this.less(l, m)) m = l;
        if (r < this.items.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

export class ExternalSorter<T> {
  readonly stats: ExternalSortStats = { records: 0, spilled_runs: 0 };
  private run: T[] = [];
  private files: string[] = [];
  private dir: string | undefined;
  private readers: Array<RunReader<T>> = [];
  private fileSeq = 0;

  constructor(private readonly opts: ExternalSortOptions<T>) {
    if (!Number.isInteger(opts.runRecords) || opts.runRecords < 1) throw new RangeError(`runRecords must be a positive integer, got ${opts.runRecords}`);
  }

  async add(record: T): Promise<void> {
    this.run.push(record);
    this.stats.records++;
    if (this.run.length >= this.opts.runRecords) await this.spill();
  }

  /** The records in order; the sorter is disposed when the iteration ends or is abandoned. */
  async *sorted(): AsyncGenerator<T> {
    try {
      this.run.sort(this.opts.compare);
      if (this.files.length === 0) {
        const run = this.run;
        this.run = [];
        yield* run;
        return;
      }
      if (this.run.length > 0) await this.spill();
      while (this.files.length > MAX_FAN_IN) {
        // One pass merges consecutive groups, so the runs stay in input order (stability).
        const merged: string[] = [];
        for (let i = 0; i < this.files.length; i += MAX_FAN_IN) {
          const group = this.files.slice(i, i + MAX_FAN_IN);
          merged.push(group.length === 1 ? group[0]! : await this.writeFile(this.merge(group)));
          if (group.length > 1) await Promise.all(group.map((f) => rm(f, { force: true })));
        }
        this.files = merged;
      }
      yield* this.merge(this.files);
    } finally {
      await this.dispose();
    }
  }

  /** Closes open run files and removes the temp folder (idempotent). */
  async dispose(): Promise<void> {
    const readers = this.readers;
    this.readers = [];
    await Promise.all(readers.map((r) => r.close().catch(() => undefined)));
    this.run = [];
    this.files = [];
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private async spill(): Promise<void> {
    this.run.sort(this.opts.compare);
    const run = this.run;
    this.run = [];
    this.files.push(await this.writeFile(run));
    this.stats.spilled_runs++;
  }

  private async writeFile(records: Iterable<T> | AsyncIterable<T>): Promise<string> {
    if (!this.dir) {
      this.dir = await makeSortDir(this.opts.tmpDir ?? tmpdir());
    }
    const file = path.join(this.dir, `run-${this.fileSeq++}.bson`);
    const fh = await open(file, 'w');
    try {
      let chunk: Uint8Array[] = [];
      let bytes = 0;
      for await (const v of records) {
        const b = BSON.serialize({ v });
        chunk.push(b);
        bytes += b.length;
        if (bytes >= WRITE_CHUNK) {
          await fh.write(Buffer.concat(chunk, bytes));
          chunk = [];
          bytes = 0;
        }
      }
      if (bytes > 0) await fh.write(Buffer.concat(chunk, bytes));
    } finally {
      await fh.close();
    }
    return file;
  }

  private async *merge(files: string[]): AsyncGenerator<T> {
    const readers = await Promise.all(files.map((f) => RunReader.open<T>(f)));
    this.readers.push(...readers);
    const heads = new Heads<T>(this.opts.compare);
    for (let i = 0; i < readers.length; i++) {
      const v = await readers[i]!.next();
      if (v !== undefined) heads.push(v, i);
    }
    while (heads.size > 0) {
      const { value, src } = heads.pop();
      const v = await readers[src]!.next();
      if (v !== undefined) heads.push(v, src);
      yield value;
    }
    for (const r of readers) {
      await r.close();
      this.readers.splice(this.readers.indexOf(r), 1);
    }
  }
}

/** Sorts an (async) iterable in bounded memory; see ExternalSorter. */
export async function* externalSort<T>(input: Iterable<T> | AsyncIterable<T>, opts: ExternalSortOptions<T>, stats?: (s: ExternalSortStats) => void): AsyncGenerator<T> {
  const sorter = new ExternalSorter<T>(opts);
  try {
    for await (const x of input) await sorter.add(x);
    yield* sorter.sorted();
  } finally {
    await sorter.dispose();
    stats?.(sorter.stats);
  }
}

const ABOVE_D800 = /[\ud800-\uffff]/;

/**
 * Strings in code point order (= their UTF-8 bytes, as MongoDB and FerretDB compare
 * strings), not JavaScript's UTF-16 unit order: they differ when one character is above
 * U+FFFF (a surrogate pair) and the other in U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const native = a < b ? -1 : 1;
  // The orders differ only where both strings hold a unit at or above U+D800.
  if (!ABOVE_D800.test(a) || !ABOVE_D800.test(b)) return native;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** JavaScript's default sort order for strings (UTF-16 units), as `edgeDigest` sorts. */
export function compareUtf16(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
