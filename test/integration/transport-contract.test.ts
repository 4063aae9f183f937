import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDeployError } from '../../source/errors.js';
import { removeTree } from '../../source/host/remove-tree.js';
import { decodeFileName, fsPath } from '../../source/project/file-names.js';
import { execFileSync, spawn } from 'node:child_process';
import { composeCommand } from '../../source/remote/compose.js';
import { connectSsh } from '../../source/remote/connect.js';
import { withStdinWatchdog } from '../../source/remote/ssh-transport.js';
import { LocalTransport } from '../../source/remote/local-transport.js';
import { cmd, op, script } from '../../source/remote/quote.js';
import type { Transport } from '../../source/remote/transport.js';
import type { UploadEntry, UploadProgress } from '../../source/remote/upload-entry.js';
import { probeHostTools } from '../../source/remote/host-tools.js';
import { uploadTree as uploadTreeWith, type UploadReceipt, type UploadTreeOptions } from '../../source/remote/tar-upload.js';
import { connectOptionsFor, pidsWithCommandLine, sshdSkipReason, startSshd, waitFor, type SshdHandle } from '../harness/index.js';

/**
 * One contract, two transports: whatever a deploy step can observe must be the same on the
 * local sandbox and over SSH. The SSH side talks to a real OpenSSH sshd from the harness.
 */

const sshdSkip = await sshdSkipReason();
if (sshdSkip) console.warn(`SKIPPING SSH transport tests: ${sshdSkip}`);

type Subject = {
  readonly transport: Transport;
  /** A directory the transport's user owns on the host. */
  readonly workDir: string;
  stop(): Promise<void>;
};

type Flavour = { readonly name: string; readonly skip: string | undefined; start(): Promise<Subject> };

const flavours: readonly Flavour[] = [
  {
    name: 'LocalTransport',
    skip: undefined,
    start: async () => {
      const workDir = await mkdtemp(join(tmpdir(), 'mcpd-local-'));
      const transport = new LocalTransport();
      return {
        transport,
        workDir,
        stop: async () => {
          await transport.close();
          await rm(workDir, { recursive: true, force: true });
        },
      };
    },
  },
  ...(['bash', 'sh'] as const).map(
    (login): Flavour => ({
      name: login === 'bash' ? 'SshTransport (bash login shell)' : 'SshTransport (/bin/sh login shell)',
      skip: sshdSkip,
      start: async () => {
        const sshd = await startSshd({ login });
        try {
          const transport = await connectSsh(connectOptionsFor(sshd));
          return {
            transport,
            workDir: sshd.workDir,
            stop: async () => {
              await transport.close();
              await sshd.stop();
            },
          };
        } catch (error) {
          await sshd.stop();
          throw error;
        }
      },
    }),
  ),
];

/** The tree upload with what the deploy asks first (the host's tools) asked here. */
async function uploadTree(
  transport: Transport,
  root: string,
  entries: readonly UploadEntry[],
  options: Partial<UploadTreeOptions> = {},
): Promise<UploadReceipt> {
  return uploadTreeWith(transport, root, entries, { tools: await probeHostTools(transport), hash: 'sent', ...options });
}

/** Arguments no shell may interpret: each must come back byte for byte, and none may run. */
function nastyArguments(canary: string): string[] {
  return [
    'plain',
    '',
    ' ',
    'two words',
    ' leading and trailing ',
    "it's",
    "''",
    '"double"',
    `$(touch ${canary})`,
    `\`touch ${canary}\``,
    `; touch ${canary}`,
    `' ; touch ${canary} ; '`,
    `" ; touch ${canary} ; "`,
    `&& touch ${canary}`,
    `| touch ${canary}`,
    `$(touch ${canary}`,
    'line one\nline two',
    '\n',
    'tab\there',
    'carriage\rreturn',
    '-n',
    '--help',
    '-e',
    '*',
    '~',
    '$HOME',
    '${HOME}',
    '!',
    '!!',
    '\\',
    '\\n',
    '%s %d %%',
    '#not a comment',
    '>out',
    '<in',
    'żółć gęślą jaźń',
    '日本語のテキスト',
    '🚀 emoji 👩‍👩‍👧',
    '\u00a0non-breaking\u200bzero-width',
  ];
}

for (const flavour of flavours) {
  describe.skipIf(flavour.skip !== undefined)(`${flavour.name} contract${flavour.skip ? ` (skipped: ${flavour.skip})` : ''}`, () => {
    let subject: Subject;
    let transport: Transport;
    let workDir: string;
    let localDir: string;

    beforeAll(async () => {
      subject = await flavour.start();
      transport = subject.transport;
      workDir = subject.workDir;
      localDir = await mkdtemp(join(tmpdir(), 'mcpd-upload-src-'));
    });

    afterAll(async () => {
      await subject?.stop();
      if (localDir) await rm(localDir, { recursive: true, force: true });
    });

    describe('run', () => {
      it('reports exit codes', async () => {
        expect((await transport.run(['true'])).code).toBe(0);
        expect((await transport.run(['false'])).code).toBe(1);
        expect((await transport.run(['sh', '-c', 'exit 7'])).code).toBe(7);
        expect((await transport.run({ script: 'exit 42' })).code).toBe(42);
      });

      it("leaves the command's stderr its own, run after run: no job notices from the login shell", async () => {
        // A bash login shell reported the killed stdin watchdog ("bash: line 11: … Killed { while
        // read …") in about one run in three, standing in for the real cause in error messages.
        for (let round = 0; round < 20; round += 1) {
          const result = await transport.run({ script: 'echo real cause >&2; exit 1' });
          expect(result).toMatchObject({ code: 1, stdout: '', stderr: 'real cause\n' });
        }
      });

      it('keeps stdout and stderr apart', async () => {
        const result = await transport.run({ script: script(cmd(['echo', 'to out']), op(';'), cmd(['echo', 'to err']), op('>&2')) });
        expect(result).toMatchObject({ code: 0, stdout: 'to out\n', stderr: 'to err\n' });
      });

      it('runs in the given working directory', async () => {
        const dir = join(workDir, "a dir with 'quotes'");
        await transport.run(['mkdir', '-p', dir]);
        const result = await transport.run(['pwd'], { cwd: dir });
        expect(result.stdout).toBe(`${dir}\n`);
      });

      it('fails cleanly when the working directory does not exist', async () => {
        const result = await transport.run(['true'], { cwd: join(workDir, 'missing') });
        expect(result.code).not.toBe(0);
      });

      it('exports the given environment, values taken literally', async () => {
        const value = 'it\'s $HOME and `id` and $(id) and "quotes"\nline 2';
        const result = await transport.run(['sh', '-c', 'printf %s "$GREETING"'], { env: { GREETING: value } });
        expect(result.stdout).toBe(value);
      });

      it('feeds input to stdin, then closes it', async () => {
        const input = 'line one\nżółć 🚀\nno newline at end';
        expect((await transport.run(['cat'], { input })).stdout).toBe(input);
        expect((await transport.run(['wc', '-c'], { input: Buffer.from([0, 1, 2, 255]) })).stdout.trim()).toBe('4');
      });

      it('gives a command without input an empty stdin', async () => {
        expect((await transport.run(['cat'])).stdout).toBe('');
      });

      it('runs scripts with shell operators', async () => {
        const result = await transport.run({ script: script(cmd(['printf', 'a\nb\nc\n']), op('|'), cmd(['wc', '-l'])) });
        expect(result.stdout.trim()).toBe('3');
      });

      it('passes nasty arguments through unchanged and executes none of them', async () => {
        const canary = join(workDir, `canary-${randomBytes(4).toString('hex')}`);
        const args = nastyArguments(canary);
        const result = await transport.run(['printf', '%s\\0', ...args]);
        expect(result.code).toBe(0);
        expect(result.stdout.split('\0').slice(0, -1)).toEqual(args);
        // The same arguments in cwd and env must not run either.
        await transport.run(['true'], { env: Object.fromEntries(args.map((value, index) => [`NASTY_${index}`, value])) });
        await transport.run({ script: script(cmd(['printf', '%s\\0', ...args]), op('>/dev/null')) });
        expect((await transport.run(['test', '-e', canary])).code).toBe(1);
        expect(existsSync(canary)).toBe(false);
      });

      it('throws a timeout DeployError and ends the command, and keeps working afterwards', async () => {
        const seconds = `29.${randomBytes(3).readUIntBE(0, 3)}`;
        const error = await transport.run(['sleep', seconds], { timeoutMs: 500 }).catch((caught: unknown) => caught);
        expect(isDeployError(error)).toBe(true);
        expect(error).toMatchObject({ kind: 'timeout', message: 'remote command timed out after 500 ms' });
        await waitFor('the timed-out sleep to end', () => pidsWithCommandLine(`sleep ${seconds}`).length === 0, { timeoutMs: 5_000 });
        expect((await transport.run(['echo', 'still here'])).stdout).toBe('still here\n');
      });

      it('ends a command with input when aborted, with a failing code', async () => {
        const seconds = `28.${randomBytes(3).readUIntBE(0, 3)}`;
        const controller = new AbortController();
        const running = transport.run(
          { script: script(cmd(['cat']), op('>/dev/null;'), cmd(['sleep', seconds])) },
          { input: 'x', signal: controller.signal },
        );
        await waitFor('the sleep to start', () => pidsWithCommandLine(`sleep ${seconds}`).length > 0, { timeoutMs: 5_000 });
        controller.abort();
        expect((await running).code).not.toBe(0);
        await waitFor('the aborted sleep to end', () => pidsWithCommandLine(`sleep ${seconds}`).length === 0, { timeoutMs: 5_000 });
      });

      it('runs nothing when the signal is already aborted', async () => {
        const marker = join(workDir, `never-${randomBytes(4).toString('hex')}`);
        const controller = new AbortController();
        controller.abort();
        const ran = await transport.run(['touch', marker], { signal: controller.signal });
        expect(ran.code).toBe(255);
        const streamed = await transport.stream(['touch', marker], { signal: controller.signal, onLine: () => {} });
        expect(streamed.code).toBeNull();
        expect((await transport.run(['test', '-e', marker])).code).toBe(1);
      });

      it('reports the exit status of many quick commands at once', async () => {
        // Quick commands over a fast link: the status can arrive with the exec reply itself.
        const codes = await Promise.all(Array.from({ length: 120 }, (_, index) => transport.run(['sh', '-c', `exit ${index % 7}`])));
        expect(codes.map((result) => result.code)).toEqual(Array.from({ length: 120 }, (_, index) => index % 7));
      });

      it('runs many commands at once', async () => {
        const results = await Promise.all(Array.from({ length: 20 }, (_, index) => transport.run(['echo', String(index)])));
        expect(results.map((result) => result.stdout.trim())).toEqual(Array.from({ length: 20 }, (_, index) => String(index)));
      });
    });

    describe('stream', () => {
      it('delivers lines in order, each stream apart, and the exit code', async () => {
        const lines: string[] = [];
        const errors: string[] = [];
        const result = await transport.stream(
          { script: 'for i in 1 2 3 4 5; do echo "line $i"; done; echo "warn" >&2; printf "no newline"; exit 3' },
          { onLine: (line, stream) => (stream === 'stdout' ? lines : errors).push(line) },
        );
        expect(result.code).toBe(3);
        expect(lines).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5', 'no newline']);
        expect(errors).toEqual(['warn']);
      });

      it('keeps multi-byte characters whole', async () => {
        const lines: string[] = [];
        const text = `${'żółć 🚀 日本 '.repeat(2000)}`;
        await transport.stream(['printf', '%s\\n%s\\n', text, 'end'], { onLine: (line) => lines.push(line) });
        expect(lines).toEqual([text, 'end']);
      });

      for (const shape of ['a simple command', 'a pipeline'] as const) {
        it(`ends the host-side process when aborted (${shape})`, async () => {
          const marker = `follow-${randomBytes(6).toString('hex')}.log`;
          const file = join(workDir, marker);
          await transport.writeFileAtomic(file, 'first line\n');
          const follow = shape === 'a simple command' ? ['tail', '-n', '+1', '-f', file] : undefined;
          const command = follow ?? { script: script(cmd(['tail', '-n', '+1', '-f', file]), op('|'), cmd(['cat'])) };
          const controller = new AbortController();
          const lines: string[] = [];
          const done = transport.stream(command, {
            signal: controller.signal,
            onLine: (line) => {
              lines.push(line);
              if (line === 'first line') controller.abort();
            },
          });
          // tail -f never ends by itself: only the abort can settle this.
          const result = await done;
          expect(result.code).toBeNull();
          expect(lines).toEqual(['first line']);
          // Only looking: the test never signals processes it finds.
          await waitFor(`no process left following ${marker}`, () => pidsWithCommandLine(marker).length === 0, { timeoutMs: 5_000 });
        });
      }
    });

    describe('files', () => {
      it('reads a missing file as null and binary content exactly', async () => {
        expect(await transport.readFile(join(workDir, 'no-such-file'))).toBeNull();
        expect(await transport.readFile(join(workDir, 'no-such-dir', 'file'))).toBeNull();
        const bytes = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
        await transport.writeFileAtomic(join(workDir, 'binary'), bytes);
        expect(await transport.readFile(join(workDir, 'binary'))).toEqual(bytes);
      });

      it('writeFileAtomic replaces content, sets the mode and leaves no temporary file', async () => {
        const dir = join(workDir, 'atomic dir');
        await transport.run(['mkdir', '-p', dir]);
        const path = join(dir, "config 'live'.conf");
        await transport.writeFileAtomic(path, 'first version\n', 0o600);
        expect((await transport.readFile(path))?.toString()).toBe('first version\n');
        expect((await transport.run(['stat', '-c', '%a', path])).stdout.trim()).toBe('600');
        await transport.writeFileAtomic(path, 'second\n', 0o640);
        expect((await transport.readFile(path))?.toString()).toBe('second\n');
        expect((await transport.run(['stat', '-c', '%a', path])).stdout.trim()).toBe('640');
        await transport.writeFileAtomic(path, 'third\n');
        expect((await transport.run(['stat', '-c', '%a', path])).stdout.trim()).toBe('644');
        const listing = await transport.run(['ls', '-A', dir]);
        expect(listing.stdout).toBe("config 'live'.conf\n");
      });
    });

    describe('uploadTree', () => {
      const oddNames = [
        'plain.txt',
        'with space.txt',
        `quote's "double".txt`,
        'new\nline.txt',
        '$(touch CANARY).txt',
        '`touch CANARY`.txt',
        '-leading-dash.txt',
        '--help',
        'żółć-🚀-日本.txt',
        'glob*?[x].txt',
      ];

      async function localFile(_name: string, content: string | Buffer): Promise<string> {
        const path = join(localDir, randomBytes(6).toString('hex'));
        await writeFile(path, content);
        await chmod(path, 0o644);
        return path;
      }

      it('creates the tree with odd names, modes, hard links and symlinks', async () => {
        const release1 = join(workDir, "releases/one 'blue'");
        const release2 = join(workDir, 'releases/two $(green)');
        await transport.run(['mkdir', '-p', join(workDir, 'releases')]);

        const big = randomBytes(3 * 1024 * 1024 + 17);
        const entries: UploadEntry[] = [
          { kind: 'dir', path: 'sub dir', mode: 0o750 },
          { kind: 'dir', path: 'sub dir/nested', mode: 0o755 },
          ...(await Promise.all(
            oddNames.map(async (name) => ({
              kind: 'file' as const,
              path: name,
              mode: 0o644,
              size: Buffer.byteLength(`content of ${name}`),
              localPath: await localFile(name, `content of ${name}`),
            })),
          )),
          { kind: 'file', path: 'run.sh', mode: 0o755, size: 10, localPath: await localFile('run.sh', '#!/bin/sh\n') },
          { kind: 'file', path: 'secret.env', mode: 0o600, size: 7, localPath: await localFile('secret.env', 'KEY=1\n\n') },
          { kind: 'file', path: 'empty', mode: 0o640, size: 0, localPath: await localFile('empty', '') },
          { kind: 'file', path: 'sub dir/nested/big.bin', mode: 0o644, size: big.length, localPath: await localFile('big', big) },
          { kind: 'file', path: 'implicit/parent/file.txt', mode: 0o644, size: 1, localPath: await localFile('x', 'x') },
          { kind: 'symlink', path: 'link to plain', target: 'plain.txt' },
          { kind: 'symlink', path: 'sub dir/up', target: '../with space.txt' },
        ];
        const progress: UploadProgress[] = [];
        await transport.run(['mkdir', '-p', release1]);
        await uploadTree(transport, release1, entries, { onProgress: (update) => progress.push(update) });

        const listing = await transport.run(['find', '.', '-mindepth', '1', '-printf', '%P\\0'], { cwd: release1 });
        const expected = [
          ...oddNames,
          'run.sh',
          'secret.env',
          'empty',
          'sub dir',
          'sub dir/nested',
          'sub dir/nested/big.bin',
          'implicit',
          'implicit/parent',
          'implicit/parent/file.txt',
          'link to plain',
          'sub dir/up',
        ];
        expect(listing.stdout.split('\0').slice(0, -1).sort()).toEqual(expected.sort());

        for (const name of oddNames) {
          expect((await transport.readFile(join(release1, name)))?.toString(), name).toBe(`content of ${name}`);
        }
        expect((await transport.readFile(join(release1, 'sub dir/nested/big.bin')))?.equals(big)).toBe(true);
        const modes = async (...paths: string[]) =>
          (await transport.run(['stat', '-c', '%a', '--', ...paths], { cwd: release1 })).stdout.trim().split('\n');
        expect(await modes('run.sh', 'secret.env', 'empty', 'sub dir', 'sub dir/nested', 'plain.txt')).toEqual([
          '755',
          '600',
          '640',
          '750',
          '755',
          '644',
        ]);
        expect((await transport.run(['readlink', '--', 'link to plain', 'sub dir/up'], { cwd: release1 })).stdout).toBe(
          'plain.txt\n../with space.txt\n',
        );
        expect((await transport.run(['cat', 'sub dir/up'], { cwd: release1 })).stdout).toBe('content of with space.txt');
        expect((await transport.run(['test', '-e', join(release1, 'CANARY')])).code).toBe(1);

        const last = progress.at(-1);
        const fileCount = entries.filter((entry) => entry.kind === 'file').length;
        expect(last).toEqual({
          filesDone: fileCount,
          filesTotal: fileCount,
          bytesDone: last?.bytesTotal,
          bytesTotal: entries.reduce((sum, entry) => sum + (entry.kind === 'file' ? entry.size : 0), 0),
        });
        expect(progress.every((update, index) => index === 0 || update.bytesDone >= (progress[index - 1]?.bytesDone ?? 0))).toBe(true);

        // The next release hard-links unchanged files from the previous one.
        await transport.run(['mkdir', '-p', release2]);
        await uploadTree(transport, release2, [
          { kind: 'link', path: 'with space.txt', mode: 0o644, size: 0, from: join(release1, 'with space.txt') },
          { kind: 'link', path: 'deep/$(touch CANARY).txt', mode: 0o644, size: 0, from: join(release1, '$(touch CANARY).txt') },
          { kind: 'link', path: 'new\nline.txt', mode: 0o644, size: 0, from: join(release1, 'new\nline.txt') },
        ]);
        for (const [from, to] of [
          ['with space.txt', 'with space.txt'],
          ['$(touch CANARY).txt', 'deep/$(touch CANARY).txt'],
          ['new\nline.txt', 'new\nline.txt'],
        ] as const) {
          const inodes = await transport.run(['stat', '-c', '%i', '--', join(release1, from), join(release2, to)]);
          const [first, second] = inodes.stdout.trim().split('\n');
          expect(first).toMatch(/^\d+$/);
          expect(second).toBe(first);
        }
        expect((await transport.run(['test', '-e', join(release2, 'CANARY')])).code).toBe(1);
      });

      /** What is under `root` on the host, read as bytes (find | base64) so names that are not UTF-8 come back exactly. */
      async function treeOnHost(
        root: string,
      ): Promise<Map<string, { type: string; mode: string; size: number; inode: string; target: string }>> {
        const listing = await transport.run({
          script: script(cmd(['find', root, '-mindepth', '1', '-printf', '%y %m %s %i %P\\0%l\\0']), op('| base64 -w0')),
        });
        expect(listing.code, listing.stderr).toBe(0);
        const fields = Buffer.from(listing.stdout, 'base64').toString('latin1').split('\0').slice(0, -1);
        const tree = new Map<string, { type: string; mode: string; size: number; inode: string; target: string }>();
        for (let index = 0; index < fields.length; index += 2) {
          const [type = '', mode = '', size = '', inode = ''] = (fields[index] as string).split(' ', 4);
          const path = (fields[index] as string).slice(type.length + mode.length + size.length + inode.length + 4);
          const decode = (text: string) => decodeFileName(Buffer.from(text, 'latin1'));
          tree.set(decode(path), { type, mode, size: Number(size), inode, target: decode(fields[index + 1] as string) });
        }
        return tree;
      }

      it('delivers names that are not UTF-8 byte for byte, into read-only folders too, as files, links and symlinks', async () => {
        // Latin-1 é and a lone 0xFF, held as surrogate escapes the way listSourceFiles reads them.
        const e9 = '\udce9';
        const ff = '\udcff';
        const root1 = join(workDir, 'bytes-one');
        const root2 = join(workDir, 'bytes-two');
        const localPath = join(localDir, `caf${e9}.txt`);
        await writeFile(fsPath(localPath), 'latin-1');
        await transport.run(['mkdir', '-p', root1, root2]);
        await uploadTree(transport, root1, [
          { kind: 'dir', path: `r${e9}p`, mode: 0o755 },
          { kind: 'dir', path: `r${e9}p/sub`, mode: 0o555 },
          { kind: 'dir', path: 'ro', mode: 0o555 },
          { kind: 'file', path: `caf${e9}.txt`, mode: 0o640, size: 7, localPath },
          { kind: 'file', path: `r${e9}p/sub/${ff}.bin`, mode: 0o644, size: 7, localPath },
          { kind: 'file', path: `ro/inner${e9}`, mode: 0o600, size: 7, localPath },
          { kind: 'symlink', path: 'to-latin1', target: `caf${e9}.txt` },
          { kind: 'symlink', path: `li${e9}n`, target: 'ro' },
        ]);
        const one = await treeOnHost(root1);
        const summary = (tree: typeof one) =>
          [...tree].map(([path, entry]) => `${entry.type} ${entry.mode} ${path}${entry.target === '' ? '' : ` -> ${entry.target}`}`).sort();
        expect(summary(one)).toEqual(
          [
            `d 555 r${e9}p/sub`,
            'd 555 ro',
            `d 755 r${e9}p`,
            `f 600 ro/inner${e9}`,
            `f 640 caf${e9}.txt`,
            `f 644 r${e9}p/sub/${ff}.bin`,
            `l 777 li${e9}n -> ro`,
            `l 777 to-latin1 -> caf${e9}.txt`,
          ].sort(),
        );
        expect([...one.values()].filter((entry) => entry.type === 'f').map((entry) => entry.size)).toEqual([7, 7, 7]);

        // A hard link from a release whose file name is not UTF-8, into a folder whose name is not either.
        await uploadTree(transport, root2, [
          { kind: 'link', path: `n${e9}w/caf${e9}.txt`, mode: 0o640, size: 7, from: join(root1, `caf${e9}.txt`) },
        ]);
        const two = await treeOnHost(root2);
        expect(two.get(`n${e9}w/caf${e9}.txt`)?.inode).toBe(one.get(`caf${e9}.txt`)?.inode);

        // Read-only folders do not stop a release from being removed.
        for (const root of [root1, root2]) {
          expect((await transport.run(removeTree(root))).code).toBe(0);
          expect((await transport.run(['test', '-e', root])).code).toBe(1);
        }
      });

      it('lists what arrived: size, links and mode of every file, sha256 of the sent ones (or of all)', async () => {
        const base = join(workDir, 'receipt-base');
        const next = join(workDir, 'receipt-next');
        await uploadTree(transport, base, [{ kind: 'file', path: 'a.txt', mode: 0o644, size: 3, localPath: await localFile('a', 'aaa') }]);
        const sent = await uploadTree(transport, next, [
          { kind: 'file', path: 'b.txt', mode: 0o640, size: 2, localPath: await localFile('b', 'bb') },
          { kind: 'link', path: 'a.txt', mode: 0o644, size: 3, from: join(base, 'a.txt') },
          { kind: 'data', path: 'meta/record.json', mode: 0o600, data: Buffer.from('{}\n') },
        ]);
        const sha = (text: string) => createHash('sha256').update(text).digest('hex');
        expect(Object.fromEntries(sent.files)).toEqual({
          'a.txt': { size: 3, links: 2, mode: 0o644, sha256: null },
          'b.txt': { size: 2, links: 1, mode: 0o640, sha256: sha('bb') },
          'meta/record.json': { size: 3, links: 1, mode: 0o600, sha256: sha('{}\n') },
        });
        const all = await uploadTree(
          transport,
          join(workDir, 'receipt-all'),
          [{ kind: 'link', path: 'a.txt', mode: 0o644, size: 3, from: join(base, 'a.txt') }],
          { hash: 'all' },
        );
        expect(all.files.get('a.txt')).toEqual({ size: 3, links: 3, mode: 0o644, sha256: sha('aaa') });
      });

      it('takes the write bits off every file when asked, linked ones included', async () => {
        const base = join(workDir, 'ro-base');
        await uploadTree(transport, base, [{ kind: 'file', path: 'a', mode: 0o664, size: 1, localPath: await localFile('a', 'a') }]);
        const next = await uploadTree(
          transport,
          join(workDir, 'ro-next'),
          [
            { kind: 'link', path: 'a', mode: 0o664, size: 1, from: join(base, 'a') },
            { kind: 'file', path: 'run.sh', mode: 0o755, size: 1, localPath: await localFile('r', 'r') },
          ],
          { readOnlyFiles: true },
        );
        expect(next.files.get('a')?.mode).toBe(0o444);
        expect(next.files.get('run.sh')?.mode).toBe(0o555);
        expect((await transport.run(['stat', '-c', '%a', join(base, 'a')])).stdout.trim()).toBe('444');
      });

      it('links unchanged files into read-only folders and folders whose names are not UTF-8', async () => {
        const e9 = '\udce9';
        const base = join(workDir, 'list-base');
        const entries: UploadEntry[] = [
          { kind: 'dir', path: 'ro', mode: 0o555 },
          { kind: 'dir', path: `ro/d${e9}`, mode: 0o500 },
          { kind: 'file', path: `ro/d${e9}/f${e9}.txt`, mode: 0o644, size: 4, localPath: await localFile('f', 'four') },
          { kind: 'file', path: '-n', mode: 0o644, size: 4, localPath: await localFile('n', 'dash') },
        ];
        await uploadTree(transport, base, entries);
        const linked = entries.map(
          (entry): UploadEntry =>
            entry.kind === 'file'
              ? { kind: 'link', path: entry.path, mode: entry.mode, size: entry.size, from: join(base, entry.path) }
              : entry,
        );
        const next = await uploadTree(transport, join(workDir, 'list-next'), linked);
        expect(next.files.get(`ro/d${e9}/f${e9}.txt`)).toMatchObject({ size: 4, links: 2 });
        expect(next.files.get('-n')).toMatchObject({ size: 4, links: 2 });
        const modes = await transport.run(
          { script: script(cmd(['find', '.', '-type', 'd', '-printf', '%m %P\\n']), op('| sort')) },
          {
            cwd: join(workDir, 'list-next'),
          },
        );
        expect(modes.stdout.split('\n').filter(Boolean)).toEqual(['555 ro', '500 ro/d\ufffd', '755 '].sort());
        // No scratch list left behind.
        expect([...next.files.keys()].filter((path) => path.includes('mcp-deploy-upload'))).toEqual([]);
        for (const root of ['list-base', 'list-next']) expect((await transport.run(removeTree(join(workDir, root)))).code).toBe(0);
      });

      it('sends a data file that has an earlier version on the host as a patch, rebuilt byte for byte', async () => {
        const earlier = Buffer.from(
          JSON.stringify(Array.from({ length: 500 }, (_, index) => ({ path: `f${index}`, sha256: randomBytes(32).toString('hex') }))),
        );
        const later = Buffer.from(earlier.toString().replace('"f7"', '"f7-renamed"'));
        const base = join(workDir, 'patch-base');
        await uploadTree(transport, base, [{ kind: 'data', path: 'm.json', mode: 0o644, data: earlier }]);
        const next = await uploadTree(transport, join(workDir, 'patch-next'), [
          { kind: 'data', path: 'm.json', mode: 0o644, data: later, patchFrom: { hostPath: join(base, 'm.json'), bytes: earlier } },
        ]);
        expect((await transport.readFile(join(workDir, 'patch-next', 'm.json')))?.equals(later)).toBe(true);
        expect(next.files.get('m.json')).toMatchObject({
          size: later.length,
          mode: 0o644,
          sha256: createHash('sha256').update(later).digest('hex'),
        });
        // Far smaller than the file, whose hashes do not compress.
        expect(next.archiveBytes).toBeLessThan(later.length / 4);
      });

      it('keeps a sparse file sparse', async () => {
        const local = join(localDir, 'sparse.bin');
        await writeFile(local, '');
        execFileSync('truncate', ['-s', '64M', local]);
        execFileSync('sh', ['-c', 'printf "in the middle" | dd of="$1" bs=1 seek=33554432 conv=notrunc status=none', 'sh', local]);
        const root = join(workDir, 'sparse');
        const sent = await uploadTree(transport, root, [
          { kind: 'file', path: 'sparse.bin', mode: 0o644, size: 64 * 1024 * 1024, localPath: local },
        ]);
        expect(sent.files.get('sparse.bin')?.sha256).toBe(
          createHash('sha256')
            .update(await readFile(local))
            .digest('hex'),
        );
        const allocated = Number(
          (await transport.run(['stat', '-c', '%b*%B', join(root, 'sparse.bin')])).stdout
            .trim()
            .split('*')
            .reduce((a, b) => String(Number(a) * Number(b))),
        );
        expect(allocated).toBeLessThan(1024 * 1024);
        expect(sent.archiveBytes).toBeLessThan(1024 * 1024);
      });

      it('refuses a file that is not the one that was hashed, naming it, and leaves no complete-looking tree', async () => {
        const local = await localFile('c', 'hashed bytes');
        const wrong = createHash('sha256').update('other bytes!').digest('hex');
        const root = join(workDir, 'changed');
        const error = await uploadTree(transport, root, [
          {
            kind: 'file',
            path: 'big-first.bin',
            mode: 0o644,
            size: 5 * 1024 * 1024,
            localPath: await localFile('big', randomBytes(5 * 1024 * 1024)),
          },
          { kind: 'file', path: 'data/changed.txt', mode: 0o644, size: 12, localPath: local, sha256: wrong },
        ]).catch((caught: unknown) => caught);
        expect(isDeployError(error)).toBe(true);
        expect((error as Error).message).toBe(
          'data/changed.txt changed after it was hashed (its bytes are not the ones that were hashed); it was not uploaded.',
        );
        const swapped = join(localDir, 'swapped');
        await writeFile(swapped, 'x');
        await rm(swapped);
        await symlink('/etc/hostname', swapped);
        const symlinked = await uploadTree(transport, join(workDir, 'changed-2'), [
          { kind: 'file', path: 'swapped', mode: 0o644, size: 1, localPath: swapped },
        ]).catch((caught: unknown) => caught);
        expect((symlinked as Error).message).toBe('swapped changed after it was hashed (it is now a symlink); it was not uploaded.');
        await rm(swapped);
      });

      it('stops when aborted', async () => {
        const controller = new AbortController();
        controller.abort();
        const root = join(workDir, 'aborted-upload');
        await expect(
          uploadTree(transport, root, [{ kind: 'file', path: 'a', mode: 0o644, size: 1, localPath: await localFile('a', 'a') }], {
            signal: controller.signal,
          }),
        ).rejects.toThrow();
        expect((await transport.run(['test', '-e', join(root, 'a')])).code).toBe(1);
      });
    });
  });
}

describe.skipIf(sshdSkip !== undefined)(`SshTransport only${sshdSkip ? ` (skipped: ${sshdSkip})` : ''}`, () => {
  let sshd: SshdHandle;
  let backend: Server | undefined;

  beforeAll(async () => {
    sshd = await startSshd();
  });

  afterAll(async () => {
    await sshd?.stop();
    await new Promise<void>((resolve) => (backend ? backend.close(() => resolve()) : resolve()));
  });

  it('names the host in its label', async () => {
    const transport = await connectSsh(connectOptionsFor(sshd));
    expect(transport.label).toBe(`${sshd.user}@127.0.0.1:${sshd.port}`);
    await transport.close();
    await transport.close(); // idempotent
    await expect(transport.run(['true'])).rejects.toMatchObject({ kind: 'unreachable' });
  });

  it('rejects pending calls with unreachable when the connection is cut', async () => {
    const transport = await connectSsh(connectOptionsFor(sshd));
    const seconds = `9.${randomBytes(3).readUIntBE(0, 3)}`;
    const running = transport.run(['sleep', seconds]);
    const streaming = transport.stream(['sleep', seconds], { onLine: () => {} });
    await waitFor('the sleeps to start', () => pidsWithCommandLine(`sleep ${seconds}`).length >= 2, { timeoutMs: 5_000 });
    sshd.killSessions();
    for (const pending of [running, streaming]) {
      const error = await (pending as Promise<unknown>).catch((caught: unknown) => caught);
      expect(isDeployError(error)).toBe(true);
      expect(error).toMatchObject({ kind: 'unreachable' });
      expect((error as Error).message).toContain(
        `Connection to ${sshd.user}@127.0.0.1:${sshd.port} was lost during the command sleep ${seconds}`,
      );
    }
    await expect(transport.readFile('/etc/hostname')).rejects.toMatchObject({ kind: 'unreachable' });
    await transport.close();
  });

  it('tunnels a local port to a port on the host', async () => {
    const transport = await connectSsh(connectOptionsFor(sshd));
    backend = createServer((_req, res) => res.end('through the tunnel'));
    await new Promise<void>((resolve) => backend!.listen(0, '127.0.0.1', resolve));
    const address = backend.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const tunnel = await transport.openTunnel(port);
    try {
      expect(tunnel.localPort).not.toBe(port);
      const response = await fetch(`http://127.0.0.1:${tunnel.localPort}/`);
      expect(await response.text()).toBe('through the tunnel');
    } finally {
      await tunnel.close();
      await transport.close();
    }
  });

  it('keeps uploads working when the mode would be masked by a umask', async () => {
    const transport = await connectSsh(connectOptionsFor(sshd));
    try {
      const dir = join(sshd.workDir, 'umask');
      const local = await mkdtemp(join(tmpdir(), 'mcpd-umask-'));
      await mkdir(local, { recursive: true });
      await writeFile(join(local, 'f'), 'x');
      await uploadTree(transport, dir, [
        { kind: 'dir', path: 'open', mode: 0o777 },
        { kind: 'file', path: 'open/f', mode: 0o666, size: 1, localPath: join(local, 'f') },
      ]);
      expect((await transport.run(['stat', '-c', '%a', 'open', 'open/f'], { cwd: dir })).stdout).toBe('777\n666\n');
      await rm(local, { recursive: true, force: true });
    } finally {
      await transport.close();
    }
  });
});

/**
 * The watchdog alone, without sshd: OpenSSH 9 honours our TERM signal request, so the SSH tests
 * above would pass even if the watchdog were broken. Older servers ignore signal requests and
 * rely on it. `detached` gives the shell its own session, as sshd does.
 */
describe('stdin watchdog', () => {
  function start(composed: string) {
    const child = spawn('sh', ['-c', withStdinWatchdog(composed)], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    return { child, ended, stdout: () => stdout };
  }

  it('passes the exit status on without waiting for stdin to close', async () => {
    const run = start(composeCommand({ script: 'echo hi; exit 5' }));
    const result = await run.ended;
    expect(result).toEqual({ code: 5, signal: null });
    expect(run.stdout()).toBe('hi\n');
    run.child.stdin.destroy();
  });

  it('leaves signal dispositions as a plain shell has them', async () => {
    const report = composeCommand(['awk', '/^SigIgn/ { print $2 }', '/proc/self/status']);
    const plain = execFileSync('sh', ['-c', report], { encoding: 'utf8' });
    const run = start(report);
    expect(await run.ended).toEqual({ code: 0, signal: null });
    expect(run.stdout()).toBe(plain);
    run.child.stdin.destroy();
  });

  it('passes on the status of a script that calls exit, and dismisses the watchdog', async () => {
    const marker = `exit-${randomBytes(6).toString('hex')}`;
    const run = start(composeCommand({ script: `: ${marker}; exit 9` }));
    expect(await run.ended).toEqual({ code: 9, signal: null });
    await waitFor('the watchdog to be dismissed', () => pidsWithCommandLine(marker).length === 0, { timeoutMs: 5_000 });
    run.child.stdin.destroy();
  });

  it('gives the command an empty stdin, even when the channel carries data', async () => {
    const run = start(composeCommand(['cat']));
    // The command may have ended before the write lands (that is the point): its EPIPE is expected.
    run.child.stdin.on('error', () => {});
    run.child.stdin.write('not for the command\n');
    expect(await run.ended).toEqual({ code: 0, signal: null });
    expect(run.stdout()).toBe('');
    run.child.stdin.destroy();
  });

  it('ends the whole command when stdin closes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpd-watchdog-'));
    const marker = `watchdog-${randomBytes(6).toString('hex')}.log`;
    await writeFile(join(dir, marker), 'line\n');
    try {
      const run = start(composeCommand({ script: script(cmd(['tail', '-f', join(dir, marker)]), op('|'), cmd(['cat'])) }));
      await waitFor('tail to start', () => run.stdout() === 'line\n');
      expect(pidsWithCommandLine(marker).length).toBeGreaterThan(0);
      run.child.stdin.end();
      const result = await run.ended;
      expect(result.code === null ? result.signal : result.code).toBe('SIGTERM');
      await waitFor(`no process left following ${marker}`, () => pidsWithCommandLine(marker).length === 0, { timeoutMs: 5_000 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
