/**
 * The evidence bundle of a real run started on an approved dry run (real MongoDB-wire
 * server): every file the runbook asks for, hashes that agree with the run (start and end
 * times, the tool's git commit of this checkout), a run log with the process behind each
 * entry (the in-process run raises no alert, so none is asserted), the preflight's probe
 * record, the freeze-window proof and the run's outbox counts; an event published during the freeze fails the proof;
 * `--verify` passes on the fresh bundle and fails, naming the file, after any single byte
 * of any of its files changes.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importCorpus, validateRun, verifyEvidence, writeEvidence, type EvidenceResult } from '../../api/index.js';
import type { Connections } from '../../core/connections.js';
import type { RunDoc } from '../../core/store/runs.js';
import { approve } from '../../producer/approvals.js';
import { freeze, replayOne } from '../../producer/freeze.js';
import type { ProbeResult } from '../../producer/idempotency-probe.js';
import { preflight } from '../../producer/preflight.js';
import { lastJson, quietLog, runCli } from '../helpers/env.js';
import { dropTransport, retainLinkset, runInProcess, rustsecHead } from '../helpers/events.js';
import { openTransport } from '../../core/events/open.js';
import { useResources } from '../helpers/resources.js';

const LONG = 300_000;
const res = useResources();
const cfg = res.config('evidence');
const scratch = mkdtempSync(path.join(tmpdir(), 'lnm-evidence-'));
let conns: Connections;
let dry: RunDoc;
let real: RunDoc;
let bundle: EvidenceResult;
let imported: Awaited<ReturnType<typeof importCorpus>>;
let probe: ProbeResult;

/** The commit of the checkout the tests run from (a worktree too), null outside one. */
function checkoutCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function flipByte(file: string, at: number): void {
  const b = readFileSync(file);
  b[at] = b[at]! ^ 0x01;
  writeFileSync(file, b);
}

describe('evidence bundle', () => {
  it('a real run on an approved dry run, over a corpus imported with one rejected line', async () => {
    conns = await res.open(cfg);
    const file = await rustsecHead(scratch, 200);
    writeFileSync(file, `${readFileSync(file, 'utf8')}{"not": "an advisory"}\n`);
    imported = await importCorpus(file, { config: cfg, rejectsFile: path.join(scratch, 'rejects.jsonl') });
    expect(Object.values(imported.rejected).reduce((a, b) => a + b, 0)).toBe(1);
    dry = await runInProcess(conns, { dryRun: true, batchSize: 40 });
    await freeze(conns, { by: 'devops', reason: 'evidence test' });
    // Streams that retain both channels, as a deployment's publisher and linkset producer make them.
    const transport = await openTransport(cfg);
    await transport.ensure();
    await transport.close();
    await retainLinkset(cfg);
    probe = (await preflight(conns, {}, quietLog)).probe!;
    expect(probe.ok).toBe(true);
    await approve(conns, { dryRunId: dry._id, role: 'storage', by: 'Alice' }, quietLog);
    await approve(conns, { dryRunId: dry._id, role: 'security', by: 'Bob' }, quietLog);
    real = await runInProcess(conns, { dryRun: false, batchSize: 40 });
    expect(real.state).toBe('succeeded');
  }, LONG);

  it('writes report, evidence, run log, dry-run report, rejects and SHA256SUMS', async () => {
    bundle = await writeEvidence(real._id, { config: cfg, outDir: path.join(scratch, 'bundle'), commandLine: ['lnm-backfill', 'evidence', real._id] });
    const files = bundle.files.map((f) => f.file);
    expect(files).toEqual(['dry-runs/' + dry._id + '.report.json', 'evidence.json', 'idempotency-probe.json', expect.stringMatching(/^rejects\/import-.*\.rejects\.jsonl$/), 'report.json', 'run-log.jsonl']);
    const ev = JSON.parse(readFileSync(path.join(bundle.folder, 'evidence.json'), 'utf8'));
    expect(ev).toMatchObject({
      run_id: real._id,
      command_line: ['test'],
      args: real.args,
      corpus_sha256: real.snapshot!.corpus_sha256,
      report_sha256: bundle.report_sha256,
      run_report_sha256: real.report!.sha256,
      report_ok: true,
      idempotency_violations: 0,
      errors: 0,
      shards: { planned: real.shards_total, done: real.shards_total, failed: 0 },
      tool: { name: 'lnm-backfill', version: expect.stringMatching(/^\d+\.\d+\.\d+/) },
      evidence: { command_line: ['lnm-backfill', 'evidence', real._id] },
    });
    const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
    expect(ev.started_at).toMatch(iso);
    expect(ev.finished_at).toMatch(iso);
    expect([ev.started_at, ev.finished_at]).toEqual([real.started_at!.toISOString(), real.finished_at!.toISOString()]);
    expect(ev.started_at <= ev.finished_at).toBe(true);
    const commit = checkoutCommit();
    expect(ev.tool.git_commit).toBe(commit);
    if (commit !== null) expect(commit).toMatch(/^[0-9a-f]{40}$/);
    expect(ev.report_sha256).toBe(real.report!.sha256); // nothing changed since the run's own validation
    expect(ev.dry_runs).toEqual([expect.objectContaining({ run_id: dry._id, approvals: [expect.objectContaining({ role: 'storage', by: 'Alice' }), expect.objectContaining({ role: 'security', by: 'Bob' })] })]);
    expect(ev.imports).toHaveLength(1);
    expect(ev.imports[0]).toMatchObject({ accepted: imported.accepted, rejects_file: path.join(scratch, 'rejects.jsonl'), rejects_missing: false });
    const log = readFileSync(path.join(bundle.folder, 'run-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const times = log.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => a - b)); // oldest first
    const shardEntries = log.filter((e) => e.kind === 'shard');
    expect(new Set(shardEntries.map((e) => e.shard)).size).toBe(real.shards_total);
    expect(shardEntries.every((e) => e.outcome === 'done' && e.attempt === 1 && /^.+:\d+$/.test(e.by))).toBe(true);
    expect(log.filter((e) => e.kind === 'transition').map((e) => e.to)).toEqual(real.history.map((h) => h.to));
    const dryReport = JSON.parse(readFileSync(path.join(bundle.folder, 'dry-runs', `${dry._id}.report.json`), 'utf8'));
    expect(dryReport).toMatchObject({ kind: 'dry-run', corpus_sha256: dry.snapshot!.corpus_sha256, would_insert: { edges: real.counters!.edges_inserted } });
    expect(dryReport).toMatchObject({ violations: 0, violations_by_reason: { content_differs: 0, newer_raw_id_collision: 0, older_raw_id_collision: 0, unique_index_collision: 0 }, violation_sample: [] });
    expect(await verifyEvidence(bundle.folder)).toMatchObject({ ok: true, problems: [], files_checked: 6 });
  }, LONG);

  it('carries the preflight probe (its file hashes to the log hash), the freeze-window proof and the outbox counts', async () => {
    const ev = JSON.parse(readFileSync(path.join(bundle.folder, 'evidence.json'), 'utf8'));
    expect(ev.preflight).toMatchObject({ ok: expect.any(Boolean), idempotency_index_verified: true, probe_log_sha256: probe.sha256, probe_file: 'idempotency-probe.json' });
    expect(bundle.files.find((f) => f.file === 'idempotency-probe.json')?.sha256).toBe(probe.sha256);
    expect(ev.freeze_window).toMatchObject({ status: 'passed', ok: true, window: { open: true, frozen_by: 'devops' } });
    // Frozen and no publisher: every row of the run waits for the unfreeze.
    const rows = await conns.db.collection('advisory_observation_events').countDocuments({ run_id: real._id });
    expect(rows).toBeGreaterThan(0);
    expect(ev.outbox).toEqual({ rows, pending: rows, published_to_stream: 0, published_to_blackhole: 0, dead_lettered: 0 });
  }, LONG);

  it('an event published during the run\'s freeze fails the freeze-window proof: validate exits 1 naming it', async () => {
    const replay = await replayOne(conns);
    const v = await validateRun(real._id, { config: cfg });
    expect(v.report.ok).toBe(true);
    expect(v.freeze_window).toMatchObject({ status: 'failed', ok: false });
    expect(v.freeze_window.channels[0]).toMatchObject({ channel: 'observation', count: 1, sample: [replay.event_id] });
    const cli = await runCli(cfg, ['validate', real._id, '--json']);
    expect(cli.code).toBe(1);
    expect(lastJson<{ ok: boolean; failing_checks: string[] }>(cli.stdout)).toMatchObject({ ok: false, failing_checks: ['freeze_window'] });
    // Without streams nothing can be ruled out: unverified, not passed.
    await dropTransport(cfg);
    const gone = await validateRun(real._id, { config: cfg });
    expect(gone.freeze_window).toMatchObject({ status: 'unverified', ok: false, reason: expect.stringContaining('no stream retains') });
  }, LONG);

  it('verify fails after any single byte of any file changes, naming that file', async () => {
    const names = [...bundle.files.map((f) => f.file), 'SHA256SUMS'];
    let checked = 0;
    for (const name of names) {
      const size = readFileSync(path.join(bundle.folder, name)).length;
      for (const at of [0, Math.floor(size / 2), size - 1]) {
        const copy = path.join(scratch, `tamper-${checked++}`);
        cpSync(bundle.folder, copy, { recursive: true });
        flipByte(path.join(copy, name), at);
        const v = await verifyEvidence(copy);
        expect(v.ok, `${name}@${at}`).toBe(false);
        // A changed sum in SHA256SUMS shows as a mismatch of the file it lists: "differs from SHA256SUMS".
        expect(v.problems.map((p) => `${p.file}: ${p.problem}`).join('\n'), `${name}@${at}`).toContain(name);
        rmSync(copy, { recursive: true });
      }
    }
    expect(checked).toBe(names.length * 3);
    // An added file, and a removed one, are named too.
    const copy = path.join(scratch, 'tamper-add');
    cpSync(bundle.folder, copy, { recursive: true });
    writeFileSync(path.join(copy, 'extra.txt'), 'x');
    rmSync(path.join(copy, 'run-log.jsonl'));
    expect((await verifyEvidence(copy)).problems.map((p) => p.file).sort()).toEqual(['extra.txt', 'run-log.jsonl']);
  }, LONG);

  it('the CLI writes under LNM_ARTIFACTS_DIR/aoc-supersedes/<UTC timestamp>/ and --verify exits 1 naming the file', async () => {
    const artifacts = path.join(scratch, 'artifacts');
    const w = await runCli(cfg, ['evidence', 'latest', '--json'], { LNM_ARTIFACTS_DIR: artifacts });
    expect(w.code, w.stderr).toBe(0);
    const r = lastJson<{ folder: string; run_id: string; report_sha256: string }>(w.stdout);
    expect(r.run_id).toBe(real._id);
    expect(readdirSync(path.join(artifacts, 'aoc-supersedes'))).toEqual([expect.stringMatching(/^\d{8}T\d{6}Z$/)]);
    expect(path.dirname(r.folder)).toBe(path.join(artifacts, 'aoc-supersedes'));
    expect(r.report_sha256).toBe(bundle.report_sha256);
    const ok = await runCli(cfg, ['evidence', '--verify', r.folder]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    flipByte(path.join(r.folder, 'report.json'), 10);
    const bad = await runCli(cfg, ['evidence', '--verify', r.folder]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/report\.json: sha256 [0-9a-f]{64} differs from SHA256SUMS/);
    expect(bad.stdout).toMatch(/report\.json: sha256 [0-9a-f]{64} differs from the report hash/);
  }, LONG);

  it('a forced run carries the dry run of the same plan it followed (no approvals), not another plan\'s', async () => {
    // Another batch size is another plan: no approval holds it, so the real run is forced.
    const other = await runInProcess(conns, { dryRun: true, batchSize: 30 });
    const samePlan = await runInProcess(conns, { dryRun: true, batchSize: 50 });
    const forced = await runInProcess(conns, { dryRun: false, batchSize: 50, force: { reason: 'evidence of a forced run' } });
    expect(forced.start_gate?.approvals).toEqual([]);
    const b = await writeEvidence(forced._id, { config: cfg, outDir: path.join(scratch, 'forced') });
    const ev = JSON.parse(readFileSync(path.join(b.folder, 'evidence.json'), 'utf8'));
    expect(ev.dry_runs).toEqual([expect.objectContaining({ run_id: samePlan._id, approvals: [], report_file: `dry-runs/${samePlan._id}.report.json` })]);
    expect(b.files.map((f) => f.file)).toContain(`dry-runs/${samePlan._id}.report.json`);
    expect(b.files.map((f) => f.file)).not.toContain(`dry-runs/${other._id}.report.json`);
    rmSync(scratch, { recursive: true, force: true });
    await res.close(conns);
  }, LONG);

  res.leakCheck();
});
