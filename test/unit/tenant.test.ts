import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.js';
import { scopeFilter } from '../../core/store/corpus-scan.js';
import { parseTenantOption } from '../../core/tenant.js';

describe('parseTenantOption (--tenant)', () => {
  it('absent means every tenant; a name is kept as given', () => {
    expect(parseTenantOption(undefined)).toBeNull();
    expect(parseTenantOption(null)).toBeNull();
    expect(parseTenantOption('acme')).toBe('acme');
    expect(parseTenantOption('acme:eu')).toBe('acme:eu');
  });

  it.each([[''], ['   '], ['\t']])('refuses the empty/blank value %j (an unset shell variable) with ERR_CONFIG', (value) => {
    expect(() => parseTenantOption(value)).toThrow(ConfigError);
    expect(() => parseTenantOption(value)).toThrow(/--tenant: is empty/);
  });

  it("refuses '|', which no tenant can contain", () => {
    expect(() => parseTenantOption('a|b')).toThrow(/--tenant: "a\|b" contains "\|"/);
  });
});

describe('scopeFilter', () => {
  const snapshot_bound = new Date('2024-01-01T00:00:00Z');

  it('null tenant = every tenant; any string = exactly that tenant (an empty one matches nothing, never all)', () => {
    expect(scopeFilter({ snapshot_bound, tenant: null })).toEqual({ ingested_at: { $lte: snapshot_bound } });
    expect(scopeFilter({ snapshot_bound, tenant: 'acme' })).toEqual({ ingested_at: { $lte: snapshot_bound }, tenant: 'acme' });
    expect(scopeFilter({ snapshot_bound, tenant: '' })).toEqual({ ingested_at: { $lte: snapshot_bound }, tenant: '' });
  });
});
