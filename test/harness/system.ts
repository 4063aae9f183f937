import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** Small helpers for the harness's own setup commands (ssh-keygen, useradd, getent). */

export type ExecResult = { code: number; stdout: string; stderr: string };

/** Runs a program (no shell) and never throws for a non-zero exit; bounded by `timeoutMs`. */
export function exec(file: string, args: readonly string[], timeoutMs = 30_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 127;
      resolve({ code, stdout, stderr: stderr || (error && typeof error.code !== 'number' ? error.message : '') });
    });
  });
}

/** Like exec, but throws with the program's stderr when it fails. */
export async function execChecked(file: string, args: readonly string[], timeoutMs = 30_000): Promise<string> {
  const result = await exec(file, args, timeoutMs);
  if (result.code !== 0) {
    throw new Error(`${file} ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
  }
  return result.stdout;
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export const isRoot = (): boolean => process.getuid?.() === 0;

export type Account = { name: string; uid: number; gid: number; home: string; shell: string };

/** The passwd entry of `name`, or undefined when there is no such user. */
export async function lookupAccount(name: string): Promise<Account | undefined> {
  const result = await exec('getent', ['passwd', name]);
  if (result.code !== 0) return undefined;
  const [user, , uid, gid, , home, shell] = result.stdout.trim().split(':');
  if (user === undefined || home === undefined || shell === undefined) return undefined;
  return { name: user, uid: Number(uid), gid: Number(gid), home, shell };
}
