import { describe, expect, it } from 'vitest';
import { RunStateError } from '../../core/errors.js';
import {
  assertTransition,
  canTransition,
  DISPATCH_STATES,
  HOLD_STATES,
  isRunState,
  predecessors,
  RESUMABLE_STATES,
  RUN_STATES,
  TERMINAL_STATES,
  WATCHED_STATES,
  TRANSITIONS,
  type RunState,
} from '../../core/store/run-status.js';

function assertPath(path: RunState[]): void {
  for (let i = 1; i < path.length; i++) {
    expect(canTransition(path[i - 1]!, path[i]!), `${path[i - 1]} -> ${path[i]}`).toBe(true);
    expect(() => assertTransition('run-x', path[i - 1]!, path[i]!)).not.toThrow();
  }
}

function thrown(fn: () => void): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('run-status transition table', () => {
  it('lists every state exactly once, and every target is a known state', () => {
    expect(new Set(RUN_STATES).size).toBe(RUN_STATES.length);
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...RUN_STATES].sort());
    for (const [from, targets] of Object.entries(TRANSITIONS)) {
      for (const to of targets) expect(isRunState(to), `${from} -> ${to}`).toBe(true);
      expect(new Set(targets).size, `${from} has duplicate targets`).toBe(targets.length);
      expect(targets, `${from} may not loop onto itself`).not.toContain(from);
    }
    expect(isRunState('nope')).toBe(false);
    expect(isRunState(undefined)).toBe(false);
  });

  it('every state but planned is reachable from planned', () => {
    const seen = new Set<RunState>(['planned']);
    const todo: RunState[] = ['planned'];
    while (todo.length > 0) {
      for (const to of TRANSITIONS[todo.pop()!]) if (!seen.has(to)) (seen.add(to), todo.push(to));
    }
    expect([...seen].sort()).toEqual([...RUN_STATES].sort());
  });

  it.each([
    ['rolled_back', 'running'],
    ['succeeded', 'running'],
    ['planned', 'succeeded'],
    ['running', 'rolled_back'],
    ['running', 'rolling_back'],
    ['cancelling', 'running'],
    ['stopping', 'running'],
    ['validating', 'running'],
    ['paused', 'paused'],
  ] as Array<[RunState, RunState]>)('illegal %s -> %s throws RunStateError ERR_RUN_STATE', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    const err = thrown(() => assertTransition('run-20260101T000000Z-abcdef', from, to));
    expect(err).toBeInstanceOf(RunStateError);
    const e = err as RunStateError;
    expect(e.code).toBe('ERR_RUN_STATE');
    expect(e.message).toContain(`${from} -> ${to}`);
    expect(e.details).toEqual({ from, to });
    expect(e.path).toBe('backfill_runs/run-20260101T000000Z-abcdef/state');
  });

  it.each([
    [['planned', 'running', 'validating', 'succeeded']],
    [['running', 'stopping', 'rolling_back', 'rolled_back']],
    [['running', 'pausing', 'paused', 'running']],
    [['running', 'throttled', 'running']],
    [['running', 'cancelling', 'cancelled', 'running']],
    [['rolling_back', 'failed', 'rolling_back']],
    [['succeeded', 'rolling_back', 'rolled_back']],
    [['throttled', 'stopping', 'rolling_back']],
    [['paused', 'cancelling', 'cancelled', 'rolling_back']],
  ] as Array<[RunState[]]>)('documented flow %j is a legal path', (path) => {
    assertPath(path);
  });

  it('rolled_back is terminal: no way out', () => {
    expect(TRANSITIONS.rolled_back).toEqual([]);
    for (const to of RUN_STATES) {
      expect(canTransition('rolled_back', to)).toBe(false);
      expect(() => assertTransition('r', 'rolled_back', to)).toThrow(RunStateError);
    }
    expect(TERMINAL_STATES).toContain('rolled_back');
  });

  it('every state that may need undoing after writes can reach rolled_back', () => {
    const reaches = (from: RunState): boolean => {
      const seen = new Set<RunState>([from]);
      const todo = [from];
      while (todo.length > 0) {
        for (const to of TRANSITIONS[todo.pop()!]) {
          if (to === 'rolled_back') return true;
          if (!seen.has(to)) (seen.add(to), todo.push(to));
        }
      }
      return false;
    };
    for (const s of RUN_STATES.filter((x) => x !== 'rolled_back')) expect(reaches(s), s).toBe(true);
  });
});

describe('state groups and predecessors', () => {
  it('predecessors(to) are exactly the states with an edge to it', () => {
    expect(predecessors('pausing').sort()).toEqual(['running', 'throttled']);
    expect(predecessors('cancelling').sort()).toEqual(['paused', 'pausing', 'running', 'throttled']);
    for (const to of RUN_STATES) {
      for (const from of RUN_STATES) expect(predecessors(to).includes(from), `${from} -> ${to}`).toBe(canTransition(from, to));
    }
  });

  it('groups hold known states and agree with the table', () => {
    for (const g of [DISPATCH_STATES, HOLD_STATES, WATCHED_STATES, RESUMABLE_STATES, TERMINAL_STATES]) {
      for (const s of g) expect(isRunState(s)).toBe(true);
    }
    // A resumable state can move to running; a held run can be dispatched again.
    for (const s of RESUMABLE_STATES) expect(canTransition(s, 'running'), s).toBe(true);
    for (const s of HOLD_STATES.filter((x) => x !== 'pausing')) expect(canTransition(s, 'running'), s).toBe(true);
    // Dispatching and holding never overlap; nothing terminal is watched.
    expect(DISPATCH_STATES.filter((s) => (HOLD_STATES as readonly string[]).includes(s))).toEqual([]);
    expect(WATCHED_STATES.filter((s) => (TERMINAL_STATES as readonly string[]).includes(s))).toEqual([]);
  });
});
