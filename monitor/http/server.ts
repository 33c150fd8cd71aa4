/**
 * The monitor's HTTP server (Express 5): Bull Board at /ui, /metrics, /api/runs,
 * /api/runs/:id, /advisories/summary and /healthz. Loopback by default; any other bind
 * needs a token or basic-auth credentials (monitor/http/auth.ts), which every route but
 * /healthz then requires. Handlers read O(1) per run and O(page) per summary.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../../core/logger.js';
import type { Connections } from '../../core/connections.js';
import { ConfigError, LnmError, UsageError } from '../../core/errors.js';
import { redactError } from '../../core/redact.js';
import { parseTenantOption } from '../../core/tenant.js';
import { assertBindAllowed, authorized, challenge, type Credentials } from './auth.js';
import { Board } from './board.js';
import { advisorySummary, SUMMARY_DEFAULT_TAKE, SUMMARY_MAX_TAKE } from './advisory-summary.js';
import { MetricsExporter, type MetricsSources } from './metrics.js';

export const UI_PATH = '/ui';
export const RUNS_LIST_MAX = 100;

export interface MonitorHttpOptions extends Credentials {
  host: string;
  port: number;
  /** Bull Board actions (retry, clean, pause); read-only when false. */
  boardWrite: boolean;
  /** How stale the board's queue list may get (new runs appear within this). */
  boardRefreshMs?: number;
}

export interface RunViews {
  /** A run's status (`latest` allowed); throws NotFoundError / PayloadError. */
  status(runId: string): Promise<unknown>;
  /** The newest `take` runs' statuses, newest first. */
  list(take: number): Promise<unknown[]>;
}

export interface MonitorHttpDeps extends Omit<MetricsSources, 'conns'> {
  conns: Connections;
  log: Logger;
  runs: RunViews;
}

export interface MonitorHttp {
  url: string;
  port: number;
  board: Board;
  close(): Promise<void>;
}

const STATUS_OF: Partial<Record<string, number>> = { ERR_NOT_FOUND: 404, ERR_PAYLOAD: 400, ERR_USAGE: 400, ERR_CONFIG: 400 };

const badRequest = (param: string, message: string): UsageError => new UsageError(`${param}: ${message}`, 'see README, "Watching a run"');

function intParam(req: Request, name: string, dflt: number, max: number): number {
  const v = req.query[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !/^\d{1,6}$/.test(v) || Number(v) < 1 || Number(v) > max) throw badRequest(name, `expected an integer 1..${max}`);
  return Number(v);
}

function strParam(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '' || v.length > 512) throw badRequest(name, 'expected one non-empty value');
  return v;
}

export function buildApp(deps: MonitorHttpDeps, opts: MonitorHttpOptions, board: Board, metrics: MetricsExporter): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.use((req, res, next) => {
    if (authorized(req.get('authorization'), opts)) return next();
    res.set('WWW-Authenticate', challenge(opts)).status(401).json({ error: 'unauthorized' });
  });
  app.get('/', (_req, res) => res.redirect(UI_PATH));
  app.get('/metrics', async (_req, res) => {
    const m = await metrics.scrape();
    res.type(m.contentType).send(m.body);
  });
  app.get('/api/runs', async (req, res) => {
    res.json({ runs: await deps.runs.list(intParam(req, 'take', 20, RUNS_LIST_MAX)) });
  });
  app.get('/api/runs/:id', async (req, res) => {
    res.json(await deps.runs.status(String(req.params.id)));
  });
  app.get('/advisories/summary', async (req, res) => {
    const tenant = parseTenantOption(strParam(req, 'tenant'), 'tenant');
    if (tenant === null) throw badRequest('tenant', 'required (one tenant per request)');
    const advisory = strParam(req, 'advisory');
    const after = strParam(req, 'after');
    const take = intParam(req, 'take', SUMMARY_DEFAULT_TAKE, SUMMARY_MAX_TAKE);
    res.json(await advisorySummary(deps.conns.db, { tenant, take, ...(advisory ? { advisory } : {}), ...(after ? { after } : {}) }));
  });
  app.use(UI_PATH, async (_req, _res, next) => {
    await board.refresh();
    next();
  });
  app.use(UI_PATH, board.router());
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const code = err instanceof LnmError ? err.code : 'ERR_INTERNAL';
    const status = STATUS_OF[code] ?? 500;
    if (status === 500) deps.log.error({ err: redactError(err) }, 'monitor http request failed');
    res.status(status).json({ error: { code, message: status === 500 ? 'internal error (see the monitor log)' : (err as Error).message } });
  });
  return app;
}

/** Validates the bind, then listens; resolves once the port is open. */
export async function startMonitorHttp(deps: MonitorHttpDeps, opts: MonitorHttpOptions): Promise<MonitorHttp> {
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65_535) throw new ConfigError('LNM_MONITOR_PORT', `${opts.port} is outside 0..65535`);
  assertBindAllowed(opts.host, opts);
  const board = new Board(deps.conns, { basePath: UI_PATH, write: opts.boardWrite, refreshMs: opts.boardRefreshMs ?? 2000 });
  await board.refresh(true);
  const metrics = new MetricsExporter(deps);
  const app = buildApp(deps, opts, board, metrics);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(opts.port, opts.host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  deps.log.info({ url: `http://${host}:${port}`, ui: UI_PATH, board_write: opts.boardWrite, auth: opts.token || opts.basicAuth ? 'required' : 'none (loopback)' }, 'monitor http listening');
  return {
    url: `http://${host}:${port}`,
    port,
    board,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
