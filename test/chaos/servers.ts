/**
 * Servers the chaos suite owns and may kill: a redis-server and a FerretDB, each on a free
 * loopback port (never the machine's shared 6379 / 27017), restartable on the same port.
 * FerretDB gets its own PostgreSQL database, dropped at the end; it may start as a copy of
 * a template database (`CREATE DATABASE … TEMPLATE`, a file copy inside PostgreSQL): the
 * suite seeds its corpus once into a template and every scenario starts from a copy.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { loadConfig } from '../../core/config.js';
import { ensureFerretBinary } from '../../core/services/ferretdb.js';
import { freePort, run, tcpOpen } from '../../core/services/proc.js';
import { pollUntil } from '../helpers/env.js';

abstract class OwnServer {
  protected proc: ChildProcess | undefined;
  protected readonly dir = mkdtempSync(path.join(tmpdir(), 'lnm-chaos-server-'));
  private log = '';

  constructor(readonly port: number) {}

  protected abstract command(): { cmd: string; args: string[]; env?: NodeJS.ProcessEnv };
  protected abstract ready(): Promise<boolean>;

  async start(): Promise<void> {
    const { cmd, args, env } = this.command();
    const proc = spawn(cmd, args, { cwd: this.dir, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => (this.log = (this.log + d.toString()).slice(-4000));
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.proc = proc;
    await pollUntil(async () => {
      if (proc.exitCode !== null) throw new Error(`${cmd} exited ${proc.exitCode}: ${this.log}`);
      return (await tcpOpen('127.0.0.1', this.port, 500)) && (await this.ready().catch(() => false));
    }, `${cmd} on 127.0.0.1:${this.port}`, 60_000, 100);
  }

  /** Kill the server (SIGKILL: a crash) and wait until it has exited and the port is closed. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = once(proc, 'exit');
    proc.kill(signal);
    await gone;
    await pollUntil(async () => !(await tcpOpen('127.0.0.1', this.port, 200)), `port ${this.port} closed`, 30_000, 50);
  }

  async close(): Promise<void> {
    await this.stop('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** redis-server with an fsync-always append-only file: a SIGKILL loses no acknowledged write. */
export class OwnRedis extends OwnServer {
  static async start(): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort());
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  protected command() {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''];
    return { cmd: 'redis-server', args };
  }

  protected async ready(): Promise<boolean> {
    const r = await run('redis-cli', ['-p', String(this.port), 'ping'], { timeoutMs: 2000 });
    return r.code === 0 ? r.stdout.trim() === 'PONG' : true; // no redis-cli: the open port is enough
  }
}

let ferrets = 0;

export interface FerretOptions {
  /** The PostgreSQL database to use (default: a new unique name). */
  pgDb?: string;
  /** Start from a copy of this PostgreSQL database instead of an empty one. */
  template?: string;
}

/** FerretDB (the project's build) on its own PostgreSQL database. */
export class OwnFerret extends OwnServer {
  private constructor(
    port: number,
    private readonly bin: string,
    private readonly pgUrl: string,
    private readonly debugPort: number,
  ) {
    super(port);
  }

  static async start(opts: FerretOptions = {}): Promise<OwnFerret> {
    const base = loadConfig();
    const bin = await ensureFerretBinary(base);
    const pg = new URL(base.ferretPostgresUrl);
    const db = opts.pgDb ?? `lnm_chaos_${process.pid}_${++ferrets}`;
    pg.pathname = `/${db}`;
    await psql(pg, `DROP DATABASE IF EXISTS "${db}"`);
    if (opts.template) {
      // The template's last user (a FerretDB just stopped) may take a moment to disconnect.
      const create = `CREATE DATABASE "${db}" TEMPLATE "${opts.template}"`;
      await pollUntil(() => psql(pg, create).then(() => true, (err: Error) => (/being accessed by other users/.test(err.message) ? false : Promise.reject(err))), create, 30_000, 100);
    } else await psql(pg, `CREATE DATABASE "${db}"`);
    const f = new OwnFerret(await freePort(), bin, pg.toString(), await freePort());
    await f.start();
    return f;
  }

  /** The PostgreSQL database this FerretDB stores into. */
  get pgDb(): string {
    return new URL(this.pgUrl).pathname.slice(1);
  }

  get url(): string {
    return `mongodb://127.0.0.1:${this.port}/`;
  }

  protected command() {
    const args = ['--handler=postgresql', `--listen-addr=127.0.0.1:${this.port}`, `--state-dir=${this.dir}`, '--telemetry=disable', `--debug-addr=127.0.0.1:${this.debugPort}`, '--log-level=warn'];
    return { cmd: this.bin, args, env: { ...process.env, FERRETDB_POSTGRESQL_URL: this.pgUrl } };
  }

  protected async ready(): Promise<boolean> {
    const c = await MongoClient.connect(this.url, { serverSelectionTimeoutMS: 1000 });
    try {
      return (await c.db('admin').command({ ping: 1 })).ok === 1;
    } finally {
      await c.close();
    }
  }

  /** Stop the server; drop its PostgreSQL database unless `keepDatabase` (a template). */
  override async close(opts: { keepDatabase?: boolean } = {}): Promise<void> {
    await super.close();
    if (!opts.keepDatabase) await dropPgDatabase(this.pgDb);
  }
}

/** Drop a PostgreSQL database of the server FerretDB uses (a template when the suite ends). */
export async function dropPgDatabase(db: string): Promise<void> {
  const pg = new URL(loadConfig().ferretPostgresUrl);
  await psql(pg, `DROP DATABASE IF EXISTS "${db}"`);
}

/** Run one statement against the `postgres` database of the server in `url` (its password through PGPASSWORD). */
async function psql(url: URL, sql: string): Promise<void> {
  const admin = new URL(url.toString());
  admin.pathname = '/postgres';
  const password = decodeURIComponent(admin.password);
  admin.password = '';
  const r = await run('psql', [admin.toString(), '-v', 'ON_ERROR_STOP=1', '-tAc', sql], { timeoutMs: 60_000, env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) } });
  if (r.code !== 0) throw new Error(`psql ${sql}: ${r.stderr}`);
}
