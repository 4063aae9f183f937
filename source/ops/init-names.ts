import { basename, posix, sep } from 'node:path';
import { execa } from 'execa';
import { appName } from '../config/schema.js';

/** Folder names that say nothing about the app (`src/server.py` should not name it "src"). */
const genericNames = new Set(['src', 'server', 'servers', 'app', 'apps', 'mcp', 'backend', 'python', 'service', 'api', 'lib']);

/** How `init` names the app: from the server's folder, the repository, or this folder. */

/** `origin`'s URL, or null outside a repository, without a remote, or without git at all. */
export async function readGitRemote(root: string): Promise<string | null> {
  try {
    const result = await execa('git', ['remote', 'get-url', 'origin'], { cwd: root, reject: false, timeout: 5_000, stdin: 'ignore' });
    const url = result.exitCode === 0 ? String(result.stdout).trim() : '';
    return url === '' ? null : redactRemote(url);
  } catch {
    return null;
  }
}

/** `https://user:token@host/x` → `https://host/x`: a remote may carry a token, which is never shown. */
export function redactRemote(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

/** A name the `app` key accepts, made from anything (a folder, a repository), or null. */
export function sanitizeAppName(raw: string): string | null {
  const cleaned = raw
    .toLowerCase()
    .replace(/\.git$/, '')
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 63)
    .replace(/[-_.]+$/, '');
  return cleaned !== '' && appName.safeParse(cleaned).success ? cleaned : null;
}

export function suggestAppName(root: string, serverFolder: string | null, gitRemote: string | null): { app: string; appReason: string } {
  const folderName = serverFolder === null ? null : appNameForFolder(serverFolder);
  const repoName = gitRemote ? (/([^/:]+?)(\.git)?\/?$/.exec(gitRemote)?.[1] ?? null) : null;
  const choices: [string | null, string][] = [
    [folderName, `the server's folder, ${serverFolder}/`],
    [repoName, `the repository's name, ${repoName}`],
    [basename(root), `this folder's name, ${basename(root)}`],
  ];
  for (const [raw, reason] of choices) {
    const name = raw === null ? null : sanitizeAppName(raw);
    if (name !== null) return { app: name, appReason: `from ${reason}` };
  }
  return { app: 'mcp-server', appReason: 'a default: nothing here made a usable name' };
}

/** An app name from a server folder's own name, unless the name is a generic one (`src`, `server`). */
export function appNameForFolder(folder: string): string | null {
  const name = posix.basename(toPosix(folder));
  if (folder === '.' || name === '' || name === '..' || genericNames.has(name.toLowerCase())) return null;
  return sanitizeAppName(name);
}

function toPosix(path: string): string {
  return path.split(sep).join('/');
}
