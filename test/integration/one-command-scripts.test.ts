import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readAudit } from '../../source/host/audit.js';
import { hostLayout, type HostLayout } from '../../source/host/layout.js';
import {
  acquireLock,
  acquireLockAndRead,
  breakLock,
  lockCheckFailure,
  releaseLock,
  withLockCheck,
  type LockRequest,
} from '../../source/host/lock.js';
import { appendAuditAndUnlock } from '../../source/host/run-end.js';
import { keepLock } from '../../source/engine/lock-keeper.js';
import { catFiles, putFiles, splitCatOutput } from '../../source/remote/file-commands.js';
import { LocalTransport } from '../../source/remote/local-transport.js';
import { script } from '../../source/remote/quote.js';

/**
 * The scripts that do in one command what took several (issue 15): what each does on a real
 * shell, and what it refuses. The SSH transport runs the same text (transport-contract.test.ts).
 */
const transport = new LocalTransport();
let base: string;
let layout: HostLayout;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'mcp-deploy-one-command-'));
  await mkdir(join(base, 'app'));
  layout = hostLayout(join(base, 'app'));
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const request = (overrides: Partial<LockRequest> = {}): LockRequest => ({
  target: 'production',
  operator: 'ana',
  localHost: hostname(),
  pid: process.pid,
  release: null,
  operation: 'deploy',
  ...overrides,
});

describe('several files read by one command', () => {
  it('gives each file its bytes (any bytes, an empty file, no final newline) and null for a missing one', async () => {
    const binary = Buffer.from([0, 10, 255, 10, 10, 1]);
    await writeFile(join(base, 'a'), binary);
    await writeFile(join(base, 'empty'), '');
    await writeFile(join(base, 'b'), 'last line without newline');
    const paths = [join(base, 'a'), join(base, 'missing'), join(base, 'empty'), join(base, 'b')];
    const result = await transport.run({ script: script(...catFiles(paths)) });
    expect(result.code).toBe(0);
    const files = splitCatOutput(result.stdoutBytes, paths);
    expect(files.get(paths[0]!)).toEqual(binary);
    expect(files.get(paths[1]!)).toBeNull();
    expect(files.get(paths[2]!)).toEqual(Buffer.alloc(0));
    expect(files.get(paths[3]!)?.toString()).toBe('last line without newline');
  });

  it('refuses output that was cut short', () => {
    expect(() => splitCatOutput(Buffer.from('12\nshort'), ['x'])).toThrow(/ends before the contents of x/);
  });
});

describe('files written by one command', () => {
  it('writes each through a temporary file with its mode, then runs what follows', async () => {
    const one = join(base, 'one.conf');
    const two = join(base, 'two.conf');
    const text = 'quotes \' " $HOME `x` \\ and\nlines\n';
    const result = await transport.run({
      script: `${script(
        ...putFiles([
          { path: one, text, mode: 0o644 },
          { path: two, text: 'b', mode: 0o600 },
        ]),
      )} cat -- ${one}`,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(text);
    expect(await readFile(two, 'utf8')).toBe('b');
    expect((statSync(two).mode & 0o777).toString(8)).toBe('600');
  });

  it('stops before what follows when a file cannot be written, leaving no temporary file', async () => {
    const blocked = join(base, 'dir.conf');
    await mkdir(blocked);
    await writeFile(join(blocked, 'keep'), '');
    const result = await transport.run({ script: `${script(...putFiles([{ path: blocked, text: 'x', mode: 0o644 }]))} echo ran` });
    expect(result.code).toBe(71);
    expect(result.stdout).not.toContain('ran');
    expect(readdirSync(base).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });
});

describe('the lock taken and read in one command', () => {
  it('returns the lock, the files asked for, and the release ids already taken in its second', async () => {
    await writeFile(layout.stateFile, '{"x":1}\n');
    const first = await acquireLockAndRead(transport, layout, request(), { files: [layout.stateFile, join(base, 'none')] });
    expect(first.files.get(layout.stateFile)?.toString()).toBe('{"x":1}\n');
    expect(first.files.get(join(base, 'none'))).toBeNull();
    expect(first.sameSecondReleases.size).toBe(0);
    const stamp = new Date(first.lock.info.startedAt * 1000)
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z')
      .replace(/[-:]/g, '');
    await releaseLock(transport, layout, first.lock.token);
    // Ids of the same second: ones taken by a folder, a file or a dangling link are all named.
    await mkdir(join(layout.releasesDir, `${stamp}-abc1234`), { recursive: true });
    await writeFile(join(layout.releasesDir, `${stamp}-abc1234.2`), '');
    await mkdir(join(layout.releasesDir, '20200101T000000Z'), { recursive: true });
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const second = await acquireLockAndRead(transport, layout, request(), { sameSecondReleases: true });
      await releaseLock(transport, layout, second.lock.token);
      const secondStamp = new Date(second.lock.info.startedAt * 1000)
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z')
        .replace(/[-:]/g, '');
      if (secondStamp !== stamp) continue; // the clock moved on to the next second: nothing of it is taken
      expect([...second.sameSecondReleases].sort()).toEqual([`${stamp}-abc1234`, `${stamp}-abc1234.2`]);
      return;
    }
    expect([...(await acquireLockAndRead(transport, layout, request(), { sameSecondReleases: true })).sameSecondReleases]).toEqual([]);
  });

  it('gives the lock back when a file it was to read cannot be read', async () => {
    await mkdir(layout.stateFile);
    await expect(acquireLockAndRead(transport, layout, request(), { files: [layout.stateFile] })).rejects.toMatchObject({
      kind: 'host-state',
    });
    expect(existsSync(layout.lockDir)).toBe(false);
  });
});

describe('a command that carries the lock check', () => {
  it('runs when the lock is ours, and not at all once it was broken and taken by someone else', async () => {
    const held = await acquireLock(transport, layout, request());
    const marker = join(base, 'ran');
    const stale = { localHostName: hostname() };
    const ours = await transport.run(withLockCheck(layout, held.token, ['touch', marker]));
    expect(ours.code).toBe(0);
    expect(lockCheckFailure(ours, stale)).toBeNull();
    expect(existsSync(marker)).toBe(true);
    await rm(marker);

    await breakLock(transport, layout);
    await acquireLock(transport, layout, request({ operator: 'bea' }));
    const lost = await transport.run(withLockCheck(layout, held.token, { script: `touch ${marker}; exit 0` }));
    expect(existsSync(marker), 'the command ran although the lock was not ours').toBe(false);
    const now = lockCheckFailure(lost, stale);
    expect(now).toMatchObject({ held: true, info: { operator: 'bea' } });
  });

  it("passes a command's own exit status and output on", async () => {
    const held = await acquireLock(transport, layout, request());
    const result = await transport.run(withLockCheck(layout, held.token, { script: 'echo out; echo err >&2; exit 97' }));
    expect(result).toMatchObject({ code: 97, stdout: 'out\n', stderr: 'err\n' });
    expect(lockCheckFailure(result, { localHostName: hostname() })).toBeNull();
  });
});

describe('the audit record and the unlock in one command', () => {
  const record = {
    operator: 'ana',
    localHost: 'ana-laptop',
    target: 'production',
    operation: 'deploy',
    from: 'r1',
    to: 'r2',
    result: 'ok',
    steps: [],
  } as const;

  it("appends the record with the host's time and releases the lock", async () => {
    const held = await acquireLock(transport, layout, request());
    const end = await appendAuditAndUnlock(transport, layout, held.token, record, '1999-01-01T00:00:00Z');
    expect(end).toMatchObject({ auditProblem: null, unlock: 'released' });
    expect(end.record.at).not.toBe('1999-01-01T00:00:00Z');
    expect(Math.abs(Date.parse(end.record.at) - Date.now())).toBeLessThan(60_000);
    const entries = await readAudit(transport, layout);
    expect(entries).toEqual([{ ...record, at: end.record.at }]);
    expect(existsSync(layout.lockDir)).toBe(false);
  });

  it('reports each failure on its own: an audit log it cannot append to still lets the lock go; a lock taken by someone else is left', async () => {
    const held = await acquireLock(transport, layout, request());
    await mkdir(layout.auditLog);
    const first = await appendAuditAndUnlock(transport, layout, held.token, record, '1999-01-01T00:00:00Z');
    expect(first.auditProblem).toMatch(/audit\.log/);
    expect(first.unlock).toBe('released');
    await rm(layout.auditLog, { recursive: true });

    const other = await acquireLock(transport, layout, request({ operator: 'bea' }));
    const second = await appendAuditAndUnlock(transport, layout, held.token, record, '1999-01-01T00:00:00Z');
    expect(second).toMatchObject({ auditProblem: null, unlock: 'not-ours' });
    expect(JSON.parse(await readFile(layout.lockInfo, 'utf8')).token).toBe(other.token);
  });
});

describe("a run's steps through the lock keeper's transport", () => {
  it('a guarded step runs its commands and streams when the lock is ours; once it is taken, none of them runs and the step is stopped', async () => {
    const held = await acquireLock(transport, layout, request());
    const keeper = keepLock(transport, layout, held, {
      target: 'production',
      stale: { localHostName: hostname() },
      warn: () => {},
    });
    try {
      const guarded = keeper.transport;
      await keeper.guard('switch');
      const lines: string[] = [];
      const streamed = await guarded.stream(['printf', 'a\\nb\\n'], { onLine: (line) => lines.push(line) });
      expect(streamed.code).toBe(0);
      expect(lines).toEqual(['a', 'b']);
      expect((await guarded.run(['echo', 'ran'])).stdout).toBe('ran\n');

      await breakLock(transport, layout);
      await acquireLock(transport, layout, request({ operator: 'bea' }));
      const marker = join(base, 'ran');
      // Not armed: a command between steps (a read, say) goes as it is.
      expect((await guarded.run(['true'])).code).toBe(0);
      await keeper.guard('drain');
      const seen: string[] = [];
      await expect(guarded.stream({ script: `touch ${marker}; echo out` }, { onLine: (line) => seen.push(line) })).rejects.toMatchObject({
        kind: 'locked',
        message: expect.stringContaining('Stopped before the drain step'),
      });
      expect(seen, "the check's answer reached the caller").toEqual([]);
      await expect(guarded.run(['touch', marker])).rejects.toMatchObject({ kind: 'locked' });
      await expect(guarded.writeFileAtomic(marker, 'x')).rejects.toMatchObject({ kind: 'locked' });
      expect(existsSync(marker), 'a command ran although the lock was taken').toBe(false);
      await expect(keeper.guard('prune')).rejects.toMatchObject({ kind: 'locked' });
    } finally {
      keeper.stop();
    }
  });
});
