/**
 * The CLI's usage rules, from the command table alone (no services): each command accepts
 * only the options it declares, a wrong line is a UsageError (exit 2) carrying the usage
 * of that command (or the list of commands), and `--help` is that command's usage.
 */
import { describe, expect, it } from 'vitest';
import { errorSummary, exitCodeFor, UsageError } from '../../core/errors.js';
import { usage, usageLine } from '../../bin/cli/command.js';
import { COMMANDS, findCommand, parseCommandLine } from '../../bin/cli/table.js';

function command(name: string) {
  const c = findCommand(name);
  if (!c) throw new Error(`no command ${name} in the table`);
  return c;
}

/** The UsageError a command line throws (fails the test when it parses). */
function usageErrorOf(argv: string[]): UsageError {
  let parsed: unknown;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error(`${argv.join(' ')} parsed: ${JSON.stringify(parsed)}`);
}

describe('command line', () => {
  it('start --docs 5: an option start does not declare is a usage error (exit 2) with the start usage', () => {
    const err = usageErrorOf(['start', '--docs', '5']);
    expect(exitCodeFor(err)).toBe(2);
    expect(errorSummary(err).code).toBe('ERR_USAGE');
    expect(err.message).toMatch(/^start: .*--docs/);
    expect(err.usage).toBe(usage(command('start')));
    expect(err.usage).toContain(`usage: ${usageLine(command('start'))}`);
  });

  it('--docs is accepted where it is declared (demo, seed)', () => {
    const line = parseCommandLine(['demo', '--docs', '5']);
    expect(line.kind === 'run' && line.options.docs).toBe(5);
  });

  it('start --help is the start usage, not a run', () => {
    const line = parseCommandLine(['start', '--help']);
    expect(line.kind).toBe('help');
    expect(line.kind === 'help' && line.text).toBe(usage(command('start')));
    expect(usage(command('start'))).toMatch(/^usage: lnm-backfill start \[--dry-run\]/);
  });

  it('status --force is a usage error with the status usage, though pause takes --force', () => {
    const err = usageErrorOf(['status', 'latest', '--force']);
    expect(exitCodeFor(err)).toBe(2);
    expect(err.message).toMatch(/^status: .*--force/);
    expect(err.usage).toBe(usage(command('status')));
    const pause = parseCommandLine(['pause', 'latest', '--force']);
    expect(pause.kind === 'run' && pause.options.force).toBe(true);
  });

  it('an unknown command is a usage error listing every command', () => {
    const err = usageErrorOf(['frobnicate', '--json']);
    expect(exitCodeFor(err)).toBe(2);
    expect(err.message).toBe('unknown command "frobnicate"');
    for (const c of COMMANDS) expect(err.usage).toMatch(new RegExp(`^  ${c.name} +${c.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  });

  it('no command prints the list and exits 2; --help prints it and exits 0', () => {
    const none = parseCommandLine([]);
    expect(none.kind === 'usage' && none.exitCode).toBe(2);
    const help = parseCommandLine(['--help']);
    expect(help.kind === 'usage' && help.exitCode).toBe(0);
  });

  it('arguments are counted and integer options checked against the command', () => {
    expect(usageErrorOf(['status']).message).toMatch(/^status: expected run, got 0 argument/);
    expect(usageErrorOf(['status', 'a', 'b']).usage).toBe(usage(command('status')));
    expect(usageErrorOf(['start', '--batch-size=0']).message).toMatch(/--batch-size expects an integer >= 1, got "0"/);
    const ok = parseCommandLine(['start', '--batch-size=500', '--dry-run']);
    expect(ok.kind === 'run' && ok.options).toMatchObject({ 'batch-size': 500, 'dry-run': true });
  });
});
