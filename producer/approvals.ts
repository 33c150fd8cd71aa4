/**
 * Approvals and the production start gate (the runbook's owners: the run by DevOps, the
 * approvals by the Concelier Storage Guild and Platform Security).
 *
 * `approve` records an approval of a succeeded dry run's plan (its arguments and corpus
 * bundle hash), once per role, never two roles by one person. `assertStartAllowed`
 * decides whether a non-dry-run start may go: ingest frozen, and a dry run with the same
 * arguments over the *current* corpus holding both approvals — each refusal overridable
 * only with `force` and a reason, which the returned gate records.
 *
 * The current corpus hash is the bundle hash a run planned now would record: pass the
 * planner's `corpus_sha256` when the start has just planned (no extra read), else the
 * gate computes it with `corpusSha256` — one identity scan of the corpus.
 */
import type { Logger } from 'pino';
import type { Connections } from '../core/connections.js';
import { ConfigError, LnmError } from '../core/errors.js';
import {
  APPROVAL_ROLES,
  approvalsOf,
  approvalsWithArgs,
  argsHash,
  insertApproval,
  personKey,
  planArgs,
  planHash,
  type ApprovalDoc,
  type ApprovalRole,
} from '../core/store/approvals.js';
import { corpusSha256 } from '../core/store/corpus-hash.js';
import { resolveScan } from '../core/store/corpus-scan.js';
import { FLAGS, flagEnabled, getFlag } from '../core/store/flags.js';
import { getRun } from '../core/store/runs.js';

export interface ApproveOptions {
  dryRunId: string;
  role: string;
  by: string;
  note?: string;
}

function parseRole(role: string): ApprovalRole {
  if ((APPROVAL_ROLES as readonly string[]).includes(role)) return role as ApprovalRole;
  throw new ConfigError('--role', `expected one of ${APPROVAL_ROLES.join(', ')}, got "${role}"`);
}

export async function approve(conns: Connections, opts: ApproveOptions, log: Logger): Promise<ApprovalDoc> {
  const role = parseRole(opts.role);
  if (!opts.by.trim()) throw new ConfigError('--by', 'the approver\'s name is required');
  const run = await getRun(conns.db, opts.dryRunId);
  const corpus = run.snapshot?.corpus_sha256;
  if (!run.dry_run || run.state !== 'succeeded' || !corpus) {
    throw new LnmError(
      'ERR_APPROVAL_NOT_APPROVABLE',
      `run ${run._id} is ${run.dry_run ? 'a dry run' : 'not a dry run'} in state ${run.state}: only a succeeded dry run's plan can be approved`,
      { path: `backfill_runs/${run._id}`, unrecoverable: true },
    );
  }
  const plan = planHash(run.args, corpus);
  const doc: ApprovalDoc = {
    _id: `${plan}:${role}`,
    plan_hash: plan,
    args_hash: argsHash(run.args),
    dry_run_id: run._id,
    role,
    by: opts.by.trim(),
    by_key: personKey(opts.by),
    note: opts.note?.trim() || null,
    at: new Date(),
    plan: { args: planArgs(run.args), corpus_sha256: corpus },
  };
  const r = await insertApproval(conns.db, doc);
  if (r.result === 'role_taken') {
    throw new LnmError('ERR_APPROVAL_EXISTS', `the ${role} approval of this plan was already given by ${r.existing.by} at ${r.existing.at.toISOString()} (dry run ${r.existing.dry_run_id})`, {
      path: `backfill_approvals/${doc._id}`,
      unrecoverable: true,
    });
  }
  if (r.result === 'person_taken') {
    throw new LnmError('ERR_APPROVAL_SAME_PERSON', `${doc.by} already approved this plan${r.existing ? ` as ${r.existing.role}` : ''}: the two roles need two people`, {
      path: `backfill_approvals/${plan}`,
      unrecoverable: true,
    });
  }
  log.info({ plan_hash: plan, role, by: doc.by, dry_run_id: run._id }, 'plan approved');
  return doc;
}

export interface StartGateOptions {
  /** The start's run arguments, as recorded on a run (`args`): dry_run, batch_size, stop_on_error, tenant, … */
  args: Record<string, unknown>;
  force?: boolean;
  reason?: string;
  /** Who forces (default: recorded as given by the caller's `by`). */
  by?: string;
  /** The current corpus bundle hash if already known (a fresh plan's `corpus_sha256`). */
  corpusSha256?: string;
}

export interface StartGate {
  frozen: boolean;
  plan_hash: string;
  corpus_sha256: string;
  approvals: ApprovalDoc[];
  /** Checks that failed and were overridden by `force` with this reason: record them on the run. */
  forced: Array<{ check: 'frozen' | 'approvals'; reason: string; by: string | null; at: Date }>;
}

const notFrozen = (): LnmError =>
  new LnmError('ERR_START_NOT_FROZEN', 'ingest is not frozen. Fix: run "lnm-backfill freeze --reason <why>" first (or --force --reason)', { path: FLAGS.ingest, unrecoverable: true });

/**
 * The cheap half of the gate, before any corpus scan: ingest frozen, and some approval of
 * these arguments exists (whether it is for the current corpus is decided after planning,
 * by `assertStartAllowed` with the plan's corpus hash). No-op when forced.
 */
export async function precheckStart(conns: Connections, opts: Pick<StartGateOptions, 'args' | 'force'>): Promise<void> {
  if (opts.force) return;
  if (flagEnabled(await getFlag(conns.db, FLAGS.ingest))) throw notFrozen();
  if ((await approvalsWithArgs(conns.db, opts.args)).length === 0) {
    throw new LnmError('ERR_START_NOT_APPROVED', 'no dry run with these arguments has been approved. Fix: "lnm-backfill start --dry-run" with the same arguments, then "lnm-backfill approve <dry-run> --role <role> --by <name>" for both roles', {
      path: 'backfill_approvals',
      unrecoverable: true,
      details: { missing: [...APPROVAL_ROLES], stale: false },
    });
  }
}

/** Throws ERR_START_NOT_FROZEN / ERR_START_NOT_APPROVED unless allowed (or forced with a reason). */
export async function assertStartAllowed(conns: Connections, opts: StartGateOptions, log: Logger): Promise<StartGate> {
  const { db } = conns;
  const reason = opts.reason?.trim() ?? '';
  if (opts.force && !reason) {
    throw new LnmError('ERR_REASON_REQUIRED', '--force needs --reason "<why>": it is recorded on the run and shown in the evidence', { path: '--reason', unrecoverable: true });
  }
  const forced: StartGate['forced'] = [];
  const override = (check: 'frozen' | 'approvals', err: LnmError): void => {
    if (!opts.force) throw err;
    forced.push({ check, reason, by: opts.by ?? null, at: new Date() });
    log.warn({ check, reason, by: opts.by ?? null, refused: err.message }, 'start gate overridden with --force');
  };
  const frozen = !flagEnabled(await getFlag(db, FLAGS.ingest));
  if (!frozen) {
    override('frozen', notFrozen());
  }
  const tenant = typeof opts.args.tenant === 'string' ? opts.args.tenant : null;
  const corpus = opts.corpusSha256 ?? (await corpusSha256(db, { snapshot_bound: new Date(), tenant }, await resolveScan(db, conns.cfg.scan))).sha256;
  const plan = planHash(opts.args, corpus);
  const approvals = await approvalsOf(db, plan);
  const missing = APPROVAL_ROLES.filter((role) => !approvals.some((a) => a.role === role));
  if (missing.length > 0) {
    const stale = (await approvalsWithArgs(db, opts.args)).filter((a) => a.plan_hash !== plan);
    const why = stale.length > 0
      ? `the approvals of dry run ${stale[0]!.dry_run_id} are stale: the corpus changed since (approved ${stale[0]!.plan.corpus_sha256.slice(0, 12)}…, now ${corpus.slice(0, 12)}…)`
      : 'no dry run with these arguments over the current corpus has been approved';
    override(
      'approvals',
      new LnmError('ERR_START_NOT_APPROVED', `missing approval(s): ${missing.join(', ')}; ${why}. Fix: "lnm-backfill start --dry-run" with the same arguments, then "lnm-backfill approve <dry-run> --role <role> --by <name>" for both roles`, {
        path: `backfill_approvals/${plan}`,
        unrecoverable: true,
        details: { plan_hash: plan, corpus_sha256: corpus, missing, stale: stale.length > 0 },
      }),
    );
  }
  return { frozen, plan_hash: plan, corpus_sha256: corpus, approvals, forced };
}
