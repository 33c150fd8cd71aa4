/** config: the effective configuration (credentials redacted), or the reference of every variable. */
import { configReference, renderConfigReference } from '../../core/config.js';
import { REDACTED, redactText } from '../../core/redact.js';
import type { Command } from '../cli/command.js';

const CREDENTIAL_KEYS = new Set(['token', 'basicAuth']);

export const config: Command = {
  name: 'config',
  summary: 'the effective configuration from the environment (credentials redacted); --reference lists every variable',
  positionals: [],
  options: { reference: { type: 'boolean', description: 'every variable with its default, what it accepts and its meaning (the README table)' } },
  migrated: false,
  async run(ctx) {
    if (ctx.options.reference) return { exitCode: 0, result: configReference(), text: renderConfigReference() };
    // The monitor's access credentials are plain values, not URLs: blank them by name.
    const hideCredentials = (key: string, value: unknown) => (CREDENTIAL_KEYS.has(key) && value ? REDACTED : value);
    const effective = JSON.parse(redactText(JSON.stringify(ctx.cfg, hideCredentials))) as unknown;
    return { exitCode: 0, result: effective };
  },
};
