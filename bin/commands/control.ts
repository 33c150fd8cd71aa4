/** pause, resume, cancel, rollback: operator actions on a run. */
import { cancelRun, pauseRun, resumeRun, rollbackRun, type ControlResult } from '../../api/index.js';
import type { Command, CommandContext } from '../cli/command.js';

const RUN = [{ name: 'run', description: 'run id, or latest (the newest run)' }] as const;
const FORCE = { force: { type: 'boolean', description: 'settle a stuck pausing/cancelling after the grace period (LNM_PAUSE_GRACE_MS)' } } as const;

function control(name: string, summary: string, act: (ctx: CommandContext) => Promise<ControlResult>, withForce: boolean): Command {
  return {
    name,
    summary,
    positionals: RUN,
    options: withForce ? FORCE : {},
    async run(ctx) {
      const r = await act(ctx);
      return { exitCode: 0, result: r, text: `run ${r.run_id}: ${r.state}${r.reason ? ` (${r.reason})` : ''}` };
    },
  };
}

const opts = (ctx: CommandContext) => ({ config: ctx.cfg, log: ctx.log, force: ctx.options.force === true });

export const pause = control('pause', 'hold the run: queued shards wait, in-flight shards finish', (ctx) => pauseRun(ctx.args[0]!, opts(ctx)), true);
export const resume = control('resume', 'resume a paused, cancelled or failed run (pending and failed shards are queued again)', (ctx) => resumeRun(ctx.args[0]!, opts(ctx)), false);
export const cancel = control('cancel', 'withdraw the queued shards of a run; done shards stay done', (ctx) => cancelRun(ctx.args[0]!, opts(ctx)), true);

export const rollback: Command = {
  name: 'rollback',
  summary: 'remove exactly what the run wrote; verifies nothing of it remains',
  positionals: RUN,
  options: {},
  async run(ctx) {
    const r = await rollbackRun(ctx.args[0]!, { config: ctx.cfg, log: ctx.log });
    return { exitCode: 0, result: r, text: `run ${r.run_id} rolled back: ${r.edges_removed} edges, ${r.tombstones_removed} tombstones removed, ${r.remaining} remaining` };
  },
};
