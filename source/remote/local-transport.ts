import { spawn } from 'node:child_process';
import { chmod, copyFile, link, mkdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fsPath } from '../project/file-names.js';
import { composeCommand } from './compose.js';
import {
  commandTimedOut,
  type RemoteCommand,
  type RunOptions,
  type RunResult,
  type StreamOptions,
  type Transport,
  type Tunnel,
  type UploadEntry,
  type UploadOptions,
} from './transport.js';
import { splitLines } from './lines.js';

/**
 * The host is this machine: the sandbox target and fast tests. Commands go through `sh -c` with
 * the same composed text the SSH transport sends, so quoting behaves identically.
 */
export class LocalTransport implements Transport {
  readonly label = 'local';

  async run(remote: RemoteCommand, options: RunOptions = {}): Promise<RunResult> {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const code = await this.#spawn(
      remote,
      options,
      (chunk) => stdout.push(chunk),
      (chunk) => stderr.push(chunk),
    );
    // As over SSH: a command that did not exit on its own reports 255.
    return { code: code ?? 255, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') };
  }

  async stream(remote: RemoteCommand, options: StreamOptions): Promise<{ code: number | null }> {
    const out = splitLines((line) => options.onLine(line, 'stdout'));
    const err = splitLines((line) => options.onLine(line, 'stderr'));
    const code = await this.#spawn(remote, options, out.push, err.push);
    out.end();
    err.end();
    return { code };
  }

  /**
   * The exit code, or null when the command was ended by an abort. The same contract as the SSH
   * transport (transport-contract.test.ts): a timeout throws DeployError('timeout'), and a signal
   * that is already aborted runs nothing.
   */
  #spawn(
    remote: RemoteCommand,
    options: RunOptions,
    onStdout: (chunk: Buffer) => void,
    onStderr: (chunk: Buffer) => void,
  ): Promise<number | null> {
    if (options.signal?.aborted) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      // detached: the command gets its own process group, so a timeout or abort ends the whole
      // pipeline it started, not just the shell.
      const child = spawn('sh', ['-c', composeCommand(remote, options)], {
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      });
      let ended: 'timeout' | 'aborted' | undefined;
      const killGroup = (why: 'timeout' | 'aborted') => {
        ended ??= why;
        if (child.pid !== undefined && child.exitCode === null) {
          try {
            process.kill(-child.pid, 'SIGTERM');
          } catch {
            // already gone
          }
        }
      };
      const onAbort = () => killGroup('aborted');
      const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => killGroup('timeout'), options.timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', onStdout);
      child.stderr.on('data', onStderr);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (ended === 'timeout') reject(commandTimedOut(options.timeoutMs ?? 0));
        else resolve(code ?? (signal ? null : 0));
      });
      child.stdin.on('error', () => {
        // the command may exit without reading its input
      });
      child.stdin.end(options.input ?? '');
    });
  }

  async uploadTree(remoteRoot: string, entries: readonly UploadEntry[], options: UploadOptions = {}): Promise<void> {
    await mkdir(remoteRoot, { recursive: true });
    const files = entries.filter((entry) => entry.kind === 'file' || entry.kind === 'link');
    const filesTotal = files.length;
    const bytesTotal = entries.reduce((sum, entry) => sum + (entry.kind === 'file' ? entry.size : 0), 0);
    let filesDone = 0;
    let bytesDone = 0;
    // Paths go to node:fs as bytes when they are not UTF-8 (file-names.ts), so every name arrives as it was.
    const at = (path: string) => fsPath(join(remoteRoot, path));
    const parentOf = (path: string) => fsPath(dirname(join(remoteRoot, path)));
    const dirModes: { path: string; mode: number }[] = [];
    for (const entry of entries) {
      options.signal?.throwIfAborted();
      switch (entry.kind) {
        case 'dir':
          // Owner-writable while the tree fills; the real mode is set at the end.
          await mkdir(at(entry.path), { recursive: true, mode: entry.mode | 0o700 });
          dirModes.push({ path: entry.path, mode: entry.mode });
          break;
        case 'file':
          await mkdir(parentOf(entry.path), { recursive: true });
          await copyFile(fsPath(entry.localPath), at(entry.path));
          await chmod(at(entry.path), entry.mode);
          filesDone += 1;
          bytesDone += entry.size;
          break;
        case 'link':
          await mkdir(parentOf(entry.path), { recursive: true });
          await link(fsPath(entry.from), at(entry.path));
          filesDone += 1;
          break;
        case 'symlink':
          await mkdir(parentOf(entry.path), { recursive: true });
          await symlink(fsPath(entry.target), at(entry.path));
          break;
      }
      if (entry.kind === 'file' || entry.kind === 'link') options.onProgress?.({ filesDone, filesTotal, bytesDone, bytesTotal });
    }
    // Deepest first: a directory without search permission must not hide the ones below it.
    for (const dir of dirModes.sort((a, b) => b.path.split('/').length - a.path.split('/').length)) await chmod(at(dir.path), dir.mode);
  }

  async readFile(remotePath: string): Promise<Buffer | null> {
    try {
      return await readFile(remotePath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async writeFileAtomic(remotePath: string, data: string | Buffer, mode = 0o644): Promise<void> {
    const temporary = `${remotePath}.tmp-${randomBytes(6).toString('hex')}`;
    await writeFile(temporary, data, { mode });
    await chmod(temporary, mode);
    await rename(temporary, remotePath);
  }

  async openTunnel(remotePort: number): Promise<Tunnel> {
    return { localPort: remotePort, close: async () => {} };
  }

  async close(): Promise<void> {
    // nothing held open
  }
}
