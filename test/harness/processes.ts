import { readdirSync, readFileSync } from 'node:fs';

/**
 * Read-only views of /proc, for finding the processes a harness server started and for tests
 * that check a remote command really ended. Nothing here sends signals.
 */

/** PIDs whose parent is `parentPid`, from /proc/<pid>/stat. */
export function childPids(parentPid: number): number[] {
  const children: number[] = [];
  for (const pid of allPids()) {
    const stat = readProc(pid, 'stat');
    if (stat === undefined) continue;
    // The command name (field 2) is in parentheses and may hold spaces: parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === parentPid) children.push(pid);
  }
  return children;
}

/** PIDs whose command line (arguments joined by spaces) contains `marker`. */
export function pidsWithCommandLine(marker: string): number[] {
  const found: number[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    const cmdline = readProc(pid, 'cmdline');
    if (cmdline?.replaceAll('\0', ' ').includes(marker)) found.push(pid);
  }
  return found;
}

/** The kernel's short name of a process (/proc/<pid>/comm), or undefined when it is gone. */
export function commandName(pid: number): string | undefined {
  return readProc(pid, 'comm')?.trim();
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    // gone between listing and reading, or not ours to read
    return undefined;
  }
}
