/**
 * Tenant scope rules shared by the AOC guard, the producer and the CLI.
 *
 * `|` separates the fields of raw ids (`sha256(tenant|vendor|upstream_id|hash)`), edge
 * ids and lines (`tenant|vendor|upstream_id|older|newer`) and bundle lines. A tenant or
 * vendor may not contain it (ERR_AOC_011), so every such line splits unambiguously: the
 * first two fields are tenant and vendor, the last one or two are fixed-format hashes, and
 * upstream_id (which may contain `|`) is what lies between.
 *
 * Already-imported ids stay what they were: the raw `_id` formula did not change, so every
 * stored document whose tenant and vendor hold no `|` keeps its `_id` and a re-import still
 * collides on it. A document stored earlier with `|` in its tenant or vendor is still read
 * and backfilled by an all-tenant run (raw ids are never recomputed: manifests carry the
 * stored `_id`), but its line can no longer be imported again and `--tenant` cannot name it.
 */
import { ConfigError } from './errors.js';

export const KEY_SEPARATOR = '|';

/**
 * The `--tenant` option: absent = every tenant (null). An empty or blank value (an unset
 * shell variable: `--tenant=$TENANT`) is an error, never "all tenants".
 */
export function parseTenantOption(value: string | null | undefined, option = '--tenant'): string | null {
  if (value === undefined || value === null) return null;
  if (value.trim() === '') {
    throw new ConfigError(option, 'is empty (an unset variable?); omit the option to run over every tenant');
  }
  if (value.includes(KEY_SEPARATOR)) throw new ConfigError(option, `"${value}" contains "${KEY_SEPARATOR}", which no tenant can contain`);
  return value;
}
