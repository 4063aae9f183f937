import { randomBytes } from 'node:crypto';
import { DeployError } from '../errors.js';
import { lockCheckFailure, lockCheckMarker, withLockCheck, type LockStatus } from '../host/lock.js';
import type { HostLayout } from '../host/layout.js';
import type { StaleOptions } from '../host/lock-status.js';
import { writeFileAtomicCommand } from '../remote/file-commands.js';
import type { RemoteCommand, RunOptions, RunResult, Transport } from '../remote/transport.js';
import type { StepId } from '../run/step-ids.js';

/**
 * The session's transport, through which a step that changes the host has its lock re-checked
 * without a round trip of its own. The step runner's guard only arms the check (`arm`); the
 * first commands the step then sends carry it (withLockCheck: the host confirms the token in the
 * same shell, just before the command), until one of them comes back with the lock confirmed.
 * Reads of single files and tunnels change nothing and pass as they are.
 */
export type LockGate = {
  /** The step whose check is still to be made, or null. */
  armed(): StepId | null;
  /** The error to throw when the lock is known to be lost already; null while it is not. */
  knownLost(step: StepId): DeployError | null;
  /** The check was made and the lock is ours: commands go as they are again. */
  confirmed(step: StepId): void;
  /** The check found the lock lost: records what holds it now, returns the error to throw. */
  found(step: StepId, now: LockStatus): DeployError;
};

export function lockGuardedTransport(inner: Transport, layout: HostLayout, token: string, stale: StaleOptions, gate: LockGate): Transport {
  const run = async (remote: RemoteCommand, options?: RunOptions): Promise<RunResult> => {
    const step = gate.armed();
    if (step === null) return inner.run(remote, options);
    // Already known lost: nothing more goes to the host in this step.
    const known = gate.knownLost(step);
    if (known !== null) throw known;
    const result = await inner.run(withLockCheck(layout, token, remote), options);
    const now = lockCheckFailure(result, stale);
    if (now !== null) throw gate.found(step, now);
    gate.confirmed(step);
    return result;
  };
  return {
    label: inner.label,
    run,
    stream: async (remote, options) => {
      const step = gate.armed();
      if (step === null) return inner.stream(remote, options);
      const known = gate.knownLost(step);
      if (known !== null) throw known;
      // The check's answer, when the lock is lost, is the first line on stdout: kept from the
      // caller, who sees the command's own lines only.
      let first = true;
      let report: string[] | null = null;
      const ended = await inner.stream(withLockCheck(layout, token, remote), {
        ...options,
        onLine: (line, from) => {
          if (from === 'stdout' && first) {
            first = false;
            if (line === lockCheckMarker) {
              report = [line];
              return;
            }
          }
          if (from === 'stdout' && report !== null) report.push(line);
          else options.onLine(line, from);
        },
      });
      const kept = report as string[] | null;
      if (kept !== null) {
        const now = lockCheckFailure(
          { code: ended.code ?? -1, stdout: `${kept.join('\n')}\n`, stderr: '', stdoutBytes: Buffer.alloc(0) },
          stale,
        );
        if (now !== null) throw gate.found(step, now);
        // Not the check's answer after all: the caller gets its lines, late.
        for (const line of kept) options.onLine(line, 'stdout');
      }
      gate.confirmed(step);
      return ended;
    },
    readFile: (path) => inner.readFile(path),
    writeFileAtomic: async (path, data, mode = 0o644) => {
      if (gate.armed() === null) return inner.writeFileAtomic(path, data, mode);
      // The same command the SSH transport writes with, so that it can carry the check.
      const temporary = `${path}.tmp-${randomBytes(6).toString('hex')}`;
      const result = await run(writeFileAtomicCommand(path, temporary, mode), { input: data });
      if (result.code !== 0)
        throw new DeployError('host-state', `Could not write ${path} on ${inner.label} (exit ${result.code}): ${result.stderr.trim()}`, {
          hint: 'Check the free space and the permissions under the deploy root: mcp-deploy doctor checks both.',
        });
    },
    openTunnel: (port) => inner.openTunnel(port),
    close: () => inner.close(),
  };
}
