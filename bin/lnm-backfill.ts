#!/usr/bin/env node
/**
 * lnm-backfill: parse the command line against the command table, run the command over
 * the public API, print its result (text, or one JSON line with --json) on stdout.
 * On a terminal, JSON logs go to a file and errors are one readable line; elsewhere the
 * JSON logs stay on stderr.
 */
import { loadConfig } from '../core/config.js';
import { createLogger, logFilePath, type Logger } from '../core/logger.js';
import { errorSummary, exitCodeFor, UsageError } from '../core/errors.js';
import { flagOf, type CommandResult } from './cli/command.js';
import { parseCommandLine } from './cli/table.js';
import { requireMigrated } from '../api/index.js';

function print(r: CommandResult, json: boolean): void {
  if (r.result === undefined) return;
  process.stdout.write(`${json || r.text === undefined ? JSON.stringify(r.result, null, json ? 0 : 2) : r.text}\n`);
}

function fail(err: unknown, log: Logger | undefined, logFile: string | undefined): number {
  const s = errorSummary(err);
  log?.error({ err }, 'command failed');
  process.stderr.write(`lnm-backfill: ${s.code}: ${s.message}\n`);
  if (err instanceof UsageError) process.stderr.write(`\n${err.usage}\n`);
  else if (logFile && s.code === 'ERR_INTERNAL') process.stderr.write(`(details in ${logFile})\n`);
  return exitCodeFor(err);
}

async function main(argv: string[]): Promise<number> {
  let log: Logger | undefined;
  let logFile: string | undefined;
  try {
    const line = parseCommandLine(argv);
    if (line.kind !== 'run') {
      process.stdout.write(`${line.text}\n`);
      return line.kind === 'usage' ? line.exitCode : 0;
    }
    const { command, args, options } = line;
    const cfg = loadConfig();
    const tty = process.stderr.isTTY === true;
    logFile = tty && options.verbose !== true ? logFilePath(cfg) : undefined;
    log = createLogger(cfg, {}, logFile);
    if (flagOf(command.migrated, options, true)) await requireMigrated({ config: cfg, log });
    if (logFile && flagOf(command.longRunning, options, false)) process.stderr.write(`logs: ${logFile}\n`);
    const result = await command.run({ cfg, log, args, options, argv: ['lnm-backfill', ...argv], tty, logFile });
    print(result, options.json === true);
    return result.exitCode;
  } catch (err) {
    return fail(err, log, logFile);
  }
}

process.exitCode = await main(process.argv.slice(2));
