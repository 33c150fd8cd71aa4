/**
 * `npm run bench [-- --sizes=10000,100000 --workers=1,2 --with-1m ...]` (bench/args.ts):
 * every case in one run on the same servers, each in a fresh database with its own queue
 * prefix, each checked against the independent oracle (bench/oracle.ts). Writes
 * bench/results/<UTC date>.json and regenerates the generated part of bench/RESULTS.md
 * after every case, so an interrupted run still leaves what it measured.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../core/config.js';
import { Connections } from '../core/connections.js';
import { servicesUp } from '../core/services/services.js';
import { parseBenchArgs, type BenchArgs } from './args.js';
import { corpusFile, disposeCase, freshCase, sizeName, type CaseEnv } from './corpus.js';
import { naiveCase, rawCase } from './direct.js';
import { expectedFromFile, type Expected } from './oracle.js';
import { pipelineCase } from './pipeline.js';
import { cmdline, findServerPid, infoField, mb } from './proc.js';
import { renderResultsMd } from './render.js';
import { computeRatios, round, type BenchResult, type CaseKind, type CaseResult } from './stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BENCH_DIR = path.join(ROOT, 'bench');

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function mongoPort(url: string): string {
  try {
    return new URL(url).port || '27017';
  } catch {
    return '27017';
  }
}

async function describe(base: Config, conns: Connections, serverPid: number | null, args: BenchArgs): Promise<BenchResult> {
  const build = await conns.db.admin().command({ buildInfo: 1 });
  const redisInfo = await conns.sharedRedis().info('server');
  const handler = serverPid === null ? null : (/--handler=(\S+)/.exec(cmdline(serverPid))?.[1] ?? null);
  const ferret = typeof build.ferretdbVersion === 'string' ? build.ferretdbVersion : null;
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    machine: { cpus: cpu.length, cpu_model: cpu[0]?.model ?? 'unknown', mem_gb: round(totalmem() / 2 ** 30, 1), load_start: loadavg().map((x) => round(x, 2)), load_end: [] },
    server: { kind: ferret ? 'FerretDB' : 'MongoDB', version: ferret ?? String(build.version), backend: ferret ? handler : null, mongo_url_host: `127.0.0.1:${mongoPort(base.mongoUrl)}` },
    redis: { version: /^redis_version:(\S+)/m.exec(redisInfo)?.[1] ?? 'unknown' },
    versions: { 'lnm-backfill': gitCommit(), mongodb: pkgVersion('mongodb'), bullmq: pkgVersion('bullmq'), ioredis: pkgVersion('ioredis'), wire_version: String(build.version) },
    node: process.version,
    command: ['npm', 'run', 'bench', '--', ...process.argv.slice(2)],
    options: { ...args },
    cases: [],
    ratios: computeRatios([]),
    notes: [
      'Pipeline runs are started with --force --reason (no freeze/dry-run approval ceremony in the timed case); the dry run is its own case.',
      'Each case checks its own result: pipeline and re-run leave exactly the oracle\'s edges (digest over the DESIGN §5 lines, equal to the validator\'s digest definition) and as many tombstones, with the run succeeded (validation passed); a dry run writes nothing and counts what a real run writes; raw limit and naive are checked the same way on the database.',
      'The server and Redis are shared with other work on this machine: their RSS/used_memory figures include it, and the load average is recorded per case.',
    ],
  };
}

function failed(kind: CaseKind, docs: number, err: unknown, workers?: number): CaseResult {
  return { kind, docs, ...(workers ? { workers } : {}), ok: false, check: {}, wall_s: 0, docs_per_s: null, error: err instanceof Error ? err.message : String(err) };
}

class Recorder {
  readonly file: string;
  readonly result: BenchResult;
  constructor(fresh: BenchResult, private readonly append: boolean) {
    mkdirSync(path.join(BENCH_DIR, 'results'), { recursive: true });
    this.file = path.join(BENCH_DIR, 'results', `${fresh.date.slice(0, 10)}.json`);
    if (append && existsSync(this.file)) {
      // Same servers, a later invocation: keep the earlier cases and say so.
      this.result = JSON.parse(readFileSync(this.file, 'utf8')) as BenchResult;
      this.result.notes.push(`cases appended at ${fresh.date} (load ${fresh.machine.load_start.join(' ')}) by: ${fresh.command.join(' ')}`);
    } else this.result = fresh;
  }

  add(c: CaseResult): void {
    // Appending: cases another invocation recorded meanwhile are kept too; per kind, size and
    // workers the latest one wins.
    const onDisk = this.append && existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as BenchResult).cases : [];
    const latest = new Map<string, CaseResult>();
    const all = [...this.result.cases, ...onDisk, { ...c, at: new Date().toISOString() }];
    for (const x of all.sort((a, b) => (a.at ?? '').localeCompare(b.at ?? ''))) latest.set(`${x.kind}/${x.docs}/${x.workers ?? 0}`, x);
    this.result.cases = [...latest.values()];
    process.stderr.write(`bench: ${c.kind} ${c.docs}${c.workers ? ` w${c.workers}` : ''}: ${c.ok ? 'ok' : `FAILED ${c.error ?? ''}`} ${c.wall_s} s, ${c.docs_per_s ?? '–'} docs/s\n`);
    this.save();
  }

  save(): void {
    this.result.ratios = computeRatios(this.result.cases);
    this.result.machine.load_end = loadavg().map((x) => round(x, 2));
    writeFileSync(this.file, `${JSON.stringify(this.result, null, 2)}\n`);
    const md = path.join(BENCH_DIR, 'RESULTS.md');
    writeFileSync(md, renderResultsMd(this.result, existsSync(md) ? readFileSync(md, 'utf8') : null));
  }
}

/** Run one case in a fresh database; the oracle is computed once per size, in the first one. */
async function withCase(base: Config, docs: number, name: string, oracle: { expected?: Expected }, body: (c: CaseEnv, expected: Expected) => Promise<void>): Promise<void> {
  const { c, import_s, accepted } = await freshCase(base, docs, name);
  try {
    process.stderr.write(`bench: ${c.name}: imported ${accepted} documents in ${import_s} s\n`);
    oracle.expected ??= await expectedFromFile(await corpusFile(base, docs));
    if (oracle.expected.documents !== accepted || accepted !== docs) throw new Error(`the import accepted ${accepted} documents, the oracle expects ${oracle.expected.documents} of ${docs}`);
    await body(c, oracle.expected);
  } finally {
    await disposeCase(c);
  }
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  const base = loadConfig();
  await servicesUp(base);
  const conns = await Connections.open(base);
  const redis = conns.sharedRedis();
  const serverPid = findServerPid(path.join(base.homeDir, 'run', 'mongo.pid'), mongoPort(base.mongoUrl));
  const rec = new Recorder(await describe(base, conns, serverPid, args), args.append);
  const want = (k: CaseKind): boolean => args.cases.includes(k);
  const maxWorkers = Math.max(...args.workers);
  try {
    for (const docs of args.sizes) {
      const oracle: { expected?: Expected } = {};
      const attempt = async (kind: CaseKind, name: string, workers: number | undefined, body: (c: CaseEnv, e: Expected) => Promise<void>): Promise<void> => {
        try {
          await withCase(base, docs, name, oracle, body);
        } catch (err) {
          rec.add(failed(kind, docs, err, workers));
        }
      };
      const direct = { docs, serverPid, redis };
      if (want('raw')) await attempt('raw', 'raw', undefined, async (c, expected) => rec.add(await rawCase(c, { ...direct, expected })));
      for (const w of want('pipeline') || want('dry_run') || want('rerun') ? args.workers : []) {
        await attempt('pipeline', `p${w}`, w, async (c, expected) => {
          const p = { docs, workers: w, batchSize: args.batchSize, expected, serverPid, redis };
          if (w === maxWorkers && want('dry_run')) rec.add(await pipelineCase(c, { ...p, kind: 'dry_run' }));
          if (!want('pipeline') && !want('rerun')) return;
          const real = await pipelineCase(c, { ...p, kind: 'pipeline' });
          if (want('pipeline')) rec.add(real);
          if (w === maxWorkers && want('rerun') && real.ok) rec.add(await pipelineCase(c, { ...p, kind: 'rerun' }));
        });
      }
      if (want('naive') && docs <= args.naiveMaxDocs) {
        await attempt('naive', 'naive', undefined, async (c, expected) => rec.add(await naiveCase(c, { ...direct, expected, budgetS: args.naiveBudgetS })));
      }
      process.stderr.write(`bench: size ${sizeName(docs)} done\n`);
    }
    if (want('naive')) rec.result.notes.push(`naive ran only at sizes ≤ ${args.naiveMaxDocs} documents and stops after ${args.naiveBudgetS} s (its per-advisory query is a scan of the tenant's documents on FerretDB, so it is quadratic).`);
    rec.save();
    const r = rec.result;
    process.stdout.write(`${JSON.stringify({ file: path.relative(ROOT, rec.file), ok: r.cases.every((c) => c.ok), cases: r.cases.length, ratios: r.ratios, redis_used_memory_peak_mb: mb(infoField(await redis.info('memory'), 'used_memory_peak') ?? 0) })}\n`);
    if (!r.cases.every((c) => c.ok)) process.exitCode = 1;
  } finally {
    await conns.close();
  }
}

await main();
