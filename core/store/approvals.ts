/**
 * `backfill_approvals`: immutable approvals of a dry run's plan (insert-only). A plan is
 * the run's arguments (all but `dry_run`) and its corpus bundle hash; its hash names the
 * approval (`_id` = `<plan hash>:<role>`, so one approval per role), and a unique index on
 * (plan_hash, by_key) keeps one person from holding both roles. Both checks are a single
 * unique insert: atomic on MongoDB and FerretDB alike.
 */
import type { Db } from 'mongodb';
import { canonicalJson } from '../canonical-json.js';
import { sha256Hex } from '../supersedes.js';
import { COLL } from './collections.js';
import { insertNew } from './insert-new.js';

export const APPROVAL_ROLES = ['storage', 'security'] as const;
export type ApprovalRole = (typeof APPROVAL_ROLES)[number];

export interface ApprovalDoc {
  _id: string;
  plan_hash: string;
  /** Hash of the arguments alone: finds approvals made stale by a corpus change. */
  args_hash: string;
  dry_run_id: string;
  role: ApprovalRole;
  by: string;
  /** `by` trimmed and lower-cased: "Alice" and "alice " are one person. */
  by_key: string;
  note: string | null;
  at: Date;
  plan: { args: Record<string, unknown>; corpus_sha256: string };
}

const coll = (db: Db) => db.collection<ApprovalDoc>(COLL.approvals);

/** A run's arguments as a plan compares them: everything but `dry_run`. */
export function planArgs(args: Record<string, unknown>): Record<string, unknown> {
  const { dry_run: _dryRun, ...rest } = args;
  return rest;
}

export function argsHash(args: Record<string, unknown>): string {
  return sha256Hex(canonicalJson(planArgs(args)));
}

export function planHash(args: Record<string, unknown>, corpusSha256: string): string {
  return sha256Hex(canonicalJson({ args: planArgs(args), corpus_sha256: corpusSha256 }));
}

export const personKey = (by: string): string => by.trim().toLowerCase();

export type InsertApproval = { result: 'inserted' } | { result: 'role_taken'; existing: ApprovalDoc } | { result: 'person_taken'; existing: ApprovalDoc | null };

export async function insertApproval(db: Db, doc: ApprovalDoc): Promise<InsertApproval> {
  const r = await insertNew(coll(db), [doc]);
  if (r.inserted === 1) return { result: 'inserted' };
  const sameRole = await coll(db).findOne({ _id: doc._id });
  if (sameRole) return { result: 'role_taken', existing: sameRole };
  return { result: 'person_taken', existing: await coll(db).findOne({ plan_hash: doc.plan_hash, by_key: doc.by_key }) };
}

/** The approvals of one plan (point reads by `_id`), in role order. */
export async function approvalsOf(db: Db, plan: string): Promise<ApprovalDoc[]> {
  const found = await Promise.all(APPROVAL_ROLES.map((role) => coll(db).findOne({ _id: `${plan}:${role}` })));
  return found.filter((a): a is ApprovalDoc => a !== null);
}

/** Approvals of other plans with the same arguments (their corpus has since changed). */
export async function approvalsWithArgs(db: Db, args: Record<string, unknown>): Promise<ApprovalDoc[]> {
  return coll(db).find({ args_hash: argsHash(args) }).toArray();
}
