/**
 * `SHA256SUMS` of an evidence folder (the `sha256sum` format: `<64 hex>  <path>\n`, one line
 * per file, paths relative with '/', sorted bytewise, the sums file itself excluded) and its
 * offline re-check: every listed file has its sum, every file of the folder is listed, and
 * the report hashes named in evidence.json are those of the report files.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export const SUMS_FILE = 'SHA256SUMS';
export const EVIDENCE_FILE = 'evidence.json';
export const REPORT_FILE = 'report.json';

export interface SumEntry {
  file: string;
  sha256: string;
}

export interface VerifyProblem {
  file: string;
  problem: string;
}

export interface VerifyResult {
  ok: boolean;
  folder: string;
  files_checked: number;
  problems: VerifyProblem[];
}

const LINE = /^([0-9a-f]{64}) {2}(\S(?:.*\S)?)$/;

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Every regular file under `dir`, as sorted relative '/' paths. */
export async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else out.push(rel);
  }
  return out.sort(byBytes);
}

export function sumsText(entries: readonly SumEntry[]): string {
  return [...entries].sort((a, b) => byBytes(a.file, b.file)).map((e) => `${e.sha256}  ${e.file}\n`).join('');
}

/** The sums of every file of the folder but the sums file. */
export async function folderSums(dir: string): Promise<SumEntry[]> {
  const files = (await listFiles(dir)).filter((f) => f !== SUMS_FILE);
  return Promise.all(files.map(async (file) => ({ file, sha256: await sha256File(path.join(dir, file)) })));
}

/** Parse a sums file strictly: a changed byte anywhere in it is either a parse problem or a mismatch. */
export function parseSums(text: string): { entries: SumEntry[]; problems: VerifyProblem[] } {
  const problems: VerifyProblem[] = [];
  const entries: SumEntry[] = [];
  if (!text.endsWith('\n')) problems.push({ file: SUMS_FILE, problem: 'does not end with a newline' });
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    const m = LINE.exec(line);
    if (!m) problems.push({ file: SUMS_FILE, problem: `line ${i + 1} is not "<sha256>  <file>"` });
    else entries.push({ sha256: m[1]!, file: m[2]! });
  });
  const names = entries.map((e) => e.file);
  if (names.join('\n') !== [...names].sort(byBytes).join('\n') || new Set(names).size !== names.length) {
    problems.push({ file: SUMS_FILE, problem: 'lines are not sorted by file name or list a file twice' });
  }
  return { entries, problems };
}

async function readJson(dir: string, file: string, problems: VerifyProblem[]): Promise<Record<string, unknown> | null> {
  try {
    const v = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  problems.push({ file, problem: 'is not a JSON object' });
  return null;
}

/** The report files evidence.json names with their hashes: report.json and each dry run's. */
function namedReports(evidence: Record<string, unknown>): SumEntry[] {
  const out: SumEntry[] = [{ file: REPORT_FILE, sha256: String(evidence.report_sha256) }];
  const dry = Array.isArray(evidence.dry_runs) ? (evidence.dry_runs as Array<Record<string, unknown>>) : [];
  for (const d of dry) out.push({ file: String(d.report_file), sha256: String(d.report_sha256) });
  return out;
}

export async function verifyFolder(dir: string): Promise<VerifyResult> {
  const problems: VerifyProblem[] = [];
  let text: string;
  try {
    text = await readFile(path.join(dir, SUMS_FILE), 'utf8');
  } catch (err) {
    return { ok: false, folder: dir, files_checked: 0, problems: [{ file: SUMS_FILE, problem: `cannot be read (${(err as Error).message})` }] };
  }
  const parsed = parseSums(text);
  problems.push(...parsed.problems);
  const actual = new Map((await folderSums(dir)).map((e) => [e.file, e.sha256]));
  const listed = new Set<string>();
  for (const e of parsed.entries) {
    listed.add(e.file);
    const sum = actual.get(e.file);
    if (sum === undefined) problems.push({ file: e.file, problem: 'listed in SHA256SUMS but missing' });
    else if (sum !== e.sha256) problems.push({ file: e.file, problem: `sha256 ${sum} differs from SHA256SUMS ${e.sha256}` });
  }
  for (const file of actual.keys()) if (!listed.has(file)) problems.push({ file, problem: 'not listed in SHA256SUMS' });
  const evidence = actual.has(EVIDENCE_FILE) ? await readJson(dir, EVIDENCE_FILE, problems) : null;
  if (!evidence) {
    if (!actual.has(EVIDENCE_FILE)) problems.push({ file: EVIDENCE_FILE, problem: 'missing' });
  } else {
    for (const r of namedReports(evidence)) {
      const sum = actual.get(r.file);
      if (sum === undefined) problems.push({ file: r.file, problem: 'named in evidence.json but missing' });
      else if (sum !== r.sha256) problems.push({ file: r.file, problem: `sha256 ${sum} differs from the report hash ${r.sha256} in evidence.json` });
    }
  }
  return { ok: problems.length === 0, folder: dir, files_checked: actual.size, problems };
}
