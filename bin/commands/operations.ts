/** migrate, preflight, freeze, unfreeze, approve, publisher: the runbook around a run. */
import { approveDryRun, freeze as freezeFlags, migrateDatabase, migrationsStatus, preflight as runPreflight, startPublisher, unfreeze as unfreezeFlags, type FreezeWindowCheck } from '../../api/index.js';
import { UsageError } from '../../core/errors.js';
import { usage, type Command, type CommandContext } from '../cli/command.js';
import { untilStopped } from './roles.js';

const opts = (ctx: CommandContext) => ({ config: ctx.cfg, log: ctx.log });
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export const migrate: Command = {
  name: 'migrate',
  summary: 'create the collections and indexes (versioned, recorded in schema_migrations); --status lists them',
  positionals: [],
  options: { status: { type: 'boolean', description: 'list applied, pending and changed migrations; exit 1 if any is not applied' } },
  migrated: false,
  async run(ctx) {
    if (ctx.options.status) {
      const status = await migrationsStatus(opts(ctx));
      const text = status.map((m) => `${m.state.padEnd(8)} ${m.id}  ${m.description}${m.notes.length ? ` (${m.notes.join('; ')})` : ''}`).join('\n');
      return { exitCode: status.every((m) => m.state === 'applied') ? 0 : 1, result: status, text };
    }
    const r = await migrateDatabase(opts(ctx));
    const text = r.applied.length + r.reapplied.length === 0 ? 'nothing to do: every migration is applied' : `applied ${[...r.applied, ...r.reapplied].join(', ')}`;
    return { exitCode: 0, result: r, text };
  },
};

export const preflight: Command = {
  name: 'preflight',
  summary: 'checks before a production run (indexes, idempotency probe, freeze, Redis, migrations, kit); exit 1 on any failure',
  positionals: [],
  options: { kit: { type: 'string', value: 'FILE', description: 'compare the offline-kit manifest (kit hashes) with the database' } },
  migrated: false,
  async run(ctx) {
    const kit = str(ctx.options.kit);
    const r = await runPreflight({ ...opts(ctx), ...(kit ? { kitFile: kit } : {}) });
    const width = Math.max(...r.checks.map((c) => c.name.length));
    const text = [
      r.server ? `server: ${r.server.product} ${r.server.version}, ${r.server.topology}${r.server.replica_set ? ` (${r.server.replica_set})` : ''}` : 'server: unreachable',
      ...r.checks.map((c) => `${c.ok ? 'PASS' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.reason}${c.fix ? `\n      fix: ${c.fix}` : ''}`),
      r.probe ? `idempotency probe: ${r.probe.ok ? 'duplicate rejected' : 'FAILED'}, log hash ${r.probe.sha256}` : 'idempotency probe: not run',
      r.ok ? 'preflight: all checks passed' : `preflight: ${r.checks.filter((c) => !c.ok).length} check(s) failed`,
    ].join('\n');
    return { exitCode: r.ok ? 0 : 1, result: r, text };
  },
};

const WHO = {
  reason: { type: 'string', value: 'TEXT', description: 'why (required; kept in the flag history)' },
  by: { type: 'string', value: 'NAME', description: 'who (default: the OS user)' },
} as const;

function flagsText(r: { ingest: { value: boolean }; publisher: { value: boolean; mode?: string } }): string {
  return `ingest ${r.ingest.value ? 'enabled' : 'FROZEN'}; outbox publisher ${r.publisher.value ? 'enabled' : `stopped${r.publisher.mode === 'blackhole' ? ' (blackhole)' : ''}`}`;
}

export const freeze: Command = {
  name: 'freeze',
  summary: 'freeze ingest and stop the outbox publisher (or point it at the blackhole subject) for the change window',
  positionals: [],
  options: { ...WHO, outbox: { type: 'string', value: 'stop|blackhole', description: 'what the publisher does while frozen (default stop)' } },
  async run(ctx) {
    const outbox = str(ctx.options.outbox);
    if (outbox !== undefined && outbox !== 'stop' && outbox !== 'blackhole') throw new UsageError('freeze: --outbox must be stop or blackhole', usage(freeze));
    const by = str(ctx.options.by);
    const r = await freezeFlags({ ...opts(ctx), reason: str(ctx.options.reason) ?? '', ...(by ? { by } : {}), ...(outbox ? { outbox } : {}) });
    return { exitCode: 0, result: r, text: flagsText(r) };
  },
};

/** The freeze-window proof in one line, as `validate` and `unfreeze` print it. */
export function freezeWindowLine(check: FreezeWindowCheck): string {
  return `freeze window: ${check.status.toUpperCase().replace('_', ' ')}  ${check.reason}`;
}

export const unfreeze: Command = {
  name: 'unfreeze',
  summary: 're-enable ingest and the publisher; --replay-one proves the event path with one event read back',
  positionals: [],
  options: { ...WHO, 'replay-one': { type: 'boolean', description: 'republish one recent observation event and read it back from the transport' } },
  async run(ctx) {
    const by = str(ctx.options.by);
    const r = await unfreezeFlags({ ...opts(ctx), reason: str(ctx.options.reason) ?? '', ...(by ? { by } : {}), replayOne: ctx.options['replay-one'] === true });
    const replay = r.replay === null ? '' : r.replay.ok ? `\nreplayed event ${r.replay.event_id} on ${r.replay.transport}: read back in ${r.replay.latency_ms} ms` : `\nreplay FAILED: ${r.replay.code}: ${r.replay.message}`;
    const proof = r.freeze_window ? `\n${freezeWindowLine(r.freeze_window)}` : '';
    return { exitCode: r.replay && !r.replay.ok ? 1 : 0, result: r, text: `${flagsText(r)}${proof}${replay}` };
  },
};

export const approve: Command = {
  name: 'approve',
  summary: "approve a dry run's plan (arguments + corpus bundle hash) for one role; a real start needs both roles",
  positionals: [{ name: 'dry-run', description: 'the succeeded dry run (id, or latest)' }],
  options: {
    role: { type: 'string', value: 'storage|security', description: 'Concelier Storage Guild or Platform Security' },
    by: { type: 'string', value: 'NAME', description: 'the approver (one person cannot approve both roles)' },
    note: { type: 'string', value: 'TEXT', description: 'a note kept with the approval' },
  },
  async run(ctx) {
    const role = str(ctx.options.role);
    const by = str(ctx.options.by);
    if (role !== 'storage' && role !== 'security') throw new UsageError('approve: --role must be storage or security', usage(approve));
    if (!by) throw new UsageError('approve: --by is required', usage(approve));
    const note = str(ctx.options.note);
    const a = await approveDryRun(ctx.args[0]!, { ...opts(ctx), role, by, ...(note ? { note } : {}) });
    return { exitCode: 0, result: a, text: `approved plan ${a.plan_hash.slice(0, 12)}… of dry run ${a.dry_run_id} as ${a.role} by ${a.by}` };
  },
};

export const publisher: Command = {
  name: 'publisher',
  longRunning: true,
  summary: 'the outbox publisher: publishes observation events on NATS JetStream or Redis Streams; honours the freeze',
  positionals: [],
  options: {},
  async run(ctx) {
    const p = await startPublisher(opts(ctx));
    const why = await untilStopped(ctx);
    const stats = await p.close();
    ctx.log.info({ why, ...stats }, 'publisher stopped');
    return { exitCode: 0, result: stats };
  },
};
