import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeployError } from '../../source/errors.js';
import { appendAudit, auditLine, isMalformedAuditLine, maxAuditLineBytes, readAudit } from '../../source/host/audit.js';
import type { AuditRecord } from '../../source/run/audit-record.js';
import { hostNow } from '../../source/host/host-clock.js';
import { hostLayout, type HostLayout } from '../../source/host/layout.js';
import { acquireLock, breakLock, readLock, refreshLock, releaseLock, type LockRequest } from '../../source/host/lock.js';
import { heartbeatStaleSeconds, localMachine } from '../../source/host/lock-status.js';
import { planPrune, prune, readPruneCandidates } from '../../source/host/prune.js';
import { listReleases, markFailed, readReleaseContract, recordContract } from '../../source/host/releases.js';
import { contractFormat, type Contract } from '../../source/contract/contract.js';
import { readCurrent, readState, recordActive, switchCurrent, type HostState } from '../../source/host/state.js';
import { LocalTransport } from '../../source/remote/local-transport.js';

const transport = new LocalTransport();
let base: string;
let root: string;
let layout: HostLayout;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'mcp-deploy-host-'));
  root = join(base, 'app');
  await mkdir(root);
  layout = hostLayout(root);
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function caught(promise: Promise<unknown>): Promise<DeployError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DeployError) return error;
    throw error;
  }
  throw new Error('expected a DeployError, but it resolved');
}

/** A pid that was in use a moment ago and is not now: a child we started and reaped. */
async function deadPid(): Promise<number> {
  const child = spawn('true', { stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start `true`');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('`true` did not exit within 10s')), 10_000);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return pid;
}

async function makeRelease(
  id: string,
  files: { release?: unknown; failed?: unknown; tools?: unknown; raw?: Record<string, string> } = {},
): Promise<void> {
  const dir = join(root, 'releases', id);
  await mkdir(join(dir, '.mcp-deploy'), { recursive: true });
  await writeFile(join(dir, 'server.py'), `print("${id}")\n`);
  if (files.release !== undefined) await writeFile(join(dir, '.mcp-deploy', 'release.json'), JSON.stringify(files.release));
  if (files.failed !== undefined) await writeFile(join(dir, '.mcp-deploy', 'failed.json'), JSON.stringify(files.failed));
  if (files.tools !== undefined) await writeFile(join(dir, '.mcp-deploy', 'tools.json'), JSON.stringify(files.tools));
  for (const [name, text] of Object.entries(files.raw ?? {})) await writeFile(join(dir, '.mcp-deploy', name), text);
}

function meta(id: string, createdAt: string, requirementsHash: string | null = null) {
  return { id, createdAt, gitSha: 'abc1234', operator: 'ana', requirementsHash, files: 1, bytes: 20 };
}

describe('host clock', () => {
  it('reads the host time once and formats the stamp from it', async () => {
    const before = Math.floor(Date.now() / 1000);
    const now = await hostNow(transport);
    expect(now.epochSeconds).toBeGreaterThanOrEqual(before - 1);
    expect(now.epochSeconds).toBeLessThanOrEqual(before + 5);
    expect(now.stamp).toMatch(/^\d{8}T\d{6}Z$/);
    expect(now.iso.replace(/[-:]/g, '')).toBe(now.stamp);
  });
});

describe('lock', () => {
  const request = (overrides: Partial<LockRequest> = {}): LockRequest => ({
    target: 'production',
    operator: 'ana',
    localHost: hostname(),
    pid: process.pid,
    release: '20261124T101500Z-abc1234',
    operation: 'deploy',
    ...overrides,
  });

  it('writes info.json with the host time and a token', async () => {
    const held = await acquireLock(transport, layout, request());
    const info = JSON.parse(await readFile(layout.lockInfo, 'utf8')) as Record<string, unknown>;
    expect(info['token']).toBe(held.token);
    expect(info['operator']).toBe('ana');
    expect(info['release']).toBe('20261124T101500Z-abc1234');
    expect(Math.abs(Number(info['startedAt']) - Date.now() / 1000)).toBeLessThan(10);
    expect(info['startedAtIso']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(held.info.startedAt).toBe(info['startedAt']);
    expect(existsSync(join(layout.lockDir, '.info.tmp'))).toBe(false);
  });

  it('refuses a second acquire with a "locked" error that names the holder', async () => {
    await acquireLock(transport, layout, request({ operator: 'ana', pid: process.pid }));
    const error = await caught(acquireLock(transport, layout, request({ operator: 'ben', release: 'other' })));
    expect(error.kind).toBe('locked');
    expect(error.exitCode).toBe(4);
    expect(error.message).toContain(`production is locked by ana@${hostname()} (pid ${process.pid}) since `);
    expect(error.message).toContain('for deploy of 20261124T101500Z-abc1234');
    expect(error.message).not.toContain('stale');
    expect(error.hint).toContain('mcp-deploy unlock --force');
  });

  it('lets exactly one of several simultaneous acquires win', async () => {
    const attempts = await Promise.allSettled(
      Array.from({ length: 6 }, (_, index) => acquireLock(transport, layout, request({ operator: `op${index}` }))),
    );
    const won = attempts.filter((attempt) => attempt.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const attempt of attempts) {
      if (attempt.status === 'rejected') expect((attempt.reason as DeployError).kind).toBe('locked');
    }
  });

  it('releases only with its own token', async () => {
    const held = await acquireLock(transport, layout, request());
    expect(await releaseLock(transport, layout, 'deadbeefdeadbeef')).toBe('not-ours');
    expect(existsSync(layout.lockDir)).toBe(true);
    expect(await releaseLock(transport, layout, held.token)).toBe('released');
    expect(existsSync(layout.lockDir)).toBe(false);
    expect(await releaseLock(transport, layout, held.token)).toBe('not-held');
    // Free again: the next acquire succeeds.
    await acquireLock(transport, layout, request());
  });

  it('reports a free lock, and a held one that is not stale', async () => {
    expect(await readLock(transport, layout, { staleMinutes: 60, localHostName: hostname() })).toEqual({ held: false });
    await acquireLock(transport, layout, request());
    const status = await readLock(transport, layout, { staleMinutes: 60, localHostName: hostname() });
    expect(status.held).toBe(true);
    if (!status.held) return;
    expect(status.info?.operator).toBe('ana');
    expect(status.stale).toBe(false);
    expect(status.ageSeconds).toBeLessThan(10);
  });

  it('calls a lock stale when its holder on this machine is gone', async () => {
    const pid = await deadPid();
    const machine = localMachine();
    expect(machine).toMatch(/^[0-9a-f-]{36}\/pid:\[\d+\]$/);
    await acquireLock(transport, layout, request({ pid, machine: machine! }));
    const status = await readLock(transport, layout, { staleMinutes: 60, localHostName: hostname() });
    expect(status).toMatchObject({ held: true, stale: true, staleReason: 'holder process is gone' });
    // From another machine the pid means nothing: not stale (it is young).
    const elsewhere = await readLock(transport, layout, { staleMinutes: 60, localHostName: 'some-other-laptop' });
    expect(elsewhere).toMatchObject({ held: true, stale: false });
    // Nor from another PID namespace of the same host name (a container, unshare --pid).
    const otherNamespace = await readLock(transport, layout, { staleMinutes: 60, localHostName: hostname(), machine: 'other/pid:[1]' });
    expect(otherNamespace).toMatchObject({ held: true, stale: false });
    const error = await caught(acquireLock(transport, layout, request({ staleMinutes: 60 })));
    expect(error.message).toContain('it looks stale: holder process is gone');
  });

  it('keeps a heartbeat while held: fresh, it is a live holder; stopped for a minute, the holder is gone', async () => {
    const held = await acquireLock(transport, layout, request({ pid: await deadPid() }));
    const fresh = await readLock(transport, layout, { staleMinutes: 60, localHostName: 'elsewhere' });
    expect(fresh).toMatchObject({ held: true, stale: false });
    if (fresh.held) expect(fresh.heartbeatAgeSeconds).toBeLessThan(10);
    const old = new Date(Date.now() - (heartbeatStaleSeconds + 30) * 1000);
    await utimes(layout.lockHeartbeat, old, old);
    const silent = await readLock(transport, layout, { staleMinutes: 60, localHostName: 'elsewhere' });
    expect(silent).toMatchObject({ held: true, stale: true });
    if (silent.held) expect(silent.staleReason).toMatch(/^no heartbeat for \d+ s$/);
    // The holder's refresh brings it back, and proves the lock is still its own.
    expect(await refreshLock(transport, layout, held.token, { localHostName: hostname() })).toEqual({ ours: true });
    expect(await readLock(transport, layout, { staleMinutes: 60, localHostName: 'elsewhere' })).toMatchObject({ stale: false });
  });

  it('tells a holder whose lock was broken and taken who holds it now', async () => {
    const first = await acquireLock(transport, layout, request({ operator: 'ana' }));
    await breakLock(transport, layout);
    expect(await refreshLock(transport, layout, first.token, { localHostName: hostname() })).toEqual({ ours: false, now: { held: false } });
    await acquireLock(transport, layout, request({ operator: 'ben' }));
    const answer = await refreshLock(transport, layout, first.token, { localHostName: hostname() });
    expect(answer.ours).toBe(false);
    if (!answer.ours && answer.now.held) expect(answer.now.info?.operator).toBe('ben');
    else throw new Error(`expected ben's lock, got ${JSON.stringify(answer)}`);
  });

  it('breaks only the lock it looked at when given its token', async () => {
    const first = await acquireLock(transport, layout, request({ operator: 'ana' }));
    await releaseLock(transport, layout, first.token);
    await acquireLock(transport, layout, request({ operator: 'ben' }));
    expect(await breakLock(transport, layout, first.token)).toEqual({ removed: false });
    expect(existsSync(layout.lockDir)).toBe(true);
  });

  it('reports a regular file where the lock goes as holding it (no deploy can take it), and --force removes it', async () => {
    await writeFile(layout.lockDir, 'not a lock\n');
    const status = await readLock(transport, layout, { staleMinutes: 60, localHostName: hostname() });
    expect(status).toMatchObject({ held: true, info: null, stale: true, staleReason: 'not a lock directory' });
    if (status.held) expect(status.unreadable).toContain('deploy.lock is a regular file, not the lock directory');
    const error = await caught(acquireLock(transport, layout, request()));
    expect(error.kind).toBe('locked');
    expect(error.message).toContain('deploy.lock is a regular file');
    expect(await breakLock(transport, layout)).toEqual({ removed: true });
    await acquireLock(transport, layout, request());
  });

  it('calls a lock stale when it is older than staleMinutes by the host clock', async () => {
    const now = await hostNow(transport);
    await mkdir(layout.lockDir);
    const startedAt = now.epochSeconds - 2 * 3600;
    await writeFile(
      layout.lockInfo,
      JSON.stringify({
        operator: 'ben',
        localHost: 'ben-laptop',
        pid: 1,
        startedAt,
        startedAtIso: new Date(startedAt * 1000).toISOString(),
        release: null,
        operation: 'rollback',
      }),
    );
    const status = await readLock(transport, layout, { staleMinutes: 60, localHostName: hostname() });
    expect(status).toMatchObject({ held: true, stale: true, staleReason: 'older than 60 minutes' });
    if (status.held) expect(status.ageSeconds).toBeGreaterThanOrEqual(7200);
    const fresh = await readLock(transport, layout, { staleMinutes: 180, localHostName: hostname() });
    expect(fresh).toMatchObject({ held: true, stale: false });
    const error = await caught(acquireLock(transport, layout, request()));
    expect(error.message).toContain('locked by ben@ben-laptop (pid 1)');
    expect(error.message).toContain('(2h ago) for rollback.');
  });

  it('explains a lock dir without a readable info, aging it by the dir itself', async () => {
    await mkdir(layout.lockDir);
    const old = new Date(Date.now() - 3 * 3600 * 1000);
    await utimes(layout.lockDir, old, old);
    const status = await readLock(transport, layout, { staleMinutes: 60, localHostName: hostname() });
    expect(status.held).toBe(true);
    if (!status.held) return;
    expect(status.info).toBeNull();
    expect(status.unreadable).toMatch(/no info\.json/);
    expect(status.ageSeconds).toBeGreaterThanOrEqual(3 * 3600 - 5);
    expect(status.staleReason).toBe('older than 60 minutes');

    await writeFile(layout.lockInfo, '{not json');
    const garbled = await readLock(transport, layout, { staleMinutes: 60, localHostName: hostname() });
    expect(garbled).toMatchObject({ held: true, info: null, unreadable: 'deploy.lock/info.json is not valid JSON' });
    const error = await caught(acquireLock(transport, layout, request()));
    expect(error.kind).toBe('locked');
    expect(error.message).toContain('unknown holder');
  });

  it('breaks a lock whoever holds it, and only the lock', async () => {
    await writeFile(layout.stateFile, '{}');
    await acquireLock(transport, layout, request());
    expect(await breakLock(transport, layout)).toEqual({ removed: true });
    expect(existsSync(layout.lockDir)).toBe(false);
    expect(existsSync(layout.stateFile)).toBe(true);
    expect(await breakLock(transport, layout)).toEqual({ removed: false });
  });

  it('refuses a missing deploy root unless asked to create it', async () => {
    const missing = hostLayout(join(base, 'not-yet'));
    const error = await caught(acquireLock(transport, missing, request()));
    expect(error.kind).toBe('host-state');
    expect(existsSync(missing.root)).toBe(false);
    await acquireLock(transport, missing, request({ createRoot: true }));
    expect(existsSync(missing.lockInfo)).toBe(true);
  });
});

describe('state', () => {
  const state: HostState = {
    version: 1,
    app: 'ontology',
    active: { colour: 'green', port: 5003, release: '20261124T101500Z-abc1234' },
    previous: '20261123T090000Z-0000000',
    updatedAt: '2026-11-24T10:16:00Z',
  };

  it('is null when absent; recorded with current in one command, it reads back with the host clock as its time', async () => {
    expect(await readState(transport, layout)).toBeNull();
    await makeRelease(state.active!.release);
    const { updatedAt: _, ...recorded } = state;
    const before = Math.floor(Date.now() / 1000);
    const written = await recordActive(transport, layout, recorded);
    const read = await readState(transport, layout);
    expect(read).toEqual(written);
    expect(read).toMatchObject(recorded);
    const at = Date.parse(read!.updatedAt) / 1000;
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect(await readlink(layout.current)).toBe(`releases/${state.active!.release}`);
    expect((await readFile(layout.stateFile, 'utf8')).endsWith('\n}\n')).toBe(true);
    expect((await readdir(root)).filter((name) => name.includes('.tmp'))).toEqual([]);
  });

  it('a record for a release that does not exist changes neither current nor state.json', async () => {
    await makeRelease('r1');
    await switchCurrent(transport, layout, 'r1');
    await writeFile(layout.stateFile, JSON.stringify(state));
    const error = await caught(recordActive(transport, layout, { ...state, active: { ...state.active!, release: 'r9' } }));
    expect(error.kind).toBe('host-state');
    expect(error.message).toContain('Cannot point current at r9');
    expect(await readlink(layout.current)).toBe('releases/r1');
    expect(await readFile(layout.stateFile, 'utf8')).toBe(JSON.stringify(state));
  });

  it.each([
    ['not JSON', '{"version":1,', /not JSON/],
    ['a wrong colour', JSON.stringify({ ...state, active: { ...state.active, colour: 'red' } }), /active\.colour/],
    ['a traversal in a release', JSON.stringify({ ...state, previous: '../../etc' }), /previous: is not a valid release id/],
    ['a newer version', JSON.stringify({ ...state, version: 2 }), /version/],
  ])('refuses %s with a host-state error and leaves the file as it was', async (_label, text, why) => {
    await writeFile(layout.stateFile, text);
    const error = await caught(readState(transport, layout));
    expect(error.kind).toBe('host-state');
    expect(error.message).toMatch(/^state\.json on local is not valid: /);
    expect(error.message).toMatch(why);
    expect(error.message).toContain('It was left as it is; fix or remove it by hand (docs/host-layout.md)');
    expect(await readFile(layout.stateFile, 'utf8')).toBe(text);
  });

  it('refuses to write a state it could not read back', async () => {
    await makeRelease(state.active!.release);
    await expect(recordActive(transport, layout, { ...state, app: '' })).rejects.toThrow();
    expect(existsSync(layout.stateFile)).toBe(false);
    expect(existsSync(layout.current)).toBe(false);
  });
});

describe('current', () => {
  it('points at a release with a relative link, replacing the old link', async () => {
    await makeRelease('r1');
    await makeRelease('r2');
    expect(await readCurrent(transport, layout)).toBeNull();
    await switchCurrent(transport, layout, 'r1');
    expect(await readlink(layout.current)).toBe('releases/r1');
    await switchCurrent(transport, layout, 'r2');
    expect(await readlink(layout.current)).toBe('releases/r2');
    expect((await lstat(layout.current)).isSymbolicLink()).toBe(true);
    // A relative link keeps working when the whole root moves.
    expect(await readFile(join(layout.current, 'server.py'), 'utf8')).toBe('print("r2")\n');
    expect(await readCurrent(transport, layout)).toEqual({ link: 'releases/r2', release: 'r2' });
    expect((await readdir(root)).filter((name) => name.startsWith('.current.tmp'))).toEqual([]);
  });

  it('refuses a release that does not exist and leaves current alone', async () => {
    await makeRelease('r1');
    await switchCurrent(transport, layout, 'r1');
    const error = await caught(switchCurrent(transport, layout, 'r9'));
    expect(error.kind).toBe('host-state');
    expect(await readlink(layout.current)).toBe('releases/r1');
    await expect(switchCurrent(transport, layout, '../r1')).rejects.toMatchObject({ kind: 'usage' });
  });

  it('never lets a concurrent reader see current missing', async () => {
    await makeRelease('r1');
    await makeRelease('r2');
    await switchCurrent(transport, layout, 'r1');
    const stopFile = join(base, 'stop');
    // Our own reader process, stopped by a file and bounded by a deadline of its own.
    const reader = spawn(
      'sh',
      [
        '-c',
        'n=0; end=$(( $(date +%s) + 30 )); while [ ! -e "$2" ] && [ "$(date +%s)" -lt "$end" ]; do [ -e "$1" ] || echo missing; n=$((n+1)); done; echo "n=$n"',
        'sh',
        layout.current,
        stopFile,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    reader.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => reader.on('exit', () => resolve()));
    try {
      for (let index = 0; index < 30; index += 1) await switchCurrent(transport, layout, index % 2 === 0 ? 'r2' : 'r1');
    } finally {
      await writeFile(stopFile, '');
      const timer = setTimeout(() => reader.kill('SIGKILL'), 35_000);
      await exited;
      clearTimeout(timer);
    }
    expect(output).not.toContain('missing');
    expect(Number(/n=(\d+)/.exec(output)?.[1])).toBeGreaterThan(0);
  });
});

describe('audit', () => {
  const record = (overrides: Partial<AuditRecord> = {}): AuditRecord => ({
    at: '2026-11-24T10:16:00Z',
    operator: 'ana',
    localHost: 'ana-laptop',
    target: 'production',
    operation: 'deploy',
    from: 'r1',
    to: 'r2',
    result: 'ok',
    steps: [{ name: 'upload', status: 'done', ms: 1200 }],
    ...overrides,
  });

  it('appends records as JSON lines and reads them back in order', async () => {
    await appendAudit(transport, layout, record());
    await appendAudit(
      transport,
      layout,
      record({
        operation: 'rollback',
        from: 'r2',
        to: 'r1',
        result: 'failed',
        error: { step: 'health', message: 'it said "no"\nand quit' },
      }),
    );
    const text = await readFile(layout.auditLog, 'utf8');
    expect(text.split('\n')).toHaveLength(3);
    const entries = await readAudit(transport, layout);
    expect(entries).toEqual([
      record(),
      record({
        operation: 'rollback',
        from: 'r2',
        to: 'r1',
        result: 'failed',
        error: { step: 'health', message: 'it said "no"\nand quit' },
      }),
    ]);
  });

  it('reports a malformed line by number without hiding the others', async () => {
    await appendAudit(transport, layout, record({ to: 'r2' }));
    await writeFile(layout.auditLog, '{"half a line\n', { flag: 'a' });
    await appendAudit(transport, layout, record({ to: 'r3' }));
    const entries = await readAudit(transport, layout);
    expect(entries).toHaveLength(3);
    expect(entries[1]).toEqual({ malformed: 2, text: '{"half a line' });
    expect(isMalformedAuditLine(entries[1]!)).toBe(true);
    const last = entries[2]!;
    expect(!isMalformedAuditLine(last) && last.to).toBe('r3');
    const limited = await readAudit(transport, layout, { limit: 2 });
    expect(limited).toHaveLength(2);
    expect(limited[0]).toEqual({ malformed: 2, text: '{"half a line' });
  });

  it('reads an absent log as empty', async () => {
    expect(await readAudit(transport, layout, { limit: 10 })).toEqual([]);
  });

  it('keeps a huge record under one atomic write, still readable', async () => {
    const huge = record({
      result: 'failed',
      error: { step: 'health', message: `${'x\n"'.repeat(5000)}🚀` },
      steps: Array.from({ length: 200 }, (_, index) => ({ name: `step-${index}`, status: 'done', ms: index })),
    });
    const line = auditLine(huge);
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(maxAuditLineBytes);
    await appendAudit(transport, layout, huge);
    const [entry] = await readAudit(transport, layout);
    expect(entry && !isMalformedAuditLine(entry) && entry.truncated).toBe(true);
    expect(entry && !isMalformedAuditLine(entry) && entry.error?.message.startsWith('x\n"x')).toBe(true);
  });

  it('does not interleave simultaneous appends', async () => {
    const message = 'y'.repeat(3000);
    await Promise.all(
      Array.from({ length: 16 }, (_, index) => appendAudit(transport, layout, record({ to: `r${index}`, error: { step: 's', message } }))),
    );
    const entries = await readAudit(transport, layout);
    expect(entries).toHaveLength(16);
    expect(entries.filter(isMalformedAuditLine)).toEqual([]);
  });
});

describe('releases', () => {
  it('lists releases newest first, with failures, tools, sizes, and hand-made or odd dirs', async () => {
    const hash = 'e'.repeat(64);
    await makeRelease('20261120T000000Z-aaaaaaa', {
      release: { ...meta('20261120T000000Z-aaaaaaa', '2026-11-20T00:00:00Z'), operator: 'o\'dd "ana"\n\t✓' },
    });
    await makeRelease('20261122T000000Z-bbbbbbb', {
      release: meta('20261122T000000Z-bbbbbbb', '2026-11-22T00:00:00Z', hash),
      failed: { at: '2026-11-22T00:01:00Z', step: 'health', message: 'boom\n--mcp-deploy-0000 id\nfake' },
    });
    await makeRelease('20261121T000000Z-ccccccc', {
      release: meta('20261121T000000Z-ccccccc', '2026-11-21T00:00:00Z'),
      tools: ['search', 'describe'],
    });
    await mkdir(join(root, 'releases', 'hand-made'), { recursive: true }); // no .mcp-deploy at all
    await makeRelease('20261123T000000Z-ddddddd', { raw: { 'release.json': '{oops', 'failed.json': 'also broken' } });
    await mkdir(join(root, 'releases', '.20261124T000000Z.partial'));
    await mkdir(join(root, 'releases', 'with space'));
    await mkdir(join(root, 'releases', 'new\nline'));
    await writeFile(join(root, 'releases', 'a-file'), 'not a dir');
    await symlink('20261120T000000Z-aaaaaaa', join(root, 'releases', 'a-link'));

    const releases = await listReleases(transport, layout);
    expect(releases.map((release) => release.id)).toEqual([
      '20261123T000000Z-ddddddd',
      '20261122T000000Z-bbbbbbb',
      '20261121T000000Z-ccccccc',
      '20261120T000000Z-aaaaaaa',
      'hand-made',
    ]);
    const [broken, failed, withTools, odd, handMade] = releases;
    expect(broken).toMatchObject({ metadata: 'invalid', createdAt: null, failed: { step: 'unknown' } });
    expect(broken?.problems).toEqual(['release.json is not valid JSON', 'failed.json is not valid JSON']);
    expect(failed).toMatchObject({
      requirementsHash: hash,
      failed: { step: 'health', message: 'boom\n--mcp-deploy-0000 id\nfake' },
      tools: null,
    });
    expect(withTools).toMatchObject({ tools: ['search', 'describe'], failed: null, gitSha: 'abc1234' });
    expect(odd).toMatchObject({ operator: 'o\'dd "ana"\n\t✓', metadata: 'ok', files: 1, bytes: 20 });
    expect(odd?.sizeBytes).toBeGreaterThan(0);
    expect(handMade).toMatchObject({ metadata: 'missing', createdAt: null, operator: null, failed: null, tools: null, problems: [] });
  });

  it('lists nothing when there is no releases dir yet', async () => {
    expect(await listReleases(transport, layout)).toEqual([]);
  });

  it('marks a release failed and records its contract; older releases keep their tools.json readable', async () => {
    await makeRelease('r1', { release: meta('r1', '2026-11-20T00:00:00Z') });
    await mkdir(join(root, 'releases', 'hand-made'));
    await makeRelease('r0', { release: meta('r0', '2026-11-19T00:00:00Z'), tools: ['old_tool'] });
    const failure = await markFailed(transport, layout, 'r1', { step: 'health', message: 'GET /health returned 500' });
    expect(failure.at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const contract: Contract = {
      format: contractFormat,
      protocol: { era: 'modern', version: '2026-07-28' },
      serverInfo: { name: 'hand', version: '1' },
      capabilities: { tools: {} },
      tools: [{ name: 'search', inputSchema: { type: 'object' } }],
      prompts: [],
      resources: [],
      resourceTemplates: [],
    };
    await recordContract(transport, layout, 'hand-made', contract);
    const releases = await listReleases(transport, layout);
    expect(releases.find((release) => release.id === 'r1')?.failed).toEqual(failure);
    const handMade = releases.find((release) => release.id === 'hand-made');
    expect(handMade?.tools).toEqual(['search']);
    expect(handMade?.contract).toEqual(contract);
    expect(await readReleaseContract(transport, layout, 'hand-made')).toEqual(contract);
    // Recorded as stable sorted JSON: keys in order at every depth.
    const text = await readFile(join(root, 'releases', 'hand-made', '.mcp-deploy', 'contract.json'), 'utf8');
    expect(text.indexOf('"capabilities"')).toBeLessThan(text.indexOf('"format"'));
    const old = releases.find((release) => release.id === 'r0');
    expect(old?.tools).toEqual(['old_tool']);
    expect(old?.contract).toBeNull();
    expect(old?.problems).toEqual([]);
  });

  it('names an unreadable contract.json as a problem, and lists the release anyway', async () => {
    await makeRelease('r2', { release: meta('r2', '2026-11-21T00:00:00Z'), raw: { 'contract.json': '{"format": 1, "tools": "no"}' } });
    const [listed] = await listReleases(transport, layout);
    expect(listed?.contract).toBeNull();
    expect(listed?.problems.join(' ')).toMatch(/^contract\.json is not a contract: /);
  });

  it('never creates a release dir to mark it', async () => {
    const error = await caught(markFailed(transport, layout, 'r-missing', { step: 'x', message: 'y' }));
    expect(error.kind).toBe('host-state');
    expect(existsSync(join(root, 'releases', 'r-missing'))).toBe(false);
    await expect(readReleaseContract(transport, layout, '../../escape')).rejects.toMatchObject({ kind: 'usage' });
  });
});

describe('prune', () => {
  it('removes old releases, their logs, stale leftovers and unused venvs, and keeps the rest', async () => {
    const hash = (letter: string) => letter.repeat(64);
    const day = (n: number) => `202611${String(n).padStart(2, '0')}T000000Z-abc1234`;
    const created = (n: number) => `2026-11-${String(n).padStart(2, '0')}T00:00:00Z`;
    await makeRelease(day(1), { release: meta(day(1), created(1), hash('a')) });
    await makeRelease(day(2), { release: meta(day(2), created(2), hash('b')) });
    await makeRelease(day(3), { release: meta(day(3), created(3), hash('c')), failed: { at: created(3), step: 'health', message: 'no' } });
    await makeRelease(day(4), { release: meta(day(4), created(4), hash('d')) });
    await makeRelease(day(5), { release: meta(day(5), created(5), hash('d')) });
    await mkdir(join(root, 'shared', 'logs'), { recursive: true });
    for (const n of [1, 2, 3, 4, 5]) await writeFile(join(root, 'shared', 'logs', `${day(n)}.log`), 'log\n');
    await mkdir(join(root, 'shared', 'env'), { recursive: true });
    for (const n of [1, 2, 3, 4, 5]) await writeFile(join(root, 'shared', 'env', `${day(n)}.env`), 'A=1\n');
    const old = new Date(Date.now() - 2 * 3600 * 1000);
    for (const letter of ['a', 'b', 'c', 'd', 'f']) {
      await mkdir(join(root, 'shared', 'venvs', hash(letter), 'bin'), { recursive: true });
      await utimes(join(root, 'shared', 'venvs', hash(letter)), old, old);
    }
    await mkdir(join(root, 'shared', 'venvs', `.${hash('f')}.tmp-young`));
    await mkdir(join(root, 'shared', 'venvs', `.${hash('f')}.tmp-old`));
    await utimes(join(root, 'shared', 'venvs', `.${hash('f')}.tmp-old`), old, old);
    await mkdir(join(root, 'shared', 'venvs', hash('9'))); // unused but young: maybe a `.partial` upload's
    await mkdir(join(root, 'releases', '.r-old.partial', 'deep'), { recursive: true });
    await utimes(join(root, 'releases', '.r-old.partial'), old, old);
    await mkdir(join(root, 'releases', '.r-young.partial'));
    await mkdir(join(root, 'releases', '.r-locked.partial'));
    await utimes(join(root, 'releases', '.r-locked.partial'), old, old);
    await mkdir(join(root, 'releases', `.${day(0 + 1)}.removing`)); // left by an interrupted prune
    await mkdir(join(root, 'releases', 'weird name'));

    const releases = await listReleases(transport, layout);
    const candidates = await readPruneCandidates(transport, layout);
    expect(candidates.garbage.find((entry) => entry.name === '.r-old.partial')?.ageSeconds).toBeGreaterThanOrEqual(7000);
    const plan = planPrune(releases, { keep: 2, active: day(5), previous: day(2), lockedRelease: 'r-locked', ...candidates });
    expect(plan.releases).toEqual([day(1)]);
    const result = await prune(transport, layout, plan);

    expect(result.failed).toEqual([]);
    expect(result.releases).toEqual([day(1)]);
    expect(result.logs).toEqual([day(1)]);
    expect([...result.garbage].sort()).toEqual([`.${day(1)}.removing`, '.r-old.partial']);
    expect([...result.venvs].sort()).toEqual([hash('a'), hash('f'), `.${hash('f')}.tmp-old`].sort());

    const left = (dir: string) => readdir(join(root, dir)).then((names) => names.sort());
    expect(await left('releases')).toEqual(['.r-locked.partial', '.r-young.partial', day(2), day(3), day(4), day(5), 'weird name'].sort());
    expect(await left('shared/logs')).toEqual([2, 3, 4, 5].map((n) => `${day(n)}.log`));
    expect(await left('shared/env')).toEqual([2, 3, 4, 5].map((n) => `${day(n)}.env`));
    expect(await left('shared/venvs')).toEqual([`.${hash('f')}.tmp-young`, hash('9'), hash('b'), hash('c'), hash('d')].sort());

    // Nothing left to do the second time round.
    const again = planPrune(await listReleases(transport, layout), {
      keep: 2,
      active: day(5),
      previous: day(2),
      lockedRelease: 'r-locked',
      ...(await readPruneCandidates(transport, layout)),
    });
    expect(again.releases).toEqual([]);
    expect(again.garbage).toEqual([]);
    expect(again.venvs).toEqual([]);
  });

  it('refuses a plan naming an unsafe path', async () => {
    await expect(
      prune(transport, layout, { releases: ['../../etc'], garbage: [], venvs: [], deps: [], kept: [], notes: [] }),
    ).rejects.toMatchObject({
      kind: 'usage',
    });
    await expect(prune(transport, layout, { releases: [], garbage: ['..'], venvs: [], deps: [], kept: [], notes: [] })).rejects.toThrow(
      /garbage/,
    );
  });
});
