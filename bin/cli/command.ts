/**
 * The shape of a CLI command: its own positionals and options (nothing else is accepted),
 * a usage text built from them, and a handler that returns `{ exitCode, result }` for one
 * printer to render as text or `--json`.
 */
import { parseArgs } from 'node:util';
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { UsageError } from '../../core/errors.js';

export type OptionType = 'boolean' | 'string' | 'integer';

export interface OptionSpec {
  type: OptionType;
  description: string;
  /** Shown in the usage, e.g. `--batch-size=N`. */
  value?: string;
  /** Smallest accepted value of an integer option. */
  min?: number;
}

export interface PositionalSpec {
  name: string;
  description: string;
  optional?: boolean;
  /** When set, the positional must be one of these words. */
  choices?: readonly string[];
}

export type OptionValues = Record<string, string | number | boolean | undefined>;

export interface CommandContext {
  cfg: Config;
  log: Logger;
  args: string[];
  options: OptionValues;
  /** The whole command line as typed, for the run record. */
  argv: string[];
  /** True when a person reads stderr (progress bar rather than lines). */
  tty: boolean;
  /** Where JSON logs go when not stderr (shown once); undefined = stderr. */
  logFile: string | undefined;
}

export interface CommandResult {
  exitCode: number;
  /** Printed as one JSON line with `--json`. */
  result: unknown;
  /** Printed instead of the JSON without `--json`; defaults to indented JSON. */
  text?: string;
}

export interface Command {
  name: string;
  summary: string;
  positionals: readonly PositionalSpec[];
  options: Readonly<Record<string, OptionSpec>>;
  /** Extra lines at the end of the usage. */
  notes?: readonly string[];
  /**
   * Whether the database must be migrated before the command runs (default true); a
   * function decides from the parsed options (e.g. `seed --out` touches no database).
   */
  migrated?: boolean | ((options: OptionValues) => boolean);
  /**
   * Whether the command keeps running (a role, a followed run, a live view; default false);
   * on a terminal such a command prints where its JSON logs go once, as it starts.
   */
  longRunning?: boolean | ((options: OptionValues) => boolean);
  run(ctx: CommandContext): Promise<CommandResult>;
}

/** A command's flag that may depend on its parsed options (`migrated`, `longRunning`). */
export function flagOf(flag: boolean | ((options: OptionValues) => boolean) | undefined, options: OptionValues, fallback: boolean): boolean {
  return typeof flag === 'function' ? flag(options) : flag ?? fallback;
}

/** Options every command accepts. */
export const COMMON_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  json: { type: 'boolean', description: 'print the result as one JSON line' },
  verbose: { type: 'boolean', description: 'JSON logs on stderr even on a terminal' },
  help: { type: 'boolean', description: 'print this usage' },
};

function optionSynopsis(name: string, o: OptionSpec): string {
  return o.type === 'boolean' ? `--${name}` : `--${name}=${o.value ?? 'X'}`;
}

export function usageLine(c: Command): string {
  const pos = c.positionals.map((p) => {
    const word = p.choices ? p.choices.join('|') : `<${p.name}>`;
    return p.optional ? `[${word}]` : word;
  });
  const opts = Object.entries(c.options).map(([n, o]) => `[${optionSynopsis(n, o)}]`);
  return ['lnm-backfill', c.name, ...pos, ...opts, '[--json]'].join(' ');
}

export function usage(c: Command): string {
  const rows: Array<[string, string]> = [
    ...c.positionals.map((p): [string, string] => [p.choices ? p.choices.join('|') : `<${p.name}>`, p.description]),
    ...Object.entries({ ...c.options, ...COMMON_OPTIONS }).map(([n, o]): [string, string] => [optionSynopsis(n, o), o.description]),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return [
    `usage: ${usageLine(c)}`,
    '',
    `  ${c.summary}`,
    '',
    ...rows.map(([k, d]) => `  ${k.padEnd(width)}  ${d}`),
    ...(c.notes?.length ? ['', ...c.notes.map((n) => `  ${n}`)] : []),
  ].join('\n');
}

/** Parse a command's arguments; anything it does not declare is a UsageError carrying its usage. */
export function parseCommandArgs(c: Command, argv: string[]): { args: string[]; options: OptionValues } {
  const all = { ...c.options, ...COMMON_OPTIONS };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(Object.entries(all).map(([n, o]) => [n, { type: o.type === 'boolean' ? 'boolean' : 'string' }] as const)),
    });
  } catch (err) {
    throw new UsageError(`${c.name}: ${(err as Error).message.replace(/\. To specify a positional.*$/s, '')}`, usage(c));
  }
  const options: OptionValues = {};
  for (const [name, spec] of Object.entries(all)) {
    const v = parsed.values[name];
    if (v === undefined) continue;
    if (spec.type !== 'integer') {
      options[name] = v;
      continue;
    }
    const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
    const min = spec.min ?? 1;
    if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${c.name}: --${name} expects an integer >= ${min}, got "${String(v)}"`, usage(c));
    options[name] = n;
  }
  const args = parsed.positionals;
  if (options.help) return { args, options };
  const required = c.positionals.filter((p) => !p.optional).length;
  if (args.length < required || args.length > c.positionals.length) {
    throw new UsageError(`${c.name}: expected ${c.positionals.map((p) => p.name).join(', ') || 'no arguments'}, got ${args.length} argument(s)`, usage(c));
  }
  c.positionals.forEach((p, i) => {
    const a = args[i];
    if (a !== undefined && p.choices && !p.choices.includes(a)) {
      throw new UsageError(`${c.name}: ${p.name} must be one of ${p.choices.join(', ')}, got "${a}"`, usage(c));
    }
  });
  return { args, options };
}
