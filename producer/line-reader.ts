/**
 * The input side of `import`: a file's bytes (gunzipped for `.gz`) split into lines of raw
 * bytes, so that each line is decoded on its own with a fatal UTF-8 decoder and a bad line
 * never spoils the next. A line longer than the limit is skipped without being held in
 * memory. Opening, reading and gunzip failures become an InputError (ERR_INPUT, path = the
 * file), never an unhandled 'error' event.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InputError } from '../core/errors.js';

/** One line, numbered from 1: its bytes without the newline, or only its length when over the limit. */
export type InputLine = { n: number; bytes: Buffer } | { n: number; tooLong: number };

/**
 * Opens the file now (a missing file fails here) and returns its chunks; the file is
 * closed when they are read to the end or abandoned, so the caller reads at once. Nothing
 * is read, and no gunzip runs, before that: an error is thrown by the read, never emitted
 * with nobody listening.
 */
export async function openInput(file: string): Promise<AsyncIterable<Buffer>> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw new InputError(file, `cannot open: ${(err as Error).message}`, { cause: err });
  }
  return chunks(file, handle);
}

async function* chunks(file: string, handle: FileHandle): AsyncGenerator<Buffer> {
  const raw = handle.createReadStream();
  let stream: Readable = raw;
  if (file.endsWith('.gz')) {
    const gunzip = createGunzip();
    raw.on('error', (err) => gunzip.destroy(err));
    stream = raw.pipe(gunzip);
  }
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (err) {
    throw new InputError(file, (err as Error).message, { cause: err });
  } finally {
    stream.destroy();
    raw.destroy();
  }
}

/** Splits byte chunks at '\n'. Memory: at most one line of `maxLineBytes` is held. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  /** Bytes of an over-long line seen so far (0 = the current line is within the limit). */
  private skipped = 0;
  private n = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** The lines this chunk completes. */
  *push(chunk: Buffer): Generator<InputLine> {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      this.take(chunk.subarray(start, nl < 0 ? chunk.length : nl));
      if (nl < 0) return;
      yield this.cut();
      start = nl + 1;
    }
  }

  /** The last line, when the input does not end with a newline. */
  *end(): Generator<InputLine> {
    if (this.size > 0 || this.skipped > 0) yield this.cut();
  }

  /** Number of the line being read and its bytes so far: what a cut-off input loses. */
  partial(): { line: number; bytes: number } | undefined {
    const bytes = this.size + this.skipped;
    return bytes > 0 ? { line: this.n + 1, bytes } : undefined;
  }

  private take(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.skipped === 0 && this.size + piece.length <= this.maxLineBytes) {
      this.parts.push(piece);
      this.size += piece.length;
      return;
    }
    this.skipped += this.size + piece.length;
    this.parts = [];
    this.size = 0;
  }

  private cut(): InputLine {
    this.n++;
    const line: InputLine = this.skipped > 0 ? { n: this.n, tooLong: this.skipped } : { n: this.n, bytes: Buffer.concat(this.parts, this.size) };
    this.parts = [];
    this.size = 0;
    this.skipped = 0;
    return line;
  }
}
