/** The command table: every CLI command, in the order the usage lists them. */
import { UsageError } from '../../core/errors.js';
import { parseCommandArgs, usage, type Command, type OptionValues } from './command.js';
import { importCmd, seed, services } from '../commands/data.js';
import { start, status, validate } from '../commands/run.js';
import { monitor, worker } from '../commands/roles.js';
import { cancel, pause, resume, rollback } from '../commands/control.js';
import { demo } from '../commands/demo.js';
import { approve, freeze, migrate, preflight, publisher, unfreeze } from '../commands/operations.js';
import { config } from '../commands/config.js';
import { evidence, kit } from '../commands/evidence.js';
import { restore, snapshot } from '../commands/snapshot.js';

export const COMMANDS: readonly Command[] = [
  services, config, migrate, kit, preflight, importCmd, seed, freeze, start, approve, worker, monitor, publisher, status, pause, resume, cancel, validate, evidence, snapshot, rollback, restore, unfreeze, demo,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export function globalUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: lnm-backfill <command> [options]        (lnm-backfill <command> --help for its options)',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Configuration comes from the environment (MONGO_URL, REDIS_URL, LNM_DB, LNM_QUEUE_PREFIX, ...; see README).',
    'On a terminal, JSON logs go to .lnm/logs/lnm-backfill.log (--verbose: stderr); elsewhere to stderr.',
  ].join('\n');
}

/** What a command line asks for: the global usage, one command's usage, or a command to run. */
export type CommandLine =
  | { kind: 'usage'; text: string; exitCode: number }
  | { kind: 'help'; command: Command; text: string }
  | { kind: 'run'; command: Command; args: string[]; options: OptionValues };

/** Parse a whole command line against the table; a line that fits no command is a UsageError. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    return { kind: 'usage', text: globalUsage(), exitCode: name === undefined ? 2 : 0 };
  }
  const command = findCommand(name);
  if (!command) throw new UsageError(`unknown command "${name}"`, globalUsage());
  const { args, options } = parseCommandArgs(command, rest);
  if (options.help) return { kind: 'help', command, text: usage(command) };
  return { kind: 'run', command, args, options };
}
