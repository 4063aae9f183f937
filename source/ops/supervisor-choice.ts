import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { applyEdits, modify } from 'jsonc-parser';
import type { Target } from '../config/load.js';
import { parseConfig } from '../config/load.js';
import { DeployError, describeError } from '../errors.js';
import type { Transport } from '../remote/transport.js';

/**
 * Which supervisor a target should use, decided by the host: systemd when the host runs it (each
 * colour a unit, enabled while it serves, so the server comes back after a reboot; a process
 * group does not).
 */

export type SupervisorChange = {
  readonly from: Target['supervisor'];
  readonly to: Target['supervisor'];
  readonly why: string;
};

/** sd_booted(3)'s own test: /run/systemd/system exists only when systemd is the running init. */
export async function hostRunsSystemd(transport: Transport): Promise<boolean> {
  const result = await transport.run({ script: '[ -d /run/systemd/system ] && command -v systemctl >/dev/null' }, { timeoutMs: 15_000 });
  return result.code === 0;
}

/**
 * The move to systemd, on a host that runs it, for a target on the process supervisor. (The other
 * way round, a systemd target on a host without systemd, doctor fails with the fix.)
 */
export function supervisorChange(target: Pick<Target, 'supervisor'>, runsSystemd: boolean): SupervisorChange | null {
  if (!runsSystemd || target.supervisor !== 'process') return null;
  return {
    from: 'process',
    to: 'systemd',
    why: 'this host runs systemd: a unit per colour, enabled while it serves, comes back after a reboot (a process group does not)',
  };
}

/**
 * Sets `targets.<name>.supervisor` in the config file, keeping its comments and layout (a JSONC
 * edit, not a rewrite), after checking the result still loads; written through a rename.
 */
export function writeSupervisor(file: string, targetName: string, supervisor: Target['supervisor']): void {
  const text = readFileSync(file, 'utf8');
  const edited = applyEdits(
    text,
    modify(text, ['targets', targetName, 'supervisor'], supervisor, { formattingOptions: { insertSpaces: true, tabSize: 2 } }),
  );
  try {
    parseConfig(edited, file, process.env);
  } catch (error) {
    throw new DeployError(
      'config',
      `Setting targets.${targetName}.supervisor in ${file} would leave it unreadable: ${describeError(error)}`,
      {
        hint: `Set "supervisor": "${supervisor}" in the target by hand.`,
      },
    );
  }
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, edited);
    renameSync(temporary, file);
  } finally {
    rmSync(temporary, { force: true });
  }
}
