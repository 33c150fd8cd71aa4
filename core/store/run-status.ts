/**
 * Run states and the only legal transitions between them. Each edge says why it exists.
 * The state lives in `backfill_runs`, so every process reads the same truth.
 */
import { RunStateError } from '../errors.js';

export const RUN_STATES = [
  'planned', 'running', 'pausing', 'paused', 'throttled', 'cancelling', 'cancelled',
  'validating', 'succeeded', 'stopping', 'rolling_back', 'rolled_back', 'failed',
] as const;

export type RunState = (typeof RUN_STATES)[number];

export const TRANSITIONS: Readonly<Record<RunState, readonly RunState[]>> = {
  planned: [
    'running', // shards are planned and enqueued; workers may start
    'failed', // planning failed, or its producer died (no heartbeat); nothing was written
    'cancelled', // an operator cancelled before any shard ran; nothing was written
    'rolling_back', // an operator undoes a run stuck in planning (nothing should be there; proven by the scan)
  ],
  running: [
    'pausing', // an operator asked to pause; in-flight shards still finishing
    'throttled', // the monitor saw lag or load over its threshold and held dispatch
    'cancelling', // an operator cancelled; queued shards are withdrawn
    'validating', // every shard is done; the consistency check runs
    'stopping', // stop-on-error or a threshold breach; dispatch halts before rollback
    'failed', // shards settled with errors and no rollback was asked for
  ],
  pausing: [
    'paused', // no shard of the run is in flight any more (or the grace period was forced)
    'running', // resumed before the pause completed
    'stopping', // an error arrived while pausing
    'cancelling', // cancelled while pausing
  ],
  paused: [
    'running', // an operator resumed
    'cancelling', // an operator cancelled a paused run
    'stopping', // an error that arrived before the pause is acted on
  ],
  throttled: [
    'running', // lag and load fell below the resume thresholds (hysteresis)
    'pausing', // an operator paused a throttled run
    'cancelling', // an operator cancelled a throttled run
    'stopping', // an error arrived while throttled
  ],
  cancelling: [
    'cancelled', // queued jobs withdrawn and in-flight shards settled (or forced after grace)
  ],
  cancelled: [
    'running', // resumed: pending shards are enqueued again (done shards stay done)
    'rolling_back', // an operator undoes what the cancelled run wrote
  ],
  validating: [
    'succeeded', // the report is consistent
    'failed', // the report found missing/extra edges or violations, or validation timed out
    'rolling_back', // an operator undoes a run whose validation is stuck
  ],
  succeeded: [
    'rolling_back', // an operator undoes a finished run
  ],
  stopping: [
    'rolling_back', // in-flight shards settled; the rollback job takes over
    'failed', // stop without rollback (no stop-on-error rollback requested)
  ],
  rolling_back: [
    'rolled_back', // every edge and tombstone of the run is gone, verified by a run_id scan
    'failed', // the rollback itself failed; the run keeps both errors and can be rolled back again
  ],
  rolled_back: [], // terminal: nothing of the run remains
  failed: [
    'rolling_back', // undo a failed run (by hand; a stop with rollback goes stopping -> rolling_back)
    'running', // resume a failed run after the cause is fixed: failed and rolled-back shards are redone
    'planned', // `start --resume`: a run whose planning never finished is planned again
  ],
};

export function canTransition(from: RunState, to: RunState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(runId: string, from: RunState, to: RunState): void {
  if (!canTransition(from, to)) throw new RunStateError(runId, from, to);
}

export function isRunState(v: unknown): v is RunState {
  return typeof v === 'string' && (RUN_STATES as readonly string[]).includes(v);
}

/** Every state with an edge to `to`: the legal `from` states of that transition. */
export function predecessors(to: RunState): RunState[] {
  return RUN_STATES.filter((from) => TRANSITIONS[from].includes(to));
}

// State groups (next to the table so nobody copies a `from:` list).

/** The only state in which workers execute shards. */
export const DISPATCH_STATES = ['running'] as const satisfies readonly RunState[];

/** States in which a shard waits for the run to go on (its job is held, not dropped). */
export const HOLD_STATES = ['planned', 'pausing', 'paused', 'throttled'] as const satisfies readonly RunState[];

/** States the monitor acts on each tick: every state that is not terminal. */
export const WATCHED_STATES = [
  'planned', 'running', 'throttled', 'pausing', 'paused', 'cancelling', 'stopping', 'validating', 'rolling_back',
] as const satisfies readonly RunState[];

/**
 * States in which a rollback of the run has begun: a shard that finds its run here after
 * writing removes what it wrote (the fence). In any other state its writes landed before
 * the rollback began, which then removes them itself; removing them there instead would
 * take away the edges of a shard another worker completed (a stalled writer whose job was
 * taken over and whose run has meanwhile succeeded).
 */
export const ROLLBACK_STATES = ['rolling_back', 'rolled_back'] as const satisfies readonly RunState[];

/** States from which an operator may roll a run back (never while shards may be in flight). */
export const OPERATOR_ROLLBACK_STATES = ['succeeded', 'failed', 'cancelled', 'planned', 'validating'] as const satisfies readonly RunState[];

/** States an operator may resume (`lnm-backfill resume`). */
export const RESUMABLE_STATES = ['paused', 'pausing', 'cancelled', 'failed'] as const satisfies readonly RunState[];

/** States after which nothing more happens without an operator. */
export const TERMINAL_STATES = ['succeeded', 'failed', 'rolled_back', 'cancelled'] as const satisfies readonly RunState[];

export function inGroup(state: RunState, group: readonly RunState[]): boolean {
  return group.includes(state);
}
